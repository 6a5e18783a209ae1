"""The ladder in rounds, for provider batch APIs: which request of which ticket goes into which round,
and how a round's answers become the same per-ticket outcomes as live mode.

No decision is re-implemented here. Each round *replays* the real `Ladder` (core/ladder.py) over
every ticket with a caller that answers from the `AnswerBook` (every answer received so far, by
request key). A ticket whose ladder asks for a request the book does not have yet stops there: that
request joins the next round. So rung 0 of every ticket is round 1; escalations (an invalid answer
after its repair, or a confident-enough answer missing) and repairs join later rounds; a ticket whose
ladder finishes on answers the book holds gets exactly the outcome the live ladder would give on the
same answers. Replaying is deterministic because messages depend only on the ticket and earlier
answers, and the request key hashes all of them.

A request whose batch line failed (expired, cancelled, a provider error) is not an answer: it is
asked again, in a later batch or live once it has failed `max_batch_failures` times. A group's round
smaller than `min_round_size`, and every round once the run is past its deadline, is asked live.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field

from llm_operators.core.call_request import Caller, CallRequest
from llm_operators.core.config import BatchSettings
from llm_operators.core.ladder import Budget, Ladder, LadderPolicy
from llm_operators.core.models import CallRecord, CallStatus, Ticket, TicketOutcome


class Answerer(Protocol):
    """Which deployment answered a request: a provider batch, or the live call a cached answer came from."""

    answered_group: str
    deployment: str
    api_base: str | None


class Usage(Protocol):
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


def answered_record(request: CallRequest, by: Answerer, usage: Usage, **more: Any) -> CallRecord:
    """The record of a request answered without a live call (a batch line or the cache)."""
    return request.record(
        deployment=by.deployment,
        api_base=by.api_base,
        status=CallStatus.OK,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cost_usd=usage.cost_usd,
        fallback_used=by.answered_group != request.group,
        **more,
    )


class BookEntry(BaseModel):
    content: str | None
    record: CallRecord  # as the provider answered it, before the ladder validated the content


class AnswerBook(BaseModel):
    """Every answer received for the run (batch, live or cache), and the batch failures per request."""

    answers: dict[str, BookEntry] = Field(default_factory=dict)
    failures: dict[str, list[str]] = Field(default_factory=dict)

    def add(self, key: str, content: str | None, record: CallRecord) -> None:
        self.answers[key] = BookEntry(content=content, record=record.model_copy(deep=True))

    def fail(self, key: str, error: str) -> None:
        self.failures.setdefault(key, []).append(error)

    def failure_count(self, key: str) -> int:
        return len(self.failures.get(key, ()))


class NeedsAnswer(Exception):
    """Raised by `ReplayCaller` through the ladder: this ticket waits for `request`."""

    def __init__(self, request: CallRequest) -> None:
        super().__init__(request.key)
        self.request = request


class ReplayCaller:
    """A ladder `Caller` answering from the book; a missing answer is asked `live` if given, else
    the ladder is stopped with `NeedsAnswer`. Records are copies: the ladder marks its own."""

    def __init__(self, book: AnswerBook, live: Caller | None = None) -> None:
        self.book = book
        self.live = live

    async def __call__(self, request: CallRequest) -> tuple[str | None, CallRecord]:
        entry = self.book.answers.get(request.key)
        if entry is not None:
            return entry.content, entry.record.model_copy(deep=True)
        if self.live is None:
            raise NeedsAnswer(request)
        content, record = await self.live(request)
        # kept even when every deployment failed: the ladder moved on from it, and a replay must too
        self.book.add(request.key, content, record)
        return content, record


@dataclass
class Replay:
    finished: dict[str, TicketOutcome] = field(default_factory=dict)
    pending: dict[str, CallRequest] = field(default_factory=dict)  # ticket id -> what it waits for


async def replay(
    tickets: Iterable[Ticket],
    policy: LadderPolicy,
    book: AnswerBook,
    day: str,
    *,
    budget_limit_usd: float | None = None,
    metadata_for: Callable[[Ticket], dict[str, Any] | None] | None = None,
) -> Replay:
    """Climb every ticket's ladder as far as the book's answers go (in ticket order, one budget)."""
    ladder = Ladder(policy, ReplayCaller(book), Budget(limit_usd=budget_limit_usd))
    out = Replay()
    for ticket in tickets:
        try:
            out.finished[ticket.id] = await ladder.triage(
                ticket, day, metadata_for(ticket) if metadata_for else None
            )
        except NeedsAnswer as need:
            out.pending[ticket.id] = need.request
    return out


async def finish_live(
    tickets: Iterable[Ticket],
    policy: LadderPolicy,
    book: AnswerBook,
    day: str,
    live: Caller,
    *,
    budget_limit_usd: float | None = None,
) -> dict[str, TicketOutcome]:
    """The rest of these tickets' ladders, live (answers already in the book are not asked again)."""
    ladder = Ladder(policy, ReplayCaller(book, live=live), Budget(limit_usd=budget_limit_usd))
    return {t.id: await ladder.triage(t, day) for t in tickets}


