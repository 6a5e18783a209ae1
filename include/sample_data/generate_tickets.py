#!/usr/bin/env python3
"""Write deterministic sample support tickets, one JSON-lines file per UTC day (stdlib only).

The wording (templates, word lists, greetings, PII sentences, injection attempts) lives in
``ticket_texts.json`` next to this file, so it can be edited without touching the logic. Every
text there is a ``str.format`` template whose ``{placeholders}`` name slots: a word list of
that name in the file, or a value computed here (amounts, dates, ids, e-mail addresses).
This script decides how the pieces combine: the category and channel mix, the modifiers
(angry, PII, quoted thread, injection) and the ground-truth labels that follow from them.

Each line of ``<out>/<YYYY-MM-DD>.jsonl`` is one ticket with the keys ``id, created_at,
customer, channel, subject, body, labels`` (in that order). ``labels`` holds the ground truth
``{"category", "priority", "needs_human", "pii"}``.

Running it without arguments rewrites exactly the committed sample set
(2025-09-01 .. 2025-11-29, 3-15 tickets a day). ``--per-day N`` makes big days
for benchmarks; tickets are streamed to disk, never held in memory.

Every day draws from its own ``random.Random(f"{seed}:{day}")``, so a day's
content does not depend on which other days are generated.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import random
import string
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

# Picked (among a few hundred) so the default 90-day set is close to the target mix.
DEFAULT_SEED = 20251101
DEFAULT_START = dt.date(2025, 9, 1)
DEFAULT_DAYS = 90
DEFAULT_MIN_PER_DAY = 3
DEFAULT_MAX_PER_DAY = 15
DEFAULT_OUT = Path(__file__).resolve().parent / "tickets"
TEXTS_FILE = Path(__file__).resolve().parent / "ticket_texts.json"

CATEGORIES = ("billing", "technical", "account", "shipping", "feature_request", "other")
# Outages (technical) are drawn before the category, hence 28.5 instead of 30.
CATEGORY_WEIGHTS = (25, 28.5, 15, 15, 10, 5)
PRIORITIES = ("P0", "P1", "P2", "P3")
CHANNELS = ("email", "chat", "web", "phone")
CHANNEL_WEIGHTS = (45, 20, 25, 10)

# Share of tickets of each special kind / modifier.
P_OUTAGE = 0.015  # technical P0 outages
P_INJECTION = 0.014  # prompt-injection attempts wrapped around a normal ticket
P_PII = 0.12
P_ANGRY = 0.10
P_QUOTED = 0.15  # share of e-mails quoting an earlier reply from support

# Where an injection attempt sits in the body.
PLACEMENTS = ("prefix", "append", "comment", "quoted")
# The ``pii`` label is true exactly when one of these slots is filled, so only the PII
# sentences and signatures may use them, and each of those must use one.
PII_SLOTS = frozenset({"email", "phone", "card"})
# Word lists the computed slots below read from.
REQUIRED_WORDS = ("plan", "first", "last", "agent")

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

UTC = dt.UTC


class Template(NamedTuple):
    priority: str
    needs_human: bool
    subjects: tuple[str, ...]
    bodies: tuple[str, ...]
    extras: bool = True  # may get a category "extra detail" sentence appended


class Injection(NamedTuple):
    placement: str
    text: str


class TicketTexts(NamedTuple):
    """Everything customers and agents say, as read from the data file.

    A NamedTuple, not a dataclass: the README loads this script with importlib without
    registering it in ``sys.modules``, which dataclasses need.
    """

    words: dict[str, tuple[str, ...]]  # slot name -> values a slot is drawn from
    email_domains: tuple[str, ...]
    templates: dict[str, tuple[Template, ...]]  # category -> templates
    outages: tuple[Template, ...]
    greetings: tuple[str, ...]
    signoffs: tuple[str, ...]
    extras: dict[str, tuple[str, ...]]  # category -> extra detail sentences
    angry_openers: tuple[str, ...]
    angry_threats: tuple[str, ...]
    pii_sentences: dict[str, tuple[str, ...]]  # category or "any" -> sentences
    pii_signatures: tuple[str, ...]
    quoted_replies: tuple[str, ...]
    injections: tuple[Injection, ...]


class TextsError(ValueError):
    """The data file is malformed; the message names the file and the field."""


# ---------------------------------------------------------------------------
# Slots whose values are computed rather than drawn from a word list
# ---------------------------------------------------------------------------

_ASCII_FIX = str.maketrans({"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "'": ""})


def _ascii(name: str) -> str:
    text = unicodedata.normalize("NFKD", name.translate(_ASCII_FIX))
    return text.encode("ascii", "ignore").decode("ascii").lower()


def _fmt_date(d: dt.date) -> str:
    return f"{MONTHS[d.month - 1]} {d.day}"


def _amount(s: Slots) -> str:
    r = s.rng
    value = r.choice((r.randint(9, 99), r.randint(100, 999), r.randint(1000, 4800)))
    cents = r.choice(("00", "00", "00", "99", "50", "20"))
    return f"{r.choice(('$', '$', '$', '€', '£'))}{value:,}.{cents}"


def _phone(s: Slots) -> str:
    r = s.rng
    kind = r.randrange(4)
    if kind < 2:
        area = r.choice(("415", "212", "312", "646", "303", "512", "206"))
        return f"+1 {area}-555-01{r.randint(0, 99):02d}"
    if kind == 2:
        return f"+44 20 7946 0{r.randint(0, 999):03d}"
    return f"+61 2 5550 {r.randint(0, 9999):04d}"


def _email(s: Slots) -> str:
    first, last = _ascii(s["first"]), _ascii(s["last"])
    style = s.rng.randrange(3)
    local = (f"{first}.{last}", f"{first[0]}{last}", f"{first}{s.rng.randint(1, 99)}")[style]
    return f"{local}@{s.rng.choice(s.texts.email_domains)}"


def _seats(s: Slots) -> str:
    return str(s.rng.choice((10, 12, 15, 20, 25, 30, 40, 50, 75, 100, 150, 250)))


def _other_plan(s: Slots) -> str:
    plan = s["plan"]
    return s.rng.choice([p for p in s.texts.words["plan"] if p != plan])


def _past_date(s: Slots) -> str:
    return _fmt_date(s.day - dt.timedelta(days=s.rng.randint(1, 20)))


def _since(s: Slots) -> str:
    t = s.utc - dt.timedelta(minutes=s.rng.randint(4, 95))
    return f"{t.hour:02d}:{t.minute:02d} UTC"


SLOT_FILLERS: dict[str, Callable[[Slots], str]] = {
    "plan2": _other_plan,
    "amount": _amount,
    "amount2": _amount,
    "order": lambda s: f"ORD-{s.rng.randint(100000, 999999)}",
    "order2": lambda s: f"ORD-{s.rng.randint(100000, 999999)}",
    "invoice": lambda s: f"INV-{s.rng.randint(10000, 99999)}",
    "seats": _seats,
    "seats_small": lambda s: str(s.rng.randint(2, int(s["seats"]) - 1)),
    "days": lambda s: str(s.rng.randint(3, 14)),
    "weeks": lambda s: str(s.rng.randint(2, 6)),
    "years": lambda s: str(s.rng.randint(2, 9)),
    "past_date": _past_date,
    "since": _since,
    "version": lambda s: f"{s.rng.randint(3, 5)}.{s.rng.randint(0, 19)}.{s.rng.randint(0, 9)}",
    "tracking": lambda s: (
        f"{s.rng.choice(('RX', 'LP', 'CP', 'JD', 'EE'))}{s.rng.randint(10**8, 10**9 - 1)}"
        f"{s.rng.choice(('GB', 'US', 'DE', 'NL', 'CA'))}"
    ),
    "qty": lambda s: str(s.rng.randint(2, 12)),
    "team_size": lambda s: str(s.rng.choice((8, 12, 25, 40, 60, 120, 300, 450))),
    "percent": lambda s: str(s.rng.choice((20, 30, 40, 60, 80, 90))),
    "email": _email,
    "phone": _phone,
    "card_exp": lambda s: f"{s.rng.randint(1, 12):02d}/{s.rng.randint(26, 30)}",
    "full_name": lambda s: f"{s['first']} {s['last']}",
}


class Slots(dict):
    """Lazily filled template values; a slot keeps its value within one ticket."""

    __slots__ = ("day", "rng", "texts", "utc")

    def __init__(self, rng: random.Random, day: dt.date, utc: dt.datetime, texts: TicketTexts) -> None:
        super().__init__()
        self.rng = rng
        self.day = day
        self.utc = utc
        self.texts = texts

    def __missing__(self, key: str) -> str:
        words = self.texts.words.get(key)
        value = self.rng.choice(words) if words is not None else SLOT_FILLERS[key](self)
        self[key] = value
        return value


# ---------------------------------------------------------------------------
# Reading the data file
# ---------------------------------------------------------------------------


class _Reader:
    """Checks one data file and converts its JSON into typed values, naming the field at fault."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> TextsError:
        return TextsError(f"{self.path}: {where}: {problem}")

    def table(self, value: object, where: str) -> dict[str, object]:
        if not isinstance(value, dict):
            raise self.fail(where, "expected an object")
        return value

    def strings(self, value: object, where: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(where, "expected a non-empty list of strings")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.fail(f"{where}[{i}]", "expected a non-empty string")
        return tuple(value)

    def string_lists(self, value: object, where: str) -> dict[str, tuple[str, ...]]:
        return {key: self.strings(item, f"{where}.{key}") for key, item in self.table(value, where).items()}

    def template(self, value: object, where: str) -> Template:
        entry = self.table(value, where)
        unknown = set(entry) - set(Template._fields)
        if unknown:
            raise self.fail(where, f"unknown keys {sorted(unknown)}")
        priority = entry.get("priority")
        if priority not in PRIORITIES:
            raise self.fail(f"{where}.priority", f"{priority!r} is not one of {', '.join(PRIORITIES)}")
        needs_human = entry.get("needs_human")
        extras = entry.get("extras", True)
        for key, flag in (("needs_human", needs_human), ("extras", extras)):
            if not isinstance(flag, bool):
                raise self.fail(f"{where}.{key}", f"expected true or false, got {flag!r}")
        subjects = self.strings(entry.get("subjects"), f"{where}.subjects")
        bodies = self.strings(entry.get("bodies"), f"{where}.bodies")
        return Template(priority, needs_human, subjects, bodies, extras)

    def templates(self, value: object, where: str) -> tuple[Template, ...]:
        if not isinstance(value, list) or not value:
            raise self.fail(where, "expected a non-empty list of templates")
        return tuple(self.template(item, f"{where}[{i}]") for i, item in enumerate(value))

    def injection(self, value: object, where: str) -> Injection:
        entry = self.table(value, where)
        if set(entry) != set(Injection._fields):
            raise self.fail(where, f"expected exactly the keys {list(Injection._fields)}")
        if entry["placement"] not in PLACEMENTS:
            raise self.fail(
                f"{where}.placement", f"{entry['placement']!r} is not one of {', '.join(PLACEMENTS)}"
            )
        (text,) = self.strings([entry["text"]], f"{where}.text")
        return Injection(entry["placement"], text)


def _placeholders(text: str) -> Iterator[str]:
    for _, name, _, _ in string.Formatter().parse(text):
        if name is not None:
            yield name


def _check_slots(texts: TicketTexts, reader: _Reader) -> None:
    """Every placeholder must be fillable, and PII slots appear exactly where the label expects."""
    clash = set(texts.words) & set(SLOT_FILLERS)
    if clash:
        raise reader.fail("words", f"{sorted(clash)} are computed slots and cannot be word lists")
    missing = [name for name in REQUIRED_WORDS if name not in texts.words]
    if missing:
        raise reader.fail("words", f"missing the word lists {missing}")
    known = set(texts.words) | set(SLOT_FILLERS)

    def texts_at() -> Iterator[tuple[str, str, bool]]:
        """Yield (where, text, is_pii_text) for every text with placeholders."""
        for category, templates in texts.templates.items():
            for i, t in enumerate(templates):
                for field in ("subjects", "bodies"):
                    for j, text in enumerate(getattr(t, field)):
                        yield f"templates.{category}[{i}].{field}[{j}]", text, False
        for i, t in enumerate(texts.outages):
            for field in ("subjects", "bodies"):
                for j, text in enumerate(getattr(t, field)):
                    yield f"outages[{i}].{field}[{j}]", text, False
        for name in ("greetings", "signoffs", "angry_openers", "angry_threats", "quoted_replies"):
            for i, text in enumerate(getattr(texts, name)):
                yield f"{name}[{i}]", text, False
        for category, sentences in texts.extras.items():
            for i, text in enumerate(sentences):
                yield f"extras.{category}[{i}]", text, False
        for i, inj in enumerate(texts.injections):
            yield f"injections[{i}].text", inj.text, False
        for key, sentences in texts.pii_sentences.items():
            for i, text in enumerate(sentences):
                yield f"pii_sentences.{key}[{i}]", text, True
        for i, text in enumerate(texts.pii_signatures):
            yield f"pii_signatures[{i}]", text, True

    for where, text, is_pii_text in texts_at():
        try:
            names = set(_placeholders(text))
        except ValueError as exc:  # e.g. a lone "{"
            raise reader.fail(
                where, f"bad placeholder syntax ({exc}); write {{{{ for a literal brace"
            ) from exc
        unknown = names - known
        if unknown:
            raise reader.fail(where, f"unknown slots {sorted(unknown)}")
        if is_pii_text and not names & PII_SLOTS:
            raise reader.fail(where, f"a PII text must use one of {sorted(PII_SLOTS)}")
        if not is_pii_text and names & PII_SLOTS:
            raise reader.fail(where, f"only PII texts may use {sorted(names & PII_SLOTS)}")


@functools.cache
def load_texts(path: Path = TEXTS_FILE) -> TicketTexts:
    """Read and check the data file once, so a typo fails here and not mid-day."""
    reader = _Reader(Path(path))
    try:
        raw = json.loads(reader.path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TextsError(f"{reader.path}: line {exc.lineno}: {exc.msg}") from exc
    data = reader.table(raw, "top level")
    expected = set(TicketTexts._fields)
    if set(data) != expected:
        missing, unknown = sorted(expected - set(data)), sorted(set(data) - expected)
        raise reader.fail("top level", f"missing keys {missing}, unknown keys {unknown}")
    templates = {
        category: reader.templates(value, f"templates.{category}")
        for category, value in reader.table(data["templates"], "templates").items()
    }
    if set(templates) != set(CATEGORIES):
        raise reader.fail("templates", f"expected exactly the categories {list(CATEGORIES)}")
    pii_sentences = reader.string_lists(data["pii_sentences"], "pii_sentences")
    if "any" not in pii_sentences:
        raise reader.fail("pii_sentences", 'missing the "any" list')
    injections = data["injections"]
    if not isinstance(injections, list) or not injections:
        raise reader.fail("injections", "expected a non-empty list")
    texts = TicketTexts(
        words=reader.string_lists(data["words"], "words"),
        email_domains=reader.strings(data["email_domains"], "email_domains"),
        templates=templates,
        outages=reader.templates(data["outages"], "outages"),
        greetings=reader.strings(data["greetings"], "greetings"),
        signoffs=reader.strings(data["signoffs"], "signoffs"),
        extras=reader.string_lists(data["extras"], "extras"),
        angry_openers=reader.strings(data["angry_openers"], "angry_openers"),
        angry_threats=reader.strings(data["angry_threats"], "angry_threats"),
        pii_sentences=pii_sentences,
        pii_signatures=reader.strings(data["pii_signatures"], "pii_signatures"),
        quoted_replies=reader.strings(data["quoted_replies"], "quoted_replies"),
        injections=tuple(reader.injection(item, f"injections[{i}]") for i, item in enumerate(injections)),
    )
    _check_slots(texts, reader)
    return texts


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------

# Offsets customers write from; a customer always uses the same one.
OFFSETS = tuple(
    dt.timezone(dt.timedelta(minutes=m))
    for m in (0, 0, 0, 60, 120, -300, -300, -240, -420, -480, 330, 540, 600, -180, 480, 345, 60)
)
N_CUSTOMERS = 1800
N_HEAVY = 60


def _customer(rng: random.Random) -> int:
    if rng.random() < 0.3:
        return rng.randint(1, N_HEAVY)
    return rng.randint(1, N_CUSTOMERS)


def _quote_block(s: Slots, reply: str) -> str:
    qday = s.day - dt.timedelta(days=s.rng.randint(1, 6))
    header = f"On {WEEKDAYS[qday.weekday()]}, {_fmt_date(qday)}, {s['agent']} from Support wrote:"
    return f"{header}\n> {reply}\n>\n> Best,\n> {s['agent']}"


def _make_ticket(
    rng: random.Random, day: dt.date, utc: dt.datetime, texts: TicketTexts
) -> tuple[str, str, str, dict[str, object]]:
    """Return (channel, subject, body, labels) for one ticket."""
    s = Slots(rng, day, utc, texts)
    channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
    roll = rng.random()
    injection: Injection | None = None
    if roll < P_OUTAGE:
        category = "technical"
        template = rng.choice(texts.outages)
    else:
        category = rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0]
        template = rng.choice(texts.templates[category])
        if roll < P_OUTAGE + P_INJECTION:
            injection = rng.choice(texts.injections)
            if injection.placement in ("quoted", "comment"):
                channel = "email"
            elif channel == "phone":
                channel = "web"
    priority = template.priority
    needs_human = template.needs_human

    subject = rng.choice(template.subjects).format_map(s)
    core = rng.choice(template.bodies).format_map(s)
    parts: list[str] = [core]

    if (
        template.extras
        and category in texts.extras
        and (priority in ("P1", "P2") or category == "feature_request")
        and rng.random() < 0.45
    ):
        parts.append(rng.choice(texts.extras[category]).format_map(s))

    angry = (
        category not in ("other", "feature_request")
        and priority in ("P1", "P2")
        and rng.random() < P_ANGRY / 0.8
    )
    if angry:
        parts.insert(0, rng.choice(texts.angry_openers).format_map(s))
        if rng.random() < 0.75:
            parts.append(rng.choice(texts.angry_threats).format_map(s))
            needs_human = True
        style = rng.randrange(3)
        if style == 0:
            subject = subject.upper() + "!!!"
        elif style == 1:
            subject = "STILL NOT FIXED: " + subject
        else:
            subject = subject + "?!"

    pii = rng.random() < P_PII
    pii_in_signature = False
    if pii:
        if channel in ("email", "web") and rng.random() < 0.4:
            pii_in_signature = True
        else:
            pool = texts.pii_sentences.get(category, ())
            if not pool or rng.random() < 0.4:
                pool = texts.pii_sentences["any"]
            parts.append(rng.choice(pool).format_map(s))

    text = " ".join(parts)
    if channel == "chat":
        body = text
    elif channel == "phone":
        body = f"Phone call, notes by {s['agent']}. Customer says: {text}"
    else:
        pieces = []
        if channel == "email" and rng.random() < 0.7:
            pieces.append(rng.choice(texts.greetings).format_map(s))
        pieces.append(text)
        if pii_in_signature:
            pieces.append(rng.choice(texts.pii_signatures).format_map(s))
        elif rng.random() < (0.8 if channel == "email" else 0.3):
            pieces.append(rng.choice(texts.signoffs).format_map(s))
        body = "\n\n".join(pieces)
        if channel == "email" and injection is None and rng.random() < P_QUOTED:
            body += "\n\n" + _quote_block(s, rng.choice(texts.quoted_replies).format_map(s))

    if injection is not None:
        placement, inj = injection
        inj_text = inj.format_map(s)
        needs_human = True
        if placement == "prefix":
            body = f"{inj_text}\n\n{body}"
        elif placement == "append":
            body = f"{body}\n\n{inj_text}"
        elif placement == "comment":
            body = f"{body}\n{inj_text}"
        else:  # quoted: hidden inside an earlier e-mail thread
            reply = rng.choice(texts.quoted_replies).format_map(s)
            body += "\n\n" + _quote_block(s, f"{reply}\n> {inj_text}")

    if channel == "chat" and rng.random() < 0.3:
        body = body[0].lower() + body[1:]

    labels = {"category": category, "priority": priority, "needs_human": needs_human, "pii": pii}
    return channel, subject, body, labels


def generate_day(
    day: dt.date, count: int, rng: random.Random, texts: TicketTexts | None = None
) -> Iterator[dict]:
    """Yield ``count`` tickets for the UTC ``day``, sorted by UTC instant.

    Ids are ``T-YYYYMMDD-NNN`` (3 digits while count <= 999, else at least 6).
    ``texts`` defaults to the data file next to this script.
    """
    if texts is None:
        texts = load_texts()
    width = 3 if count <= 999 else max(6, len(str(count)))
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=UTC)
    # Busier during the (global) working day; always inside [00:00, 24:00).
    seconds = sorted(
        int(rng.triangular(0, 86400, 50400)) if rng.random() < 0.7 else rng.randrange(86400)
        for _ in range(count)
    )
    prefix = f"T-{day:%Y%m%d}-"
    for n, sec in enumerate(seconds, start=1):
        sec = min(sec, 86399)
        utc = midnight + dt.timedelta(seconds=sec)
        cust = _customer(rng)
        created = utc.astimezone(OFFSETS[cust * 7 % len(OFFSETS)])
        channel, subject, body, labels = _make_ticket(rng, day, utc, texts)
        yield {
            "id": f"{prefix}{n:0{width}d}",
            "created_at": created.isoformat(timespec="seconds"),
            "customer": f"CUST-{cust:05d}",
            "channel": channel,
            "subject": subject,
            "body": body,
            "labels": labels,
        }


