"""Splitting a day into batches for dynamic task mapping, and merging the batches back.

A day too big for one task (100k tickets) becomes N mapped triage tasks, each owning the window
`[first, first + count)` of the day's items, with its own outputs and checkpoint under
`<day>/batches/<index>/`; the merge streams them back into the day's files in order. Memory per task
is bounded by the batch size, not the day. A small day is one batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from llm_operators.core.models import RejectedLine, TicketOutcome
from llm_operators.core.outputs import DayOutputs, read_jsonl, write_jsonl
from llm_operators.core.ticket_source import PathLike, TicketSourceError, day_file_name


class BatchSpec(BaseModel):
    """What one mapped triage task is given (small: it travels through XCom)."""

    model_config = ConfigDict(extra="forbid")

    day: str
    index: int = Field(ge=0)
    of: int = Field(ge=1)
    first: int = Field(ge=0)
    count: int = Field(ge=0)
    total: int = Field(ge=0, description="items of the day this run triages, over all batches")

    @property
    def share(self) -> float:
        """This batch's part of the run, e.g. for splitting the run's budget."""
        return self.count / self.total if self.total else 1.0


def count_items(root: PathLike, day: date) -> int:
    """Non-blank lines of the day file, without parsing them (a missing file is an empty day)."""
    if not root.exists():
        raise TicketSourceError(f"ticket source root {root} does not exist")
    path = root / day_file_name(day)
    if not path.exists():
        return 0
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def plan_batches(day: str, items: int, batch_size: int, max_tickets: int | None = None) -> list[BatchSpec]:
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    total = min(items, max_tickets) if max_tickets is not None else items
    n = max(1, -(-total // batch_size))
    return [
        BatchSpec(
            day=day,
            index=i,
            of=n,
            first=i * batch_size,
            count=min(batch_size, total - i * batch_size),
            total=total,
        )
        for i in range(n)
    ]


def batch_outputs(outputs: DayOutputs, index: int) -> DayOutputs:
    return DayOutputs(outputs.dir / "batches", f"{index:05d}")


def iter_batch_outcomes(outputs: DayOutputs, specs: list[BatchSpec]) -> Iterator[TicketOutcome]:
    for spec in specs:
        yield from read_jsonl(batch_outputs(outputs, spec.index).outcomes, TicketOutcome)


def merge_batches(outputs: DayOutputs, specs: list[BatchSpec]) -> tuple[int, int]:
    """Write the day's outcomes.jsonl and rejected.jsonl from its batches, in order; return counts."""
    missing = [s.index for s in specs if not batch_outputs(outputs, s.index).outcomes.exists()]
    if missing:
        raise FileNotFoundError(f"batches {missing} of {outputs.day} have no outcomes: did they run?")
    tickets = write_jsonl(outputs.outcomes, iter_batch_outcomes(outputs, specs))
    rejected = write_jsonl(
        outputs.rejected,
        (r for s in specs for r in read_jsonl(batch_outputs(outputs, s.index).rejected, RejectedLine)),
    )
    return tickets, rejected
