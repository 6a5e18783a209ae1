"""The ladder in rounds gives the live ladder's outcomes on the same answers; rounds are planned and
merged by the rules in core/batch_rounds.py. No network: a scripted provider answers both modes."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

from llm_operators.core.batch_rounds import (
    AnswerBook,
    BatchSettings,
    LineAnswer,
    RoundBatch,
    finish_live,
    load_state,
    merge_round,
    plan_round,
    replay,
    save_state,
)
from llm_operators.core.call_request import CallRequest
from llm_operators.core.ladder import Ladder, LadderPolicy
from llm_operators.core.models import CallRecord, CallStatus, Ticket, TicketOutcome
from llm_operators.core.offline_engine import triage_text
from llm_operators.core.prompts import extract_ticket_text
from llm_operators.core.ticket_source import read_day

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "include" / "sample_data" / "tickets"
DAY = "2025-10-01"
POLICY = LadderPolicy(rungs=["cheap", "strong"], escalate_below=0.7)


def tickets(n: int = 40) -> list[Ticket]:
    """Sample tickets of the first days of October (their day does not matter to the ladder)."""
    out: list[Ticket] = []
    for day in range(1, 15):
        out += [t for t in read_day(SAMPLES, date(2025, 10, day)) if isinstance(t, Ticket)]
    assert len(out) >= n
    return out[:n]


def _broken(ticket_id: str) -> bool:
    """About one ticket in five answers garbage on its first cheap try: repairs must join a round."""
    return int(hashlib.sha256(ticket_id.encode()).hexdigest(), 16) % 5 == 0


def answer(ticket_id: str, rung: int, group: str, messages: list[dict[str, str]], repair: bool) -> str:
    if group == "cheap" and not repair and _broken(ticket_id):
        return "Sure! It is a billing question, I think."
    return json.dumps(triage_text(extract_ticket_text(messages), "careful" if group == "strong" else "fast"))


class ScriptedProvider:
    """The live caller: the same answer for the same request, whatever the mode."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, bool]] = []

    async def __call__(self, request: CallRequest) -> tuple[str | None, CallRecord]:
        self.calls.append((request.ticket_id, request.rung, request.repair))
        content = answer(request.ticket_id, request.rung, request.group, request.messages, request.repair)
        return content, CallRecord(
            ticket_id=request.ticket_id,
            rung=request.rung,
            model_group=request.group,
            deployment=f"openai/{request.group}",
            repair=request.repair,
            status=CallStatus.OK,
            prompt_tokens=100,
            completion_tokens=50,
            cost_usd=0.002 if request.group == "strong" else 0.0002,
        )


def route(outcome: TicketOutcome) -> tuple[Any, ...]:
    result = outcome.result.model_dump() if outcome.result else None
    calls = [(c.rung, c.repair, c.status.value) for c in outcome.calls]
    return outcome.status.value, outcome.final_rung, outcome.escalated, result, calls


def run_rounds(items: list[Ticket], settings: BatchSettings) -> tuple[dict[str, TicketOutcome], list[int]]:
    """The operator's loop without the provider: each round's batches answered by the scripted text."""
    book = AnswerBook()
    sizes: list[int] = []
    for round_no in range(1, 20):
        state = asyncio.run(replay(items, POLICY, book, DAY))
        if not state.pending:
            return state.finished, sizes
        plan = plan_round(state.pending, book, settings, past_deadline=False)
        assert not plan.live, plan.why_live
        for group, requests in plan.batches.items():
            sizes.append(len(requests))
            batch = RoundBatch(
                round=round_no,
                group=group,
                answered_group=group,
                deployment=f"openai/{group}",
                submitted_at=1000.0,
                finished_at=1600.0,
                status="completed",
                keys=[r.key for r in requests],
                ref={},
            )
            answers = {
                r.key: LineAnswer(
                    key=r.key,
                    content=answer(r.ticket_id, r.rung, r.group, r.messages, r.repair),
                    prompt_tokens=100,
                    completion_tokens=50,
                    cost_usd=0.0001,
                )
                for r in requests
            }
            assert merge_round(book, batch, {r.key: r for r in requests}, answers) == (len(requests), 0)
    raise AssertionError("rounds never finished")


def test_rounds_give_the_live_ladders_routes_on_the_same_answers() -> None:
    items = tickets()
    live = ScriptedProvider()
    ladder = Ladder(POLICY, live)
    expected = {t.id: asyncio.run(ladder.triage(t, DAY)) for t in items}
    finished, sizes = run_rounds(items, BatchSettings(min_round_size=1))

    assert {tid: route(o) for tid, o in finished.items()} == {tid: route(o) for tid, o in expected.items()}
    # round 1 is rung 0 of every ticket; repairs and escalations come after, in smaller rounds
    assert sizes[0] == len(items) and len(sizes) >= 3 and sum(sizes) == len(live.calls)
    assert any(c.repair for o in finished.values() for c in o.calls)  # the broken ones were repaired
    assert any(o.final_rung == 1 for o in finished.values())
    # each answer is recorded like a live call, at the round's price, with its latency
    call = next(iter(finished.values())).calls[0]
    assert call.cost_usd == 0.0001 and call.latency_ms == 600_000 and call.deployment == "openai/cheap"


