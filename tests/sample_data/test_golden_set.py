"""The golden set in include/sample_data/golden: readable by the DAG's reader, and the mix it claims.

The labels are hand-written, so these tests cannot check that they are right; they check what a
slip of the pen would break: a line the pipeline would reject, a ticket outside its day, a duplicate
id, a tag that contradicts its label (a "calm P0" labelled P2), PII labelled false on a ticket that
carries an e-mail address, or a personal value that is not one of the reserved fake ones.
"""

from __future__ import annotations

import collections
import datetime as dt
import filecmp
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from llm_operators.core.taxonomy import Category, Priority
from llm_operators.core.ticket import Ticket
from llm_operators.core.ticket_source import DayRead, read_day

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "include" / "sample_data" / "golden"
SAMPLE = ROOT / "include" / "sample_data" / "tickets"
BUILDER = GOLDEN / "build_golden.py"

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})")
PHONE_RE = re.compile(r"(?<![\w.+-])(?:\+\d{1,3}[ -]\d[\d -]{6,14}\d|\d{3}-\d{3}-\d{4})(?![\w-])")
CARD_RE = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
IBAN_RE = re.compile(
    r"\b(?:AT|BE|CH|DE|ES|FR|GB|IE|IT|NL|PT)\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b"
)
IPV4_RE = re.compile(r"(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# Personal data that has no single shape: postal addresses, national ids, dates of birth.
OTHER_PII_RE = re.compile(
    r"\d+ [A-Z][a-z]+ (?:Street|St|Lane|Road|Blvd|Ave)\b|Calle |Unit \d+|\bDOB\b"
    r"|\b\d{3}\.\d{3}\.\d{3}-\d{2}\b|\b\d{8}[A-Z]\b"
)

# Reserved for examples: RFC 2606 / RFC 6761 names, RFC 5737 addresses, card networks' test numbers.
FAKE_EMAIL_DOMAIN_RE = re.compile(
    r"(?:^|\.)(?:example(?:\.[a-z]{2,3}){1,2}|[a-z0-9-]+\.example|[a-z0-9-]+\.test)$"
)
TEST_CARDS = {
    "4111111111111111",
    "4242424242424242",
    "5555555555554444",
    "378282246310005",
    "6011111111111117",
}
DOC_NETS = ("192.0.2.", "198.51.100.", "203.0.113.")
EMPTY_SUBJECTS = {"(no subject)", "-", "Re:", "?"}


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_golden", BUILDER)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def builder():
    return _load_builder()


@pytest.fixture(scope="module")
def day_files() -> list[Path]:
    return sorted(GOLDEN.glob("????-??-??.jsonl"))


@pytest.fixture(scope="module")
def tickets(day_files) -> list[Ticket]:
    out: list[Ticket] = []
    for path in day_files:
        day = dt.date.fromisoformat(path.stem)
        stats = DayRead(source=str(path))
        items = list(read_day(GOLDEN, day, stats))
        rejected = [i.describe() for i in items if not isinstance(i, Ticket)]
        assert rejected == [], rejected
        assert stats.tickets == stats.lines == len(path.read_text(encoding="utf-8").splitlines())
        out.extend(items)
    return out


@pytest.fixture(scope="module")
def tags() -> dict[str, list[str]]:
    return json.loads((GOLDEN / "tags.json").read_text(encoding="utf-8"))


def _text(t: Ticket) -> str:
    return f"{t.subject}\n{t.body}"


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _iban_ok(iban: str) -> bool:
    s = iban.replace(" ", "")
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _public_ips(text: str) -> list[str]:
    found = []
    for m in IPV4_RE.finditer(text):
        a, b = int(m[1]), int(m[2])
        private = a in (10, 127) or (a == 192 and b == 168) or (a == 172 and 16 <= b <= 31)
        if not private:
            found.append(m[0])
    return found


def _pii_hits(text: str) -> list[str]:
    hits = [m[0] for m in EMAIL_RE.finditer(text)]
    hits += PHONE_RE.findall(text)
    hits += [m[0] for m in CARD_RE.finditer(text) if _luhn_ok(re.sub(r"\D", "", m[0]))]
    hits += IBAN_RE.findall(text)
    hits += _public_ips(text)
    hits += OTHER_PII_RE.findall(text)
    return hits


def test_day_files_lie_outside_the_sample_range(day_files):
    names = [p.name for p in day_files]
    assert len(names) >= 3
    assert not set(names) & {p.name for p in SAMPLE.glob("*.jsonl")}
    days = [dt.date.fromisoformat(p.stem) for p in day_files]
    assert days == [days[0] + dt.timedelta(days=i) for i in range(len(days))], "days must be consecutive"


def test_every_line_is_a_labelled_ticket_in_its_utc_day(day_files):
    total = 0
    for path in day_files:
        day = dt.date.fromisoformat(path.stem)
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            ticket = Ticket.model_validate_json(line)
            assert ticket.labels is not None, f"{path.name}:{n} has no labels"
            assert ticket.created_at.astimezone(dt.UTC).date() == day, f"{path.name}:{n} outside its day"
            assert ticket.id.startswith(f"G-{day:%Y%m%d}-"), f"{path.name}:{n} id {ticket.id}"
            total += 1
    assert total >= 300


def test_the_dag_reader_accepts_every_line(tickets):
    assert len(tickets) >= 300
    ids = [t.id for t in tickets]
    assert len(ids) == len(set(ids)), [i for i, c in collections.Counter(ids).items() if c > 1]


def test_day_files_are_sorted_by_utc_instant(day_files):
    for path in day_files:
        stamps = [
            Ticket.model_validate_json(line).created_at
            for line in path.read_text(encoding="utf-8").splitlines()
        ]
        assert stamps == sorted(stamps), path.name


def test_tags_cover_exactly_the_tickets_and_use_the_vocabulary(tickets, tags, builder):
    assert set(tags) == {t.id for t in tickets}
    for ticket_id, ticket_tags in tags.items():
        langs = [t for t in ticket_tags if t.startswith("lang:")]
        assert len(langs) == 1, f"{ticket_id}: {langs}"
        assert langs[0][5:] in builder.LANGUAGES
        unknown = [t for t in ticket_tags if not t.startswith("lang:") and t not in builder.TAGS]
        assert unknown == [], f"{ticket_id}: {unknown}"
        assert len(ticket_tags) == len(set(ticket_tags)), ticket_id


def test_mix_covers_every_category_priority_and_language(tickets, tags):
    labels = [t.labels for t in tickets]
    assert {lab.category for lab in labels} == set(Category)
    assert {lab.priority for lab in labels} == set(Priority)
    per_priority = collections.Counter(lab.priority for lab in labels)
    assert all(per_priority[p] >= 20 for p in Priority), per_priority
    langs = collections.Counter(tag[5:] for ts in tags.values() for tag in ts if tag.startswith("lang:"))
    for lang in ("de", "es", "fr"):
        assert langs[lang] >= 15, langs
    for lang in ("pt", "it"):
        assert langs[lang] >= 5, langs
    assert langs["en"] < 0.8 * len(tickets), "at least a fifth of the set is not in English"
    assert 0.2 < sum(lab.needs_human for lab in labels) / len(labels) < 0.8
    assert sum(lab.pii for lab in labels) >= 25


def test_difficulty_tags_agree_with_labels(tickets, tags):
    by_id = {t.id: t for t in tickets}

    def tagged(name: str) -> list[Ticket]:
        return [by_id[i] for i, ts in tags.items() if name in ts]

    calm = tagged("calm_critical")
    assert len(calm) >= 15
    assert [t.id for t in calm if not t.labels.priority.pages_engineering] == []
    angry_low = tagged("angry_low_priority")
    assert len(angry_low) >= 15
    assert [t.id for t in angry_low if t.labels.priority.pages_engineering] == []
    injections = tagged("prompt_injection")
    assert len(injections) >= 5
    assert [t.id for t in injections if not t.labels.needs_human] == [], "an injection attempt needs a human"
    incidents = tagged("outage") + tagged("data_loss") + tagged("security_incident")
    assert [t.id for t in incidents if not t.labels.needs_human] == [], "incidents need a human"
    for name in ("disguised_feature_request",):
        assert all(t.labels.category in (Category.FEATURE_REQUEST,) for t in tagged(name)), name
    for name, minimum in {
        "two_problems": 15,
        "forwarded_thread": 8,
        "quoted_history": 8,
        "long_log": 10,
        "sarcasm": 10,
        "vague": 10,
        "empty_subject": 5,
        "billing_dispute": 10,
        "shipping_issue": 10,
        "account_lockout": 10,
    }.items():
        assert len(tagged(name)) >= minimum, name
    long_logs = tagged("long_log")
    assert min(len(t.body) for t in long_logs) > 500


def test_empty_subject_tag_matches_placeholder_subjects(tickets, tags):
    """The Ticket model refuses an empty subject, so the set uses what helpdesks export instead."""
    for t in tickets:
        assert (t.subject in EMPTY_SUBJECTS) == ("empty_subject" in tags[t.id]), t.id


def test_pii_label_matches_the_text(tickets):
    unlabelled = {t.id: _pii_hits(_text(t)) for t in tickets if not t.labels.pii and _pii_hits(_text(t))}
    assert unlabelled == {}, "personal data in tickets labelled pii=false"
    missed = [t.id for t in tickets if t.labels.pii and not _pii_hits(_text(t))]
    assert missed == [], "pii=true but no personal data found"


def test_personal_values_are_reserved_fakes(tickets):
    for t in tickets:
        text = _text(t)
        for m in EMAIL_RE.finditer(text):
            assert FAKE_EMAIL_DOMAIN_RE.search(m[1].lower()), f"{t.id}: {m[0]}"
        for m in CARD_RE.finditer(text):
            digits = re.sub(r"\D", "", m[0])
            if _luhn_ok(digits):
                assert digits in TEST_CARDS, f"{t.id}: {m[0]}"
        for iban in IBAN_RE.findall(text):
            assert _iban_ok(iban), f"{t.id}: {iban} is not well formed"
        for ip in _public_ips(text):
            assert ip.startswith(DOC_NETS), f"{t.id}: {ip}"
        for phone in PHONE_RE.findall(text):
            digits = re.sub(r"\D", "", phone)
            assert "555" in digits or digits.startswith(("44770090", "3319900")), f"{t.id}: {phone}"


def test_builder_reproduces_the_committed_files(builder, tmp_path, day_files):
    days, tags = builder.build(builder.load_records())
    builder.render(tmp_path, days, tags)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted([p.name for p in day_files] + ["tags.json"])
    _match, mismatch, errors = filecmp.cmpfiles(tmp_path, GOLDEN, written, shallow=False)
    assert mismatch == [] and errors == [], "regenerate with include/sample_data/golden/build_golden.py"


def test_builder_names_the_source_line_of_a_bad_record(builder, tmp_path):
    src = tmp_path / "bad.txt"
    src.write_text("### technical P9 human=y pii=n lang=en tags=\nSubject: x\nbody\n", encoding="utf-8")
    with pytest.raises(builder.SourceError, match=r"bad.txt:1: unknown priority 'P9'"):
        builder.parse_source(src)
