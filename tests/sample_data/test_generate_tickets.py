"""Tests for include/sample_data/generate_tickets.py and the committed sample tickets."""

from __future__ import annotations

import collections
import datetime as dt
import importlib.util
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "include" / "sample_data" / "generate_tickets.py"
COMMITTED = ROOT / "include" / "sample_data" / "tickets"

FIRST_DAY = dt.date(2025, 9, 1)
EXPECTED_NAMES = [f"{FIRST_DAY + dt.timedelta(days=i)}.jsonl" for i in range(90)]
FIELDS = ["id", "created_at", "customer", "channel", "subject", "body", "labels"]
LABEL_FIELDS = ["category", "priority", "needs_human", "pii"]
CATEGORIES = {"billing", "technical", "account", "shipping", "feature_request", "other"}
PRIORITIES = {"P0", "P1", "P2", "P3"}
CHANNELS = {"email", "chat", "web", "phone"}

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE_RE = re.compile(r"\+\d{1,3}[ -]\d{1,4}[ -]\d{3,4}[ -]\d{3,4}\b")
CARD_RE = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
INJECTION_RE = re.compile(
    r"ignore (?:all |your |the )?(?:previous|prior|above) instructions"
    r"|system prompt|developer mode",
    re.IGNORECASE,
)


def _load_generator():
    spec = importlib.util.spec_from_file_location("generate_tickets", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


@pytest.fixture(scope="module")
def gen():
    return _load_generator()


@pytest.fixture(scope="module")
def committed() -> dict[str, list[str]]:
    """File name -> raw lines (without the newline) of the committed sample set."""
    return {
        path.name: path.read_text(encoding="utf-8").splitlines() for path in sorted(COMMITTED.glob("*.jsonl"))
    }


@pytest.fixture(scope="module")
def tickets(committed) -> list[tuple[str, dict]]:
    return [(name, json.loads(line)) for name, lines in committed.items() for line in lines]


def test_regeneration_is_byte_identical_to_committed(gen, tmp_path):
    paths = gen.write_days(tmp_path)
    assert sorted(p.name for p in paths) == EXPECTED_NAMES
    assert sorted(p.name for p in tmp_path.iterdir()) == EXPECTED_NAMES
    for name in EXPECTED_NAMES:
        assert (tmp_path / name).read_bytes() == (COMMITTED / name).read_bytes(), name


def test_one_day_does_not_depend_on_the_others(gen, tmp_path):
    (path,) = gen.write_days(tmp_path, start=dt.date(2025, 10, 15), days=1)
    assert path.read_bytes() == (COMMITTED / "2025-10-15.jsonl").read_bytes()


def test_committed_files_and_counts(committed):
    assert sorted(committed) == EXPECTED_NAMES
    counts = [len(lines) for lines in committed.values()]
    assert all(3 <= c <= 15 for c in counts), counts
    assert len(set(counts)) >= 5  # varies from day to day


def test_ids_unique_and_well_formed(tickets):
    ids = [t["id"] for _, t in tickets]
    assert len(ids) == len(set(ids))
    for name, t in tickets:
        assert re.fullmatch(rf"T-{name[:10].replace('-', '')}-\d{{3}}", t["id"]), t["id"]


def test_lines_are_compact_json_with_fixed_key_order(committed):
    for name in EXPECTED_NAMES:
        raw = (COMMITTED / name).read_bytes()
        assert raw.endswith(b"\n") and not raw.endswith(b"\n\n"), name
        for line in committed[name]:
            obj = json.loads(line)
            assert list(obj) == FIELDS
            assert list(obj["labels"]) == LABEL_FIELDS
            assert json.dumps(obj, ensure_ascii=False, separators=(",", ":")) == line


def test_created_at_has_offset_and_falls_in_the_files_utc_day(committed):
    offsets = collections.Counter()
    for name, lines in committed.items():
        day = dt.date.fromisoformat(name[:10])
        instants = []
        for line in lines:
            created_at = json.loads(line)["created_at"]
            assert not created_at.endswith("Z")
            ts = dt.datetime.fromisoformat(created_at)
            assert ts.tzinfo is not None, created_at
            utc = ts.astimezone(dt.UTC)
            assert utc.date() == day, (name, created_at)
            instants.append(utc)
            offsets[created_at[-6:]] += 1
        assert instants == sorted(instants), name
    assert "+00:00" in offsets
    assert len(offsets) >= 6, offsets
    assert any(o.startswith("-") for o in offsets)
    assert "+05:30" in offsets


def test_fields_and_labels_are_valid(tickets):
    for _, t in tickets:
        assert t["channel"] in CHANNELS
        assert re.fullmatch(r"CUST-\d{5}", t["customer"])
        assert isinstance(t["subject"], str) and t["subject"].strip()
        assert isinstance(t["body"], str) and t["body"].strip()
        labels = t["labels"]
        assert labels["category"] in CATEGORIES
        assert labels["priority"] in PRIORITIES
        assert isinstance(labels["needs_human"], bool)
        assert isinstance(labels["pii"], bool)
    assert {t["channel"] for _, t in tickets} == CHANNELS
    assert {t["labels"]["category"] for _, t in tickets} == CATEGORIES
    assert {t["labels"]["priority"] for _, t in tickets} == PRIORITIES


def test_outages_are_technical_p0_spread_over_the_range(tickets):
    p0 = [(name, t) for name, t in tickets if t["labels"]["priority"] == "P0"]
    assert len(p0) >= 5
    assert all(t["labels"]["category"] == "technical" for _, t in p0)
    assert all(t["labels"]["needs_human"] for _, t in p0)
    months = {name[:7] for name, _ in p0}
    assert months == {"2025-09", "2025-10", "2025-11"}


def test_prompt_injections_need_a_human(tickets):
    injections = [t for _, t in tickets if INJECTION_RE.search(t["subject"] + "\n" + t["body"])]
    assert len(injections) >= 6
    assert all(t["labels"]["needs_human"] for t in injections)
    # Several different attacks, not one repeated sentence.
    assert len({INJECTION_RE.search(t["body"]).group(0).lower() for t in injections}) >= 3
    assert any("\n> " in t["body"] and INJECTION_RE.search(t["body"]) for t in injections)


def test_pii_label_matches_the_text(tickets):
    for _, t in tickets:
        text = t["subject"] + "\n" + t["body"]
        cards = CARD_RE.findall(text)
        found = bool(EMAIL_RE.search(text) or PHONE_RE.search(text) or cards)
        if t["labels"]["pii"]:
            assert found, t["id"]
            assert all(_luhn_ok(card) for card in cards), (t["id"], cards)
        else:
            assert not found, t["id"]
            assert "@" not in text, t["id"]
            assert not re.search(r"\+\d", text), t["id"]


def test_pii_kinds_all_present(tickets):
    bodies = [t["body"] for _, t in tickets if t["labels"]["pii"]]
    assert any(EMAIL_RE.search(b) for b in bodies)
    assert any(PHONE_RE.search(b) for b in bodies)
    assert any(CARD_RE.search(b) for b in bodies)


def test_angry_and_vague_tickets_present(tickets):
    threat = re.compile(r"we are cancelling|I'm cancelling|we cancel\b|lawyers will", re.I)
    angry = [t for _, t in tickets if threat.search(t["body"])]
    assert len(angry) >= 10
    assert all(t["labels"]["needs_human"] for t in angry)
    assert any("!!!" in t["body"] for t in angry)
    assert any(t["subject"].isupper() for t in angry)
    vague = [t for _, t in tickets if t["labels"]["category"] == "other"]
    assert any(t["labels"]["needs_human"] for t in vague)
    assert any(len(t["body"]) < 60 for t in vague)


def test_mix_is_roughly_as_specified(tickets):
    n = len(tickets)
    share = collections.Counter(t["labels"]["category"] for _, t in tickets)
    bands = {
        "billing": (0.20, 0.30),
        "technical": (0.25, 0.35),
        "account": (0.11, 0.19),
        "shipping": (0.11, 0.19),
        "feature_request": (0.06, 0.14),
        "other": (0.03, 0.08),
    }
    for category, (lo, hi) in bands.items():
        assert lo <= share[category] / n <= hi, (category, share[category] / n)
    pii = sum(t["labels"]["pii"] for _, t in tickets) / n
    needs_human = sum(t["labels"]["needs_human"] for _, t in tickets) / n
    assert 0.10 <= pii <= 0.15, pii
    assert 0.15 <= needs_human <= 0.20, needs_human


def test_bodies_vary(tickets):
    bodies = [t["body"] for _, t in tickets]
    assert len(set(bodies)) >= 0.95 * len(bodies)  # short chat messages may repeat
    assert len({t["subject"] for _, t in tickets}) >= 250
    assert any("\n\n" in b for b in bodies)  # multi-paragraph
    assert any("wrote:\n> " in b for b in bodies)  # quoted earlier e-mail


def test_generate_day_is_deterministic(gen):
    day = dt.date(2026, 1, 2)
    first = list(gen.generate_day(day, 50, random.Random(7)))
    second = list(gen.generate_day(day, 50, random.Random(7)))
    assert first == second
    assert len(first) == 50
    assert [t["id"] for t in first][:2] == ["T-20260102-001", "T-20260102-002"]
    other = list(gen.generate_day(day, 50, random.Random(8)))
    assert other != first


def test_cli_per_day_makes_unique_ids(tmp_path):
    out = tmp_path / "big"
    args = ["--per-day", "2000", "--days", "1", "--start", "2025-10-01", "--out", str(out)]
    subprocess.run(
        [sys.executable, str(GENERATOR), *args],
        check=True,
        capture_output=True,
    )
    files = list(out.iterdir())
    assert [f.name for f in files] == ["2025-10-01.jsonl"]
    rows = [json.loads(line) for line in files[0].read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 2000
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == 2000
    assert ids[0] == "T-20251001-000001" and ids[-1] == "T-20251001-002000"
    for r in rows:
        utc = dt.datetime.fromisoformat(r["created_at"]).astimezone(dt.UTC)
        assert utc.date() == dt.date(2025, 10, 1)


def test_cli_rejects_inverted_range(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(GENERATOR), "--min-per-day", "9", "--max-per-day", "2", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "min_per_day" in proc.stderr
    assert list(tmp_path.iterdir()) == []


# --- the data file --------------------------------------------------------------------------

TEXTS = GENERATOR.parent / "ticket_texts.json"


def _write_texts(tmp_path: Path, edit) -> Path:
    """A copy of the data file with ``edit(data)`` applied."""
    data = json.loads(TEXTS.read_text(encoding="utf-8"))
    edit(data)
    path = tmp_path / "texts.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_wording_comes_from_the_data_file(gen, tmp_path):
    def edit(data):
        data["greetings"] = ["Ahoy {agent},"]
        data["words"]["agent"] = ["Zyxwv"]

    texts = gen.load_texts(_write_texts(tmp_path, edit))
    tickets = list(gen.generate_day(dt.date(2025, 10, 1), 200, random.Random(3), texts))
    greeted = [t for t in tickets if t["body"].startswith("Ahoy Zyxwv,\n\n")]
    assert greeted
    assert all(t["channel"] == "email" for t in greeted)
    default = list(gen.generate_day(dt.date(2025, 10, 1), 200, random.Random(3)))
    assert not any("Zyxwv" in t["body"] for t in default)


def test_every_injection_text_is_one_the_tests_recognise(gen):
    texts = gen.load_texts(TEXTS)
    assert len(texts.injections) >= 3
    for injection in texts.injections:
        assert INJECTION_RE.search(injection.text), injection.text


@pytest.mark.parametrize(
    ("edit", "where", "problem"),
    [
        (
            lambda d: d["templates"]["billing"][2]["bodies"].append("Invoice {invoce} is wrong."),
            "templates.billing[2].bodies[1]",
            "unknown slots ['invoce']",
        ),
        (
            lambda d: d["templates"]["shipping"][0]["subjects"].append("Call me on {phone}"),
            "templates.shipping[0].subjects[2]",
            "only PII texts may use ['phone']",
        ),
        (
            lambda d: d["pii_signatures"].append("Thanks,\n{full_name}"),
            "pii_signatures[4]",
            "a PII text must use one of",
        ),
        (
            lambda d: d["outages"][0].update(priority="P5"),
            "outages[0].priority",
            "'P5' is not one of P0, P1, P2, P3",
        ),
        (
            lambda d: d["templates"]["account"][1].update(needs_human="yes"),
            "templates.account[1].needs_human",
            "expected true or false",
        ),
        (lambda d: d["templates"].pop("other"), "templates", "expected exactly the categories"),
        (lambda d: d.pop("signoffs"), "top level", "missing keys ['signoffs']"),
        (lambda d: d["words"].update(amount=["$5"]), "words", "['amount'] are computed slots"),
        (lambda d: d["words"].pop("agent"), "words", "missing the word lists ['agent']"),
        (lambda d: d["greetings"].append("Hi {agent"), "greetings[8]", "bad placeholder syntax"),
        (lambda d: d["injections"][0].update(placement="middle"), "injections[0].placement", "'middle'"),
        (lambda d: d["quoted_replies"].append(""), "quoted_replies[5]", "expected a non-empty string"),
    ],
)
def test_bad_data_file_names_file_and_field(gen, tmp_path, edit, where, problem):
    path = _write_texts(tmp_path, edit)
    with pytest.raises(gen.TextsError) as err:
        gen.load_texts(path)
    assert str(err.value).startswith(f"{path}: {where}: "), str(err.value)
    assert problem in str(err.value)


def test_malformed_json_names_the_line(gen, tmp_path):
    path = tmp_path / "texts.json"
    path.write_text('{\n  "words": {\n    "plan": ["Starter",]\n  }\n}\n', encoding="utf-8")
    with pytest.raises(gen.TextsError, match=rf"^{re.escape(str(path))}: line 3: "):
        gen.load_texts(path)