@dataclass
class RoundPlan:
    batches: dict[str, list[CallRequest]] = field(default_factory=dict)  # model group -> one batch
    live: list[str] = field(default_factory=list)  # ticket ids finished live, with why
    why_live: dict[str, str] = field(default_factory=dict)


def plan_round(
    pending: Mapping[str, CallRequest], book: AnswerBook, settings: BatchSettings, *, past_deadline: bool
) -> RoundPlan:
    plan = RoundPlan()
    by_group: dict[str, list[CallRequest]] = {}
    for ticket_id, request in pending.items():
        if past_deadline:
            plan.why_live[ticket_id] = "past the batch deadline"
        elif book.failure_count(request.key) >= settings.max_batch_failures:
            plan.why_live[ticket_id] = f"failed in a batch: {book.failures[request.key][-1]}"
        else:
            by_group.setdefault(request.group, []).append(request)
    for group, requests in by_group.items():
        if len(requests) < settings.min_round_size:
            for request in requests:
                plan.why_live[request.ticket_id] = (
                    f"round of {len(requests)} for {group} below {settings.min_round_size}"
                )
        else:
            plan.batches[group] = requests
    plan.live = list(plan.why_live)
    return plan


class LineAnswer(BaseModel):
    """One line of a finished provider batch, as the LiteLLM layer read it (cost at the batch price)."""

    key: str
    content: str | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class RoundBatch(BaseModel):
    """A provider batch of one round (what `merge_round` needs to write each line's `CallRecord`)."""

    round: int
    group: str
    answered_group: str
    deployment: str
    api_base: str | None = None
    submitted_at: float
    finished_at: float | None = None
    status: str | None = None
    keys: list[str]
    ref: dict[str, Any] = Field(description="the LiteLLM layer's reference, to find the batch again")


def merge_round(
    book: AnswerBook,
    batch: RoundBatch,
    requests: Mapping[str, CallRequest],
    answers: Mapping[str, LineAnswer],
) -> tuple[int, int]:
    """Answers into the book as records like live calls' (one request, no retry); failures counted.

    Returns (answered, failed). A key the batch had but the answers lack is failed, never dropped.
    """
    answered = failed = 0
    latency_ms = max(0.0, ((batch.finished_at or batch.submitted_at) - batch.submitted_at) * 1000)
    for key in batch.keys:
        request = requests.get(key)
        answer = answers.get(key)
        if request is None:
            continue  # a ticket no longer in the run (settings changed): nothing waits for it
        if answer is None or answer.error is not None:
            book.fail(key, answer.error if answer and answer.error else f"batch {batch.status}: no result")
            failed += 1
            continue
        book.add(
            key,
            answer.content,
            answered_record(
                request,
                batch,
                answer,
                latency_ms=latency_ms,
                attempts=1,
                started_at=datetime.fromtimestamp(batch.submitted_at, UTC),
            ),
        )
        answered += 1
    return answered, failed


class PlannedBatch(BaseModel):
    """A batch of the round being submitted, saved before it is created: a worker killed between the
    provider's answer and the next state write leaves this behind, and the retry looks the batch up
    at the provider (by the metadata it was tagged with) instead of creating it again."""

    round: int
    group: str
    keys: list[str]
    planned_at: float  # the provider cannot have created it earlier: where the lookup stops paging


def past_deadline(state: BatchRunState, settings: BatchSettings, now: float) -> bool:
    return state.started_at is not None and now - state.started_at > settings.deadline_s


class BatchRunState(BaseModel):
    """Everything a retry, a worker crash or a resume needs: persisted before every deferral."""

    fingerprint: str
    started_at: float | None = None  # the first batch's submission: the deadline counts from here
    round: int = 0
    book: AnswerBook = Field(default_factory=AnswerBook)
    # key -> request of the batches in flight or being submitted
    pending: dict[str, CallRequest] = Field(default_factory=dict)
    submitting: list[PlannedBatch] = Field(default_factory=list)  # planned, not known to be created yet
    in_flight: list[RoundBatch] = Field(default_factory=list)
    done: list[RoundBatch] = Field(default_factory=list)
    live_tickets: int = 0


def load_state(path: Any, fingerprint: str) -> BatchRunState:
    """The persisted state if it belongs to these settings, else a fresh one (an old state's batches
    were asked under other settings; their answers would not be this run's)."""
    if path.exists():
        state = BatchRunState.model_validate_json(path.read_text())
        if state.fingerprint == fingerprint:
            return state
    return BatchRunState(fingerprint=fingerprint)


def save_state(path: Any, state: BatchRunState) -> None:
    """Written whole to a temporary name, then renamed: a kill mid-write leaves the previous state."""
    tmp = path.parent / f"{path.name}.tmp"
    tmp.write_text(state.model_dump_json())
    tmp.rename(path)


def discard_state(path: Any) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
