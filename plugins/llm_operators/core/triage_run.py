"""Triage one day, or one batch of it: read, climb the ladder per ticket with bounded concurrency,
checkpoint, write.

This is the whole of the triage task minus Airflow: the operator resolves the day, builds the ladder
from its hook and hands over here. Tickets are pulled from the reader by a fixed pool of workers
(`concurrency` tickets in flight, not one asyncio task per ticket); the window's outcomes are kept
until `outcomes.jsonl` is written in file order, so memory grows with the window: about 7.5 KB per
ticket (bench/README.md). Batches (core/batches.py) bound it for big days.

Outcomes already in the checkpoint under the same ticket fingerprint are not asked again: from an
earlier attempt of this run (a retry resumes), or from an earlier run (a re-run or backfill reuses
them, shown as cache hits: no cost, no provider request, and no Router is even built when every
ticket is reused).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from llm_operators.core.budget import RunBudget
from llm_operators.core.checkpoint import Checkpoint, Entry
from llm_operators.core.day_source import TicketSource
from llm_operators.core.fingerprint import ticket_fingerprint
from llm_operators.core.ladder import Ladder
from llm_operators.core.models import CallStatus, OutcomeStatus, Ticket, TicketOutcome
from llm_operators.core.outputs import DayOutputs, write_jsonl
from llm_operators.core.report import TriageSummary, summarise
from llm_operators.core.ticket_source import (
    DayRead,
    DuplicateLine,
    RejectedLine,
    TicketSourceError,
    check_rejected_share,
)

log = logging.getLogger(__name__)


class SystemicOutageError(RuntimeError):
    """Too many tickets unresolved: most likely the providers are down. Fail so Airflow retries later."""


@dataclass
class DayPlan:
    """One unit of triage work: a whole day, or the window `[first, first + count)` of its items
    (tickets and unreadable lines, in file order) when the day is split into mapped batches.

    `source` is where the day is read from (core/day_source.py: day files, or a helpdesk).
    """

    outputs: DayOutputs
    day: date
    source: TicketSource
    concurrency: int = 16
    max_tickets: int | None = None
    first: int = 0
    count: int | None = None
    max_unresolved_share: float = 0.5
    fingerprint: str = ""  # core/fingerprint.run_fingerprint: outcomes made under others are not reused
    run_id: str = ""
    trace_metadata: Callable[[Ticket], dict[str, Any]] | None = None
    # called once a ticket's outcome is recorded (e.g. to close its trace, so spans leave as it ends)
    trace_done: Callable[[Ticket], None] | None = None
    progress_every_s: float = 10.0


@dataclass
class DayResult:
    summary: TriageSummary
    read: DayRead
    resumed: int = 0  # finished by an earlier attempt of this run
    reused: int = 0  # triaged by an earlier run under the same fingerprint
    rejected: list[RejectedLine] = field(default_factory=list)


async def _triage_all(
    tickets: Iterator[Ticket],
    ladder: Ladder,
    plan: DayPlan,
    on_outcome: Callable[[TicketOutcome], None],
) -> None:
    day = plan.day.isoformat()
    started = time.monotonic()
    done = 0
    last_log = started

    async def worker() -> None:
        nonlocal done, last_log
        for ticket in tickets:  # a shared iterator: next() is synchronous, so workers never race
            metadata = plan.trace_metadata(ticket) if plan.trace_metadata else None
            outcome = await ladder.triage(ticket, day, metadata)
            on_outcome(outcome)
            if plan.trace_done is not None:
                plan.trace_done(ticket)
            done += 1
            now = time.monotonic()
            if now - last_log >= plan.progress_every_s:
                last_log = now
                log.info("%s: %d tickets triaged (%.1f/s)", day, done, done / (now - started))

    await asyncio.gather(*(worker() for _ in range(plan.concurrency)))


def triage_day(plan: DayPlan, ladder: Ladder) -> DayResult:
    stats = DayRead(source="")
    rejected: list[RejectedLine] = []
    order: list[str] = []
    checkpoint = Checkpoint(plan.outputs.checkpoint, plan.run_id)
    plan.outputs.ensure_dir()
    stored = checkpoint.load()
    finished: dict[str, TicketOutcome] = {}
    fingerprints: dict[str, str] = {}
    resumed = reused = 0
    if isinstance(ladder.budget, RunBudget):
        ladder.budget.resume(
            sum(e.outcome.cost_usd for e in stored.values() if e.run_id == plan.run_id and not e.completed)
        )

    items = plan.source.read_day(plan.day, stats, plan.first)
    end = plan.first + plan.count if plan.count is not None else None

    def pending() -> Iterator[Ticket]:
        nonlocal resumed, reused
        for position, item in enumerate(items, start=plan.first):
            if end is not None and position >= end:
                break  # the rest of the day belongs to other batches
            if isinstance(item, DuplicateLine):
                # the same ticket word for word on an earlier line: triaged there, not again here
                log.info("skipped %s", item.describe())
                continue
            if isinstance(item, RejectedLine):
                rejected.append(item)
                log.warning("rejected %s", item.describe())
                continue
            if plan.max_tickets is not None and len(order) >= plan.max_tickets:
                continue  # counted in stats; the summary says how many were left for another run
            order.append(item.id)
            fingerprint = fingerprints[item.id] = ticket_fingerprint(plan.fingerprint, item)
            entry = stored.get(item.id)
            if entry is not None and entry.fingerprint == fingerprint:
                # an unfinished attempt of this run: resume; a finished run (this one, cleared and run
                # again, or another): reuse, as cache hits, since this execution asks no one
                resumable = entry.run_id == plan.run_id and not entry.completed
                if resumable and not _failed_by_provider(entry.outcome):
                    resumed += 1
                    finished[item.id] = entry.outcome
                    continue
                if _reusable(entry):
                    reused += 1
                    finished[item.id] = _as_reused(entry.outcome)
                    continue
            yield item

    def record(outcome: TicketOutcome) -> None:
        finished[outcome.ticket_id] = outcome
        checkpoint.append(outcome, fingerprints[outcome.ticket_id])

    try:
        asyncio.run(_triage_all(pending(), ladder, plan, record))
    finally:
        checkpoint.close()
    if not stats.file_found:
        log.info("no ticket file %s: an empty day", stats.source)
    check_rejected_share(stats)
    note = stats.unknown_fields_note()
    if note is not None:
        log.info(note)
    if plan.max_tickets is not None and stats.tickets > len(order):
        log.warning(
            "max_tickets=%d: %d tickets of %s left untriaged",
            plan.max_tickets,
            stats.tickets - len(order),
            stats.source,
        )

    outcomes = [finished[tid] for tid in order]
    write_jsonl(plan.outputs.outcomes, outcomes)
    write_jsonl(plan.outputs.rejected, rejected)
    summary = summarise(plan.day.isoformat(), outcomes, rejected_lines=len(rejected))
    # Only tickets that a provider failed count: an empty body or answers that stay invalid are not
    # fixed by a retry (they go to a human), and would otherwise fail a small day for ever.
    failed = [o for o in outcomes if _failed_by_provider(o)]
    if outcomes and len(failed) / len(outcomes) > plan.max_unresolved_share:
        _keep_only_resolved(checkpoint, outcomes, fingerprints)
        raise SystemicOutageError(
            f"{len(failed)} of {len(outcomes)} tickets of {plan.day} unresolved for provider errors "
            f"(more than {plan.max_unresolved_share:.0%}): providers look down; failing so Airflow retries. "
            f"First error: {failed[0].error}"
        )
    checkpoint.mark_complete()
    return DayResult(summary=summary, read=stats, resumed=resumed, reused=reused, rejected=rejected)


def _failed_by_provider(outcome: TicketOutcome) -> bool:
    """Unresolved, and some rung could not be asked at all (every deployment and fallback failed)."""
    return outcome.status is OutcomeStatus.UNRESOLVED and any(
        c.status is CallStatus.ERROR for c in outcome.calls
    )


def _reusable(entry: Entry) -> bool:
    """From an earlier run: not if a provider failed it (ask again) or the budget cut it short."""
    return not _failed_by_provider(entry.outcome) and not entry.outcome.budget_exhausted


def _as_reused(outcome: TicketOutcome) -> TicketOutcome:
    """This run asked no one: its calls are cache hits (no cost, no request; the cost is the saving)."""
    calls = [c.model_copy(update={"cache_hit": True, "attempts": 0}) for c in outcome.calls]
    return outcome.model_copy(update={"calls": calls})


def _keep_only_resolved(
    checkpoint: Checkpoint, outcomes: Iterable[TicketOutcome], fingerprints: dict[str, str]
) -> None:
    """Rewrite the checkpoint with the triaged tickets only, so the retry asks again for the rest."""
    checkpoint.discard()
    for outcome in outcomes:
        if outcome.status is OutcomeStatus.TRIAGED:
            checkpoint.append(outcome, fingerprints[outcome.ticket_id])
    checkpoint.close()


__all__ = ["DayPlan", "DayResult", "SystemicOutageError", "TicketSourceError", "triage_day"]
