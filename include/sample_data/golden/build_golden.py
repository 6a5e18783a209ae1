"""Build the golden set's day files from the hand-written tickets in `source/*.txt`.

The tickets and their labels are written by hand in `source/`; this script only gives them ids,
customers and timestamps and lays them out as day files the triage DAG can read
(`source_root=include/sample_data/golden`). It uses the standard library and a fixed seed, so the
output is the same byte for byte on every run; the committed day files are the source of truth and
`tests/sample_data/test_golden_set.py` checks that they match this script's output.

Source format, one record per ticket:

    ### <category> <priority> human=y|n pii=y|n lang=<code> tags=<t1,t2> [channel=<c>] [customer=none]
    Subject: <subject line>
    <body lines, up to the next "### " header>
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE_DIR = HERE / "source"
FIRST_DAY = dt.date(2025, 12, 1)
DAYS = 5
SEED = 20251201

CATEGORIES = ("billing", "technical", "account", "shipping", "feature_request", "other")
PRIORITIES = ("P0", "P1", "P2", "P3")
CHANNELS = ("email", "web", "chat", "phone")
LANGUAGES = ("en", "de", "es", "fr", "pt", "it", "nl")
TAGS = (
    "two_problems",
    "forwarded_thread",
    "quoted_history",
    "long_log",
    "sarcasm",
    "vague",
    "angry",
    "angry_low_priority",
    "calm_critical",
    "empty_subject",
    "prompt_injection",
    "disguised_feature_request",
    "billing_dispute",
    "shipping_issue",
    "account_lockout",
    "outage",
    "data_loss",
    "security_incident",
    "gdpr",
    "mixed_language",
    "easy",
)

# UTC offsets a customer writing in that language plausibly has in December (no DST anywhere north).
OFFSETS = {
    "en": ("-08:00", "-05:00", "-06:00", "+00:00", "+00:00", "+05:30", "+10:00", "+11:00", "+08:00"),
    "de": ("+01:00",),
    "es": ("+01:00", "-03:00", "-05:00", "-06:00"),
    "fr": ("+01:00", "-05:00"),
    "pt": ("-03:00", "+00:00"),
    "it": ("+01:00",),
    "nl": ("+01:00",),
}

HEADER_RE = re.compile(r"^### (?P<cat>\S+) (?P<pri>\S+)(?P<rest>(?: \S+=\S*)*)\s*$")


class SourceError(ValueError):
    """A malformed record in source/: names the file and line so it can be fixed by hand."""


@dataclass
class Record:
    category: str
    priority: str
    needs_human: bool
    pii: bool
    lang: str
    tags: list[str]
    subject: str
    body: str
    channel: str = "email"
    has_customer: bool = True
    origin: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _yes_no(value: str, where: str) -> bool:
    if value not in ("y", "n"):
        raise SourceError(f"{where}: expected y or n, got {value!r}")
    return value == "y"


def _parse_header(line: str, where: str) -> dict[str, object]:
    m = HEADER_RE.match(line)
    if m is None:
        raise SourceError(f"{where}: malformed header {line!r}")
    cat, pri = m["cat"], m["pri"]
    if cat not in CATEGORIES:
        raise SourceError(f"{where}: unknown category {cat!r}")
    if pri not in PRIORITIES:
        raise SourceError(f"{where}: unknown priority {pri!r}")
    opts = dict(kv.split("=", 1) for kv in m["rest"].split())
    unknown = set(opts) - {"human", "pii", "lang", "tags", "channel", "customer"}
    if unknown or not {"human", "pii", "lang"} <= set(opts):
        raise SourceError(f"{where}: bad keys in header {line!r}")
    tags = [t for t in opts.get("tags", "").split(",") if t]
    bad_tags = [t for t in tags if t not in TAGS]
    if bad_tags:
        raise SourceError(f"{where}: unknown tags {bad_tags}")
    if opts["lang"] not in LANGUAGES:
        raise SourceError(f"{where}: unknown language {opts['lang']!r}")
    channel = opts.get("channel", "email")
    if channel not in CHANNELS:
        raise SourceError(f"{where}: unknown channel {channel!r}")
    return {
        "category": cat,
        "priority": pri,
        "needs_human": _yes_no(opts["human"], where),
        "pii": _yes_no(opts["pii"], where),
        "lang": opts["lang"],
        "tags": tags,
        "channel": channel,
        "has_customer": opts.get("customer") != "none",
    }


def parse_source(path: Path) -> list[Record]:
    records: list[Record] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines) and not lines[i].startswith("### "):
        if lines[i].strip():
            raise SourceError(f"{path.name}:{i + 1}: text before the first header")
        i += 1
    while i < len(lines):
        where = f"{path.name}:{i + 1}"
        header = _parse_header(lines[i], where)
        if i + 1 >= len(lines) or not lines[i + 1].startswith("Subject: "):
            raise SourceError(f"{where}: the line after a header must be 'Subject: ...'")
        subject = lines[i + 1][len("Subject: ") :].strip()
        j = i + 2
        while j < len(lines) and not lines[j].startswith("### "):
            j += 1
        body = "\n".join(line.rstrip() for line in lines[i + 2 : j]).strip("\n")
        if not subject:
            raise SourceError(f"{where}: empty subject (write the helpdesk's placeholder instead)")
        records.append(Record(subject=subject, body=body, origin=where, **header))  # type: ignore[arg-type]
        i = j
    return records


def load_records(source_dir: Path = SOURCE_DIR) -> list[Record]:
    records: list[Record] = []
    for path in sorted(source_dir.glob("*.txt")):
        records.extend(parse_source(path))
    return records


def build(
    records: list[Record], *, seed: int = SEED
) -> tuple[dict[dt.date, list[dict]], dict[str, list[str]]]:
    """Spread the records over the days, give each an id, a customer and a time in its UTC day."""
    rng = random.Random(seed)
    order = list(range(len(records)))
    rng.shuffle(order)
    days: dict[dt.date, list[dict]] = {}
    tags: dict[str, list[str]] = {}
    for d in range(DAYS):
        day = FIRST_DAY + dt.timedelta(days=d)
        picked = [records[k] for k in order[d::DAYS]]
        start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        seconds = sorted(rng.sample(range(86400), len(picked)))
        stamped = []
        for sec, rec in zip(seconds, rng.sample(picked, len(picked)), strict=True):
            offset = rng.choice(OFFSETS[rec.lang])
            sign = 1 if offset[0] == "+" else -1
            tz = dt.timezone(sign * dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
            local = (start + dt.timedelta(seconds=sec)).astimezone(tz)
            customer = f"CUST-{rng.randrange(1, 3000):05d}" if rec.has_customer else None
            stamped.append((local, customer, rec))
        lines = []
        for n, (local, customer, rec) in enumerate(stamped, start=1):
            ticket_id = f"G-{day:%Y%m%d}-{n:03d}"
            ticket: dict[str, object] = {"id": ticket_id, "created_at": local.isoformat()}
            if customer is not None:
                ticket["customer"] = customer
            ticket["channel"] = rec.channel
            ticket["subject"] = rec.subject
            ticket["body"] = rec.body
            ticket["labels"] = {
                "category": rec.category,
                "priority": rec.priority,
                "needs_human": rec.needs_human,
                "pii": rec.pii,
            }
            lines.append(ticket)
            tags[ticket_id] = [f"lang:{rec.lang}", *rec.tags]
        days[day] = lines
    return days, tags


def render(out: Path, days: dict[dt.date, list[dict]], tags: dict[str, list[str]]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for day, tickets in days.items():
        path = out / f"{day.isoformat()}.jsonl"
        text = "".join(json.dumps(t, ensure_ascii=False, separators=(",", ":")) + "\n" for t in tickets)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    tags_path = out / "tags.json"
    tags_path.write_text(
        json.dumps(tags, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    written.append(tags_path)
    return written


def mix(days: dict[dt.date, list[dict]], tags: dict[str, list[str]]) -> str:
    """The counts the README quotes, so they are copied from the data rather than estimated."""
    from collections import Counter

    tickets = [t for ts in days.values() for t in ts]
    out = [f"tickets: {len(tickets)}", "per day: " + ", ".join(f"{d}={len(ts)}" for d, ts in days.items())]
    for key in ("category", "priority", "needs_human", "pii"):
        counts = Counter(str(t["labels"][key]) for t in tickets)
        out.append(f"{key}: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    counts = Counter(tag for ts in tags.values() for tag in ts)
    out.append(
        "languages: " + ", ".join(f"{k[5:]}={v}" for k, v in sorted(counts.items()) if k.startswith("lang:"))
    )
    out.append(
        "tags: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items()) if not k.startswith("lang:"))
    )
    channels = Counter(str(t["channel"]) for t in tickets)
    out.append("channels: " + ", ".join(f"{k}={v}" for k, v in sorted(channels.items())))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="where to write the day files and tags.json")
    parser.add_argument("--mix", action="store_true", help="print the counts quoted in README.md")
    args = parser.parse_args(argv)
    days, tags = build(load_records())
    if args.mix:
        print(mix(days, tags))
        return
    for path in render(args.out, days, tags):
        print(path)


if __name__ == "__main__":
    main()
