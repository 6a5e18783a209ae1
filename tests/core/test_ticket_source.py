"""Reading a day file: every bad line becomes a RejectedLine that names file, line, ticket and field."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from llm_operators.core.models import RejectedLine, Ticket
from llm_operators.core.ticket_source import (
    DayRead,
    TicketSourceError,
    check_rejected_share,
    read_day,
    utc_day_bounds,
)

DAY = date(2025, 10, 1)
SAMPLE_ROOT = Path(__file__).resolve().parents[2] / "include" / "sample_data" / "tickets"


def ticket(tid: str = "T-1", **overrides: object) -> dict:
    data = {
        "id": tid,
        "created_at": "2025-10-01T08:00:00+00:00",
        "customer": "CUST-1",
        "channel": "email",
        "subject": "Invoice question",
        "body": "Why was I charged twice?",
        "labels": {"category": "billing", "priority": "P2", "needs_human": False, "pii": False},
    }
    data.update(overrides)
    return data


def write_day(root: Path, *lines: str | bytes | dict, day: date = DAY) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    out = bytearray()
    for line in lines:
        if isinstance(line, dict):
            line = json.dumps(line)
        out += line if isinstance(line, bytes) else line.encode()
        out += b"\n"
    path = root / f"{day.isoformat()}.jsonl"
    path.write_bytes(bytes(out))
    return path


def read_all(root: Path, day: date = DAY) -> tuple[list[Ticket | RejectedLine], DayRead]:
    stats = DayRead(source="")
    return list(read_day(root, day, stats)), stats


def only_rejected(items: list) -> RejectedLine:
    rejected = [i for i in items if isinstance(i, RejectedLine)]
    assert len(rejected) == 1, items
    return rejected[0]


def test_valid_file_reads_every_ticket_in_order(tmp_path):
    write_day(tmp_path, ticket("T-1"), ticket("T-2"), ticket("T-3"))
    items, stats = read_all(tmp_path)
    assert [t.id for t in items] == ["T-1", "T-2", "T-3"]
    assert all(isinstance(t, Ticket) for t in items)
    assert (stats.file_found, stats.lines, stats.tickets, stats.rejected) == (True, 3, 3, 0)
    assert stats.source.endswith("2025-10-01.jsonl")


def test_invalid_json_line_is_rejected_with_file_line_and_id(tmp_path):
    path = write_day(tmp_path, ticket("T-1"), '{"id": "T-2", "subject": "x", "body": ', ticket("T-3"))
    items, stats = read_all(tmp_path)
    bad = only_rejected(items)
    assert (bad.line, bad.ticket_id, bad.source) == (2, "T-2", str(path))
    assert bad.error.startswith("invalid JSON")
    assert bad.describe().startswith(f"{path}:2 ticket T-2: invalid JSON")
    assert [t.id for t in items if isinstance(t, Ticket)] == ["T-1", "T-3"]
    assert (stats.tickets, stats.rejected) == (2, 1)


def test_garbage_line_without_any_id(tmp_path):
    write_day(tmp_path, "this is not json at all")
    bad = only_rejected(read_all(tmp_path)[0])
    assert bad.ticket_id is None
    assert bad.raw == "this is not json at all"
    assert bad.describe().endswith(":1: invalid JSON: Expecting value at column 1")


@pytest.mark.parametrize(("line", "kind"), [('["T-1", "subject"]', "list"), ('"just a string"', "str")])
def test_json_that_is_not_an_object_is_rejected(tmp_path, line, kind):
    path = write_day(tmp_path, line)
    bad = only_rejected(read_all(tmp_path)[0])
    assert bad.describe() == f"{path}:1: expected a JSON object, got {kind}"


def test_missing_required_subject_names_the_field(tmp_path):
    data = ticket("T-9")
    del data["subject"]
    path = write_day(tmp_path, ticket("T-1"), data)
    bad = only_rejected(read_all(tmp_path)[0])
    assert (bad.line, bad.ticket_id, bad.field) == (2, "T-9", "subject")
    assert bad.describe() == f"{path}:2 ticket T-9 field 'subject': Field required"


def test_created_at_number_is_rejected_on_created_at(tmp_path):
    # a bare number is refused as a type error, not read as a Unix timestamp
    write_day(tmp_path, ticket("T-1", created_at=123))
    bad = only_rejected(read_all(tmp_path)[0])
    assert (bad.ticket_id, bad.field) == ("T-1", "created_at")
    assert "ISO 8601 string" in bad.error and "not a number" in bad.error


def test_created_at_of_wrong_type_is_rejected(tmp_path):
    write_day(tmp_path, ticket("T-1", created_at=["2025-10-01"]))
    bad = only_rejected(read_all(tmp_path)[0])
    assert (bad.ticket_id, bad.field) == ("T-1", "created_at")
    assert "datetime" in bad.error


def test_unknown_priority_label_names_the_nested_field(tmp_path):
    data = ticket("T-7")
    data["labels"]["priority"] = "P7"
    write_day(tmp_path, data)
    bad = only_rejected(read_all(tmp_path)[0])
    assert (bad.ticket_id, bad.field) == ("T-7", "labels.priority")
    assert "'P0', 'P1', 'P2' or 'P3'" in bad.error
    assert "ticket T-7 field 'labels.priority'" in bad.describe()


def test_several_errors_report_the_first_and_a_count(tmp_path):
    write_day(tmp_path, ticket("T-1", subject="", body=5))
    bad = only_rejected(read_all(tmp_path)[0])
    assert bad.field == "subject"
    assert bad.error.endswith("(+1 more)")


def test_unknown_extra_field_is_rejected(tmp_path):
    write_day(tmp_path, ticket("T-1", assignee="bob"))
    bad = only_rejected(read_all(tmp_path)[0])
    assert (bad.ticket_id, bad.field) == ("T-1", "assignee")
    assert bad.error == "Extra inputs are not permitted"


def test_duplicate_id_rejects_the_second_and_names_the_first_line(tmp_path):
    path = write_day(tmp_path, ticket("T-1"), ticket("T-2"), ticket("T-1", subject="again"))
    items, stats = read_all(tmp_path)
    assert isinstance(items[0], Ticket) and items[0].subject == "Invoice question"
    bad = only_rejected(items)
    assert (bad.line, bad.ticket_id, bad.field) == (3, "T-1", "id")
    assert bad.describe() == f"{path}:3 ticket T-1 field 'id': duplicate ticket id, first seen on line 1"
    assert (stats.tickets, stats.rejected) == (2, 1)


def test_non_utf8_bytes_reject_only_that_line(tmp_path):
    good = json.dumps(ticket("T-1")).encode()
    broken = json.dumps(ticket("T-2", body="caf\u00e9")).encode().replace(b"\\u00e9", b"\xe9")
    write_day(tmp_path, good, broken, json.dumps(ticket("T-3")).encode())
    items, stats = read_all(tmp_path)
    bad = only_rejected(items)
    assert (bad.line, bad.ticket_id, bad.field) == (2, "T-2", "body")
    assert bad.error.startswith("not valid UTF-8 (byte ")
    assert "\ufffd" in bad.raw  # the excerpt is still readable for the reviewer
    assert [t.id for t in items if isinstance(t, Ticket)] == ["T-1", "T-3"]
    assert stats.lines == 3


def test_utf8_byte_order_mark_on_the_first_line_is_accepted(tmp_path):
    write_day(tmp_path, b"\xef\xbb\xbf" + json.dumps(ticket("T-1")).encode(), ticket("T-2"))
    items, stats = read_all(tmp_path)
    assert [t.id for t in items if isinstance(t, Ticket)] == ["T-1", "T-2"]
    assert stats.rejected == 0


def test_timestamp_without_timezone_is_rejected(tmp_path):
    write_day(tmp_path, ticket("T-1", created_at="2025-10-01T08:00:00"))
    bad = only_rejected(read_all(tmp_path)[0])
    assert (bad.ticket_id, bad.field) == ("T-1", "created_at")
    assert bad.error == "Input should have timezone info"


@pytest.mark.parametrize(
    "created_at",
    ["2025-09-30T23:59:59+00:00", "2025-10-02T00:00:00+00:00", "2025-10-01T23:30:00-02:00"],
)
def test_created_at_outside_the_files_utc_day_is_rejected(tmp_path, created_at):
    write_day(tmp_path, ticket("T-1", created_at=created_at))
    bad = only_rejected(read_all(tmp_path)[0])
    assert (bad.ticket_id, bad.field) == ("T-1", "created_at")
    assert "is outside the file's UTC day [2025-10-01T00:00:00+00:00, 2025-10-02T00:00:00+00:00)" in (
        bad.error
    )


def test_non_utc_offset_inside_the_utc_day_is_accepted(tmp_path):
    # 2025-09-30T22:30-08:00 is 2025-10-01T06:30Z; exactly midnight UTC is the day's first instant
    write_day(
        tmp_path,
        ticket("T-1", created_at="2025-09-30T22:30:00-08:00"),
        ticket("T-2", created_at="2025-10-01T00:00:00Z"),
    )
    items, _ = read_all(tmp_path)
    assert [t.id for t in items if isinstance(t, Ticket)] == ["T-1", "T-2"]
    assert items[0].created_at.astimezone(UTC) == datetime(2025, 10, 1, 6, 30, tzinfo=UTC)


def test_interval_check_can_be_switched_off(tmp_path):
    write_day(tmp_path, ticket("T-1", created_at="2025-09-15T08:00:00+00:00"))
    items = list(read_day(tmp_path, DAY, check_interval=False))
    assert [type(i) for i in items] == [Ticket]


def test_empty_body_is_kept_as_a_ticket(tmp_path):
    write_day(tmp_path, ticket("T-1", body=""))
    items, stats = read_all(tmp_path)
    assert isinstance(items[0], Ticket)
    assert items[0].body == ""
    assert stats.rejected == 0


def test_blank_lines_are_skipped_and_not_counted(tmp_path):
    write_day(tmp_path, "", ticket("T-1"), "   ", "\r", ticket("T-2"), "")
    items, stats = read_all(tmp_path)
    assert [t.id for t in items] == ["T-1", "T-2"]
    assert (stats.lines, stats.tickets, stats.rejected) == (2, 2, 0)


def test_line_numbers_count_blank_lines(tmp_path):
    write_day(tmp_path, "", "", "not json")
    assert only_rejected(read_all(tmp_path)[0]).line == 3


def test_crlf_line_endings_are_read(tmp_path):
    (tmp_path / "2025-10-01.jsonl").write_bytes(
        (json.dumps(ticket("T-1")) + "\r\n" + json.dumps(ticket("T-2")) + "\r\n").encode()
    )
    items, stats = read_all(tmp_path)
    assert [t.id for t in items] == ["T-1", "T-2"]
    assert stats.rejected == 0


def test_mostly_garbage_file_fails_the_whole_file(tmp_path):
    path = write_day(tmp_path, ticket("T-1"), "garbage", "<html>", "{", ticket("T-2"))
    _, stats = read_all(tmp_path)
    assert (stats.lines, stats.rejected) == (5, 3)
    with pytest.raises(TicketSourceError) as err:
        check_rejected_share(stats)
    assert str(err.value).startswith(f"{path}: 3 of 5 lines rejected (more than 50%)")


def test_a_few_bad_lines_do_not_fail_the_file(tmp_path):
    write_day(tmp_path, ticket("T-1"), "garbage", ticket("T-2"))
    _, stats = read_all(tmp_path)
    check_rejected_share(stats)  # 1 of 3: no error
    with pytest.raises(TicketSourceError, match="1 of 3 lines rejected"):
        check_rejected_share(stats, max_share=0.2)


def test_missing_day_file_is_an_empty_day(tmp_path):
    items, stats = read_all(tmp_path, date(2025, 10, 2))
    assert items == []
    assert stats.file_found is False
    assert (stats.lines, stats.tickets, stats.rejected) == (0, 0, 0)
    assert stats.source == str(tmp_path / "2025-10-02.jsonl")
    check_rejected_share(stats)  # an empty day is not a broken file


def test_missing_source_root_is_an_error(tmp_path):
    missing = tmp_path / "no-such-dir"
    with pytest.raises(TicketSourceError, match=f"ticket source root {missing} does not exist"):
        list(read_day(missing, DAY))


def test_very_large_body_is_read_whole(tmp_path):
    body = "x" * 199_999 + "!"
    write_day(tmp_path, ticket("T-1", body=body))
    items, _ = read_all(tmp_path)
    assert isinstance(items[0], Ticket)
    assert len(items[0].body) == 200_000
    assert items[0].body.endswith("x!")


def test_rejected_raw_excerpt_is_bounded(tmp_path):
    write_day(tmp_path, "{" + "a" * 10_000)
    bad = only_rejected(read_all(tmp_path)[0])
    assert len(bad.raw) == 500


def test_utc_day_bounds():
    assert utc_day_bounds(DAY) == (
        datetime(2025, 10, 1, tzinfo=UTC),
        datetime(2025, 10, 2, tzinfo=UTC),
    )


def test_real_sample_day_reads_without_rejects():
    stats = DayRead(source="")
    items = list(read_day(SAMPLE_ROOT, DAY, stats))
    assert stats.file_found
    assert stats.rejected == 0
    assert stats.tickets == len(items) == 13
    assert all(isinstance(i, Ticket) and i.labels is not None for i in items)
    # several tickets of this file carry a non-UTC offset; all fall inside the UTC day
    assert any(i.created_at.utcoffset().total_seconds() != 0 for i in items)
