"""Batches for dynamic task mapping: planning, the per-batch window, and merging back in order."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from llm_operators.core.batches import batch_outputs, count_items, merge_batches, plan_batches
from llm_operators.core.call_request import CallRequest
from llm_operators.core.day_source import FileTicketSource
from llm_operators.core.ladder import Ladder, LadderPolicy
from llm_operators.core.models import CallRecord, CallStatus, TicketOutcome
from llm_operators.core.outputs import DayOutputs, read_jsonl
from llm_operators.core.ticket_source import TicketSourceError
from llm_operators.core.triage_run import DayPlan, triage_day

DAY = date(2025, 10, 1)
ANSWER = json.dumps(
    {
        "category": "billing",
        "priority": "P2",
        "sentiment": "neutral",
        "pii_detected": False,
        "needs_human": False,
        "suggested_reply": "Thanks, our billing team will follow up shortly.",
        "confidence": 0.9,
        "rationale": "test",
    }
)


class CountingCaller:
    def __init__(self) -> None:
        self.tickets: list[str] = []

    async def __call__(self, request: CallRequest) -> tuple[str, CallRecord]:
        self.tickets.append(request.ticket_id)
        return ANSWER, CallRecord(
            ticket_id=request.ticket_id, rung=request.rung, model_group=request.group, status=CallStatus.OK
        )


def _write_day(root: Path, n: int, bad_lines: tuple[int, ...] = ()) -> list[str]:
    lines, ids = [], []
    for i in range(n):
        if i in bad_lines:
            lines.append("{not json")
            continue
        ids.append(f"T-{i:03d}")
        lines.append(
            json.dumps(
                {
                    "id": f"T-{i:03d}",
                    "created_at": f"2025-10-01T10:{i % 60:02d}:00+00:00",
                    "subject": "Invoice",
                    "body": "I was charged twice on my invoice.",
                }
            )
        )
    (root / "2025-10-01.jsonl").write_text("\n".join(lines) + "\n\n")
    return ids


@pytest.mark.parametrize(
    ("items", "size", "expected"),
    [
        (0, 10, [(0, 0)]),
        (7, 10, [(0, 7)]),
        (10, 5, [(0, 5), (5, 5)]),
        (11, 5, [(0, 5), (5, 5), (10, 1)]),
    ],
)
def test_plan_batches_windows(items: int, size: int, expected: list[tuple[int, int]]) -> None:
    specs = plan_batches("2025-10-01", items, size)
    assert [(s.first, s.count) for s in specs] == expected
    assert all(s.of == len(expected) and s.total == items for s in specs)
    assert sum(s.share for s in specs) == pytest.approx(1.0)


def test_plan_respects_max_tickets_and_rejects_bad_size() -> None:
    assert [(s.first, s.count) for s in plan_batches("d", 100, 30, max_tickets=40)] == [(0, 30), (30, 10)]
    with pytest.raises(ValueError, match="batch_size"):
        plan_batches("d", 10, 0)


def test_count_items_skips_blank_lines_and_needs_the_root(tmp_path: Path) -> None:
    _write_day(tmp_path, 12)
    assert count_items(tmp_path, DAY) == 12
    assert count_items(tmp_path, date(2025, 10, 2)) == 0
    with pytest.raises(TicketSourceError):
        count_items(tmp_path / "nope", DAY)


def test_batches_cover_the_day_exactly_once_and_merge_in_order(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    ids = _write_day(src, 23, bad_lines=(7,))
    day_out = DayOutputs(out, DAY.isoformat())
    source = FileTicketSource(src)
    specs = plan_batches(DAY.isoformat(), source.count(DAY), batch_size=5)
    caller = CountingCaller()
    for spec in specs:
        plan = DayPlan(
            source=source,
            outputs=batch_outputs(day_out, spec.index),
            day=DAY,
            concurrency=3,
            first=spec.first,
            count=spec.count,
        )
        triage_day(plan, Ladder(LadderPolicy(rungs=["cheap"]), caller))
    assert sorted(caller.tickets) == ids  # every ticket asked once, across all batches
    assert merge_batches(day_out, specs) == (22, 1)
    assert [o.ticket_id for o in read_jsonl(day_out.outcomes, TicketOutcome)] == ids  # file order kept
    assert "not valid" in day_out.rejected.read_text() or "invalid JSON" in day_out.rejected.read_text()


def test_merge_refuses_a_missing_batch(tmp_path: Path) -> None:
    specs = plan_batches("2025-10-01", 10, 5)
    with pytest.raises(FileNotFoundError, match=r"batches \[0, 1\]"):
        merge_batches(DayOutputs(tmp_path, "2025-10-01"), specs)


def test_a_later_batch_skips_earlier_lines_but_still_catches_their_duplicates(tmp_path: Path) -> None:
    from llm_operators.core.ticket_source import DayRead, read_day

    _write_day(tmp_path, 6, bad_lines=(1,))
    with (tmp_path / "2025-10-01.jsonl").open("a") as fh:  # line 8: a duplicate of T-000 (batch 0's)
        fh.write(
            json.dumps(
                {"id": "T-000", "created_at": "2025-10-01T11:00:00+00:00", "subject": "s", "body": "b"}
            )
            + "\n"
        )
    stats = DayRead(source="")
    items = list(read_day(tmp_path, DAY, stats, skip=4))
    assert [getattr(i, "id", None) or i.ticket_id for i in items] == ["T-004", "T-005", "T-000"]
    assert "duplicate ticket id, first seen on line 1" in items[-1].error
    assert (stats.lines, stats.tickets, stats.rejected) == (3, 2, 1)  # the skipped bad line is not ours
