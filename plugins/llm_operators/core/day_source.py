"""The `TicketSource` seam: where a run reads one UTC day of tickets from, files or a helpdesk.

Both sources stream the day in a stable order, so a batch can start after the first `skip` items of
the day and two batches never share a ticket.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Protocol, runtime_checkable

from llm_operators.core.batches import count_items
from llm_operators.core.models import RejectedLine, Ticket
from llm_operators.core.ticket_source import DayRead, PathLike, read_day


@runtime_checkable
class TicketSource(Protocol):
    def read_day(
        self, day: date, stats: DayRead | None = None, skip: int = 0
    ) -> Iterator[Ticket | RejectedLine]:
        """The day's items after the first `skip`, counted into `stats` as they are read."""
        ...

    def count(self, day: date) -> int:
        """How many items the day holds (what batches are planned on)."""
        ...


class FileTicketSource:
    """`<root>/<YYYY-MM-DD>.jsonl` files (a local path or an ObjectStoragePath)."""

    def __init__(self, root: PathLike) -> None:
        self.root = root

    def read_day(
        self, day: date, stats: DayRead | None = None, skip: int = 0
    ) -> Iterator[Ticket | RejectedLine]:
        return read_day(self.root, day, stats, skip=skip)

    def count(self, day: date) -> int:
        return count_items(self.root, day)
