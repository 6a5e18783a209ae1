"""Reading one UTC day of tickets from `<root>/<YYYY-MM-DD>.jsonl`.

The reader streams the file line by line (a day can hold 100k tickets) and never drops a line in
silence: every line becomes either a `Ticket` or a `RejectedLine` that names the file, the line, the
ticket id when it could be read, and the field at fault. Rejected lines go to manual review; only a
problem with the whole file (missing source root, unreadable file, mostly garbage) fails the task.

A ticket id on two lines is settled by a pre-pass over the file (ids and content hashes only), so that
every batch of a day, whatever lines it skips, decides alike: the same content twice is one ticket
(the later lines are `DuplicateLine`s, not triaged again); different content under one id is a
conflict, and every line of that id is rejected with the reason, since nobody can tell which is right.

`root` is anything path-like with `/`, `.exists()` and `.open("rb")`: a `pathlib.Path` in tests, an
Airflow `ObjectStoragePath` (local, s3://, gs://, ...) in the DAG. The core does not import Airflow.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError

from llm_operators.core.models import RejectedLine, Ticket

# Beyond this share of rejected lines the file is probably not a ticket export at all; failing the
# task is kinder than filing hundreds of "unreadable line" reviews.
DEFAULT_MAX_REJECTED_SHARE = 0.5
RAW_EXCERPT_CHARS = 500
_BOM = b"\xef\xbb\xbf"


class PathLike(Protocol):
    def __truediv__(self, other: str) -> PathLike: ...
    def exists(self) -> bool: ...
    def open(self, mode: str = ...) -> Any: ...


class TicketSourceError(Exception):
    """A whole-file problem: the task must fail with this message (and Airflow may retry it)."""


def day_file_name(day: date) -> str:
    return f"{day.isoformat()}.jsonl"


def utc_day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


class DuplicateLine(RejectedLine):
    """A line repeating an earlier line of the same ticket word for word: the ticket is triaged once.

    A subclass of `RejectedLine` so that a consumer that does not know it still keeps it (in review)
    rather than triaging the ticket twice; a consumer that knows it skips it with a log line. It still
    takes its place in the day's items, so batch windows (counted in lines) stay aligned."""


@dataclass
class DayRead:
    """Counters filled while the reader streams; read them after the iterator is exhausted."""

    source: str
    file_found: bool = False
    lines: int = 0
    tickets: int = 0
    rejected: int = 0
    duplicates: int = 0
    # field name -> number of tickets (read by this reader) that carried it
    unknown_fields: dict[str, int] = field(default_factory=dict)

    def unknown_fields_note(self) -> str | None:
        """The one log line a day (or batch) gets about export fields this project does not read."""
        if not self.unknown_fields:
            return None
        listed = ", ".join(f"{name} ({n})" for name, n in sorted(self.unknown_fields.items()))
        return (
            f"{self.source}: fields not read by the triage, kept in the outputs "
            f"(tickets carrying each): {listed}"
        )


def _first_error_field(err: ValidationError) -> tuple[str | None, str]:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"]) or None
    return loc, first["msg"]


_ID_IN_RAW = re.compile(r'"id"\s*:\s*"([^"\\]{1,200})"')


def _id_from_raw(text: str) -> str | None:
    """The ticket id of a line that is not valid JSON, when it can still be read (for the reviewer)."""
    m = _ID_IN_RAW.search(text)
    if m is None:
        return None
    return m.group(1).strip() or None