def test_small_rounds_go_live_and_finish_with_the_same_routes() -> None:
    items = tickets(30)
    expected = {t.id: route(asyncio.run(Ladder(POLICY, ScriptedProvider()).triage(t, DAY))) for t in items}
    book = AnswerBook()
    first = asyncio.run(replay(items, POLICY, book, DAY))
    settings = BatchSettings(min_round_size=25)
    plan = plan_round(first.pending, book, settings, past_deadline=False)
    assert list(plan.batches) == ["cheap"] and not plan.live  # 30 rung-0 requests: a batch
    requests = plan.batches["cheap"]
    batch = RoundBatch(
        round=1,
        group="cheap",
        answered_group="cheap",
        deployment="openai/cheap",
        submitted_at=0,
        keys=[r.key for r in requests],
        ref={},
    )
    merge_round(
        book,
        batch,
        {r.key: r for r in requests},
        {
            r.key: LineAnswer(key=r.key, content=answer(r.ticket_id, 0, "cheap", r.messages, False))
            for r in requests
        },
    )
    second = asyncio.run(replay(items, POLICY, book, DAY))
    plan = plan_round(second.pending, book, settings, past_deadline=False)
    assert not plan.batches and sorted(plan.live) == sorted(second.pending)  # fewer than 25: live
    assert all("below 25" in why for why in plan.why_live.values())
    live = ScriptedProvider()
    done = asyncio.run(finish_live([t for t in items if t.id in plan.live], POLICY, book, DAY, live))
    # the live calls are only the requests the batch had not answered
    assert len(live.calls) == sum(len(o.calls) for o in done.values()) - len(done)
    final = asyncio.run(replay(items, POLICY, book, DAY))
    assert not final.pending
    assert {tid: route(o) for tid, o in final.finished.items()} == expected


def _pending(n: int, group: str = "cheap") -> dict[str, CallRequest]:
    return {
        f"T{i}": CallRequest(ticket_id=f"T{i}", rung=0, group=group, messages=[])
        for i in range(n)
    }


def test_failed_lines_are_asked_again_then_live() -> None:
    book = AnswerBook()
    pending = _pending(4)
    k0, k1, k2, k3 = (r.key for r in pending.values())
    batch = RoundBatch(
        round=1,
        group="cheap",
        answered_group="cheap-backup",
        deployment="openai/b",
        submitted_at=0,
        status="expired",
        keys=list(r.key for r in pending.values()),
        ref={},
    )
    requests = {r.key: r for r in pending.values()}
    answers = {
        k0: LineAnswer(key=k0, content="{}"),
        k1: LineAnswer(key=k1, error="batch_expired: late"),
    }
    assert merge_round(book, batch, requests, answers) == (1, 3)  # k2, k3 absent: failed, not dropped
    assert book.answers[k0].record.fallback_used is True  # created on the fallback group
    assert book.failures[k1] == ["batch_expired: late"] and book.failures[k2] == [
        "batch expired: no result"
    ]
    del pending["T0"]
    again = plan_round(
        pending, book, BatchSettings(min_round_size=1, max_batch_failures=2), past_deadline=False
    )
    assert [r.key for r in again.batches["cheap"]] == [k1, k2, k3] and not again.live
    live = plan_round(
        pending, book, BatchSettings(min_round_size=1, max_batch_failures=1), past_deadline=False
    )
    assert not live.batches and sorted(live.live) == ["T1", "T2", "T3"]
    assert "batch_expired" in live.why_live["T1"]


def test_past_the_deadline_everything_goes_live() -> None:
    plan = plan_round(_pending(50), AnswerBook(), BatchSettings(min_round_size=1), past_deadline=True)
    assert not plan.batches and len(plan.live) == 50


def test_rounds_are_per_model_group() -> None:
    pending = {
        **_pending(3, "cheap"),
        **{
            f"S{i}": CallRequest(ticket_id=f"S{i}", rung=1, group="strong", messages=[])
            for i in range(2)
        },
    }
    plan = plan_round(pending, AnswerBook(), BatchSettings(min_round_size=1), past_deadline=False)
    assert {g: len(r) for g, r in plan.batches.items()} == {"cheap": 3, "strong": 2}


def test_state_survives_a_new_process_and_other_settings_start_fresh(tmp_path: Path) -> None:
    path = tmp_path / "batch_state.json"
    state = load_state(path, "fp1")
    assert state.started_at is None
    state.started_at = 100.0
    state.in_flight.append(
        RoundBatch(
            round=1,
            group="cheap",
            answered_group="cheap",
            deployment="openai/x",
            submitted_at=100.0,
            keys=["k0"],
            ref={"batch_id": "batch_1"},
        )
    )
    state.book.fail("k0", "boom")
    save_state(path, state)
    again = load_state(path, "fp1")
    assert again.in_flight[0].ref == {"batch_id": "batch_1"} and again.started_at == 100.0
    assert again.book.failure_count("k0") == 1 and not (tmp_path / "batch_state.json.tmp").exists()
    assert load_state(path, "fp2").in_flight == []