def day_rng(seed: int | str, day: dt.date) -> random.Random:
    """The RNG for one day, derived only from (seed, date)."""
    return random.Random(f"{seed}:{day.isoformat()}")


def write_day(
    path: Path, day: dt.date, count: int, rng: random.Random, texts: TicketTexts | None = None
) -> int:
    """Stream ``count`` tickets of ``day`` into ``path``; return the count."""
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        buf: list[str] = []
        for ticket in generate_day(day, count, rng, texts):
            buf.append(dumps(ticket))
            n += 1
            if len(buf) >= 1000:
                fh.write("\n".join(buf) + "\n")
                buf.clear()
        if buf:
            fh.write("\n".join(buf) + "\n")
    return n


def write_days(
    out_dir: str | Path = DEFAULT_OUT,
    start: dt.date = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    min_per_day: int = DEFAULT_MIN_PER_DAY,
    max_per_day: int = DEFAULT_MAX_PER_DAY,
    per_day: int | None = None,
    seed: int | str = DEFAULT_SEED,
    texts: TicketTexts | None = None,
) -> list[Path]:
    """Write ``days`` files starting at ``start`` into ``out_dir``; return their paths.

    Each day gets ``per_day`` tickets if given, else a count drawn from
    [min_per_day, max_per_day] with that day's RNG.
    """
    if days < 0:
        raise ValueError("days must be >= 0")
    if per_day is None and not 0 <= min_per_day <= max_per_day:
        raise ValueError("need 0 <= min_per_day <= max_per_day")
    if per_day is not None and per_day < 0:
        raise ValueError("per_day must be >= 0")
    if texts is None:
        texts = load_texts()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(days):
        day = start + dt.timedelta(days=i)
        rng = day_rng(seed, day)
        count = per_day if per_day is not None else rng.randint(min_per_day, max_per_day)
        path = out / f"{day.isoformat()}.jsonl"
        write_day(path, day, count, rng, texts)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--start", type=dt.date.fromisoformat, default=DEFAULT_START, help="first day (UTC)")
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS, help="number of days")
    parser.add_argument("--min-per-day", type=int, default=DEFAULT_MIN_PER_DAY)
    parser.add_argument("--max-per-day", type=int, default=DEFAULT_MAX_PER_DAY)
    parser.add_argument("--per-day", type=int, default=None, help="fixed tickets per day (overrides min/max)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    try:
        paths = write_days(
            args.out,
            args.start,
            args.days,
            args.min_per_day,
            args.max_per_day,
            args.per_day,
            args.seed,
        )
    except ValueError as exc:
        parser.error(str(exc))
    elapsed = time.perf_counter() - began
    print(f"wrote {len(paths)} file(s) to {args.out} in {elapsed:.2f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