def _undecodable_field(text: str) -> tuple[str | None, str | None]:
    """Ticket id and field of a line with bad bytes, read leniently (bad bytes became U+FFFD)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return _id_from_raw(text), None
    if not isinstance(data, dict):
        return None, None
    ticket_id = data.get("id") if isinstance(data.get("id"), str) else None
    bad = next((k for k, v in data.items() if isinstance(v, str) and "\ufffd" in v), None)
    return ticket_id, bad


def _parse_line(raw_bytes: bytes, line_no: int, source: str) -> Ticket | RejectedLine:
    excerpt = raw_bytes[:RAW_EXCERPT_CHARS].decode("utf-8", errors="replace")

    def reject(error: str, *, ticket_id: str | None = None, field_name: str | None = None) -> RejectedLine:
        return RejectedLine(
            source=source, line=line_no, ticket_id=ticket_id, field=field_name, error=error, raw=excerpt
        )

    if line_no == 1 and raw_bytes.startswith(_BOM):
        raw_bytes = raw_bytes[len(_BOM) :]  # a byte-order mark from a Windows export is not data
    try:
        text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        ticket_id, field_name = _undecodable_field(raw_bytes.decode("utf-8", errors="replace"))
        return reject(
            f"not valid UTF-8 (byte {exc.start}: {raw_bytes[exc.start : exc.start + 4]!r})",
            ticket_id=ticket_id,
            field_name=field_name,
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return reject(f"invalid JSON: {exc.msg} at column {exc.colno}", ticket_id=_id_from_raw(text))
    if not isinstance(data, dict):
        return reject(f"expected a JSON object, got {type(data).__name__}")
    ticket_id = data.get("id") if isinstance(data.get("id"), str) else None
    try:
        return Ticket.model_validate(data)
    except ValidationError as exc:
        loc, msg = _first_error_field(exc)
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return reject(f"{msg}{more}", ticket_id=ticket_id, field_name=loc)


def read_day(
    root: PathLike,
    day: date,
    stats: DayRead | None = None,
    *,
    check_interval: bool = True,
    skip: int = 0,
) -> Iterator[Ticket | RejectedLine]:
    """Yield the day's tickets and rejected lines in file order, after the first `skip` items.

    A missing day file is an empty day (helpdesks export nothing on quiet days); a missing root is a
    misconfiguration and raises, so a typo in `TRIAGE_SOURCE_ROOT` does not look like a quiet day.
    Skipped items (another batch's) are not validated and count in neither `stats.lines` nor the
    rest; the pre-pass over ids still sees them, so a duplicate across batches is caught alike.
    Every non-blank line yields exactly one item (a batch's window is counted in lines).
    """
    if not root.exists():
        raise TicketSourceError(f"ticket source root {root} does not exist")
    path = root / day_file_name(day)
    source = str(path)
    stats = stats if stats is not None else DayRead(source=source)
    stats.source = source
    if not path.exists():
        return
    stats.file_found = True
    start, end = utc_day_bounds(day)
    with _open(path, source) as handle:
        ids = _scan_ids(handle)
    with _open(path, source) as handle:
        for line_no, raw in enumerate(handle, start=1):
            raw = raw.rstrip(b"\r\n")
            if not raw.strip():
                continue  # blank lines (e.g. a trailing newline pair) carry nothing to lose
            if skip > 0:
                skip -= 1  # another batch's line: the pre-pass already saw its id
                continue
            stats.lines += 1
            item = _parse_line(raw, line_no, source)
            if isinstance(item, Ticket):
                item = _check_ticket(item, line_no, source, ids, start, end, check_interval)
            if isinstance(item, Ticket):
                stats.tickets += 1
                for name in item.unknown_fields:
                    stats.unknown_fields[name] = stats.unknown_fields.get(name, 0) + 1
            elif isinstance(item, DuplicateLine):
                stats.duplicates += 1
            else:
                stats.rejected += 1
            yield item


def _open(path: PathLike, source: str) -> Any:
    try:
        return path.open("rb")
    except OSError as exc:
        raise TicketSourceError(f"cannot read {source}: {exc}") from exc


@dataclass
class _IdScan:
    """What the pre-pass knows of each ticket id: its first line and content, and the conflicts."""

    first: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    conflicts: dict[str, list[int]] = field(default_factory=dict)


def _content_digest(data: dict[str, Any]) -> bytes:
    """Same content whatever the key order or spacing of the export (8 bytes: ids x 100k stay small)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(canonical.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def _scan_ids(handle: Any) -> _IdScan:
    scan = _IdScan()
    for line_no, raw in enumerate(handle, start=1):
        if not raw.strip():
            continue
        if line_no == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        try:
            data = json.loads(raw)
        except ValueError:
            continue  # an unreadable line is rejected on its own, with its id when it has one
        ticket_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(ticket_id, str) or not ticket_id.strip():
            continue
        ticket_id = ticket_id.strip()
        digest = _content_digest(data)
        seen = scan.first.get(ticket_id)
        if seen is None:
            scan.first[ticket_id] = (line_no, digest)
        elif ticket_id in scan.conflicts:
            # any later line of a conflicting id joins the conflict, identical to one of them or not
            scan.conflicts[ticket_id].append(line_no)
        elif seen[1] != digest:
            scan.conflicts[ticket_id] = [seen[0], line_no]
    return scan


def _check_ticket(
    ticket: Ticket,
    line_no: int,
    source: str,
    ids: _IdScan,
    start: datetime,
    end: datetime,
    check_interval: bool,
) -> Ticket | RejectedLine:
    def reject(field_name: str, error: str, kind: type[RejectedLine] = RejectedLine) -> RejectedLine:
        return kind(
            source=source,
            line=line_no,
            ticket_id=ticket.id,
            field=field_name,
            error=error,
            raw=ticket.model_dump_json()[:RAW_EXCERPT_CHARS],
        )

    conflict = ids.conflicts.get(ticket.id)
    if conflict is not None:
        lines = ", ".join(map(str, conflict))
        return reject(
            "id",
            f"duplicate ticket id, first seen on line {conflict[0]}, with different content on lines "
            f"{lines}: every line of this id goes to review (which one is right is for a person to say)",
        )
    first = ids.first.get(ticket.id)
    if first is not None and first[0] != line_no:
        return reject(
            "id", f"same content as line {first[0]} (ticket id {ticket.id}): triaged once", DuplicateLine
        )
    if check_interval and not (start <= ticket.created_at < end):
        return reject(
            "created_at",
            f"{ticket.created_at.isoformat()} is outside the file's UTC day "
            f"[{start.isoformat()}, {end.isoformat()})",
        )
    return ticket


def check_rejected_share(stats: DayRead, max_share: float = DEFAULT_MAX_REJECTED_SHARE) -> None:
    """Fail the whole file when most of it is unreadable: that is a broken export, not bad tickets."""
    if stats.lines and stats.rejected / stats.lines > max_share:
        raise TicketSourceError(
            f"{stats.source}: {stats.rejected} of {stats.lines} lines rejected "
            f"(more than {max_share:.0%}); is this a ticket export in JSON Lines format?"
        )
