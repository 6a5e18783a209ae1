"""Re-runs reuse outcomes triaged under the same fingerprint; one budget per run across retries and
batches. A fake caller stands in for the Router (counts the calls, charges each), Redis is real (db 12)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from builders import generate_day
from local_redis import redis_or_skip

from chaos_provider.config import DEFAULT_RESULT
from llm_operators.core.budget import LocalSpend, RedisSpend, RunBudget
from llm_operators.core.call_request import CallRequest
from llm_operators.core.config import offline_settings
from llm_operators.core.day_source import FileTicketSource
from llm_operators.core.fingerprint import run_fingerprint
from llm_operators.core.ladder import Ladder, LadderPolicy
from llm_operators.core.models import CallRecord, CallStatus, OutcomeStatus, TicketOutcome
from llm_operators.core.outputs import DayOutputs
from llm_operators.core.triage_run import DayPlan, DayResult, SystemicOutageError, triage_day

DAY = date(2025, 10, 1)
COST = 0.01
REDIS_DB = 12


class FakeCaller:
    """Rung 0 is never sure (so every ticket climbs), rung 1 is; each call costs COST."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.calls: list[tuple[str, int]] = []
        self.fail_after = fail_after

    async def __call__(self, request: CallRequest) -> tuple[str | None, CallRecord]:
        ticket_id, rung, group = request.ticket_id, request.rung, request.group
        self.calls.append((ticket_id, rung))
        if self.fail_after is not None and len(self.calls) > self.fail_after:
            record = CallRecord(ticket_id=ticket_id, rung=rung, model_group=group, status=CallStatus.ERROR)
            record.error = "ServiceUnavailableError: down"
            return None, record
        answer = {**DEFAULT_RESULT, "confidence": 0.3 if rung == 0 else 0.9}
        record = CallRecord(
            ticket_id=ticket_id, rung=rung, model_group=group, status=CallStatus.OK, cost_usd=COST
        )
        return json.dumps(answer), record


def plan_for(tmp_path: Path, run_id: str, fingerprint: str = "fp-1", **kwargs: Any) -> DayPlan:
    return DayPlan(
        source=FileTicketSource(tmp_path / "tickets"),
        outputs=DayOutputs(tmp_path / "out", DAY.isoformat()),
        day=DAY,
        concurrency=1,
        fingerprint=fingerprint,
        run_id=run_id,
        progress_every_s=3600,
        **kwargs,
    )


def run(plan: DayPlan, caller: FakeCaller, budget: RunBudget | None = None) -> DayResult:
    return triage_day(plan, Ladder(LadderPolicy(rungs=["fast", "careful"]), caller, budget=budget))


def outcomes(plan: DayPlan) -> list[TicketOutcome]:
    return [TicketOutcome.model_validate_json(x) for x in plan.outputs.outcomes.read_text().splitlines()]


@pytest.fixture
def day(tmp_path: Path) -> list[str]:
    return generate_day(tmp_path / "tickets", DAY, 6)


def test_a_rerun_reuses_every_outcome_without_asking(tmp_path: Path, day: list[str]) -> None:
    first = run(plan_for(tmp_path, "run-1"), FakeCaller())
    before = outcomes(plan_for(tmp_path, "run-1"))
    caller = FakeCaller()
    second = run(plan_for(tmp_path, "backfill-1"), caller)

    assert caller.calls == []  # no call at all: the Router would not even be built
    assert (second.reused, second.resumed) == (len(day), 0)
    after = outcomes(plan_for(tmp_path, "backfill-1"))
    assert [(o.ticket_id, o.status, o.result, o.final_rung) for o in after] == [
        (o.ticket_id, o.status, o.result, o.final_rung) for o in before
    ]
    assert all(c.cache_hit and c.attempts == 0 for o in after for c in o.calls)
    assert second.summary.cost_usd == 0
    assert second.summary.cache_savings_usd == pytest.approx(first.summary.cost_usd)


def test_a_changed_ticket_or_fingerprint_is_triaged_again(tmp_path: Path, day: list[str]) -> None:
    run(plan_for(tmp_path, "run-1"), FakeCaller())
    path = tmp_path / "tickets" / f"{DAY.isoformat()}.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    lines[2]["body"] += " (edited by the customer)"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))

    caller = FakeCaller()
    result = run(plan_for(tmp_path, "run-2"), caller)
    assert {t for t, _ in caller.calls} == {day[2]} and result.reused == len(day) - 1

    caller = FakeCaller()  # a new prompt version or ladder: another run fingerprint
    result = run(plan_for(tmp_path, "run-3", fingerprint="fp-2"), caller)
    assert {t for t, _ in caller.calls} == set(day) and result.reused == 0


def test_the_run_fingerprint_follows_what_shapes_an_answer() -> None:
    base = offline_settings()
    assert run_fingerprint(base, "p1") == run_fingerprint(offline_settings(concurrency=64), "p1")
    assert run_fingerprint(base, "p1") == run_fingerprint(offline_settings(max_cost_usd=1.0), "p1")
    assert run_fingerprint(base, "p1") != run_fingerprint(base, "p2")
    assert run_fingerprint(base, "p1") != run_fingerprint(offline_settings(escalate_below=0.5), "p1")
    assert run_fingerprint(base, "p1") != run_fingerprint(offline_settings(ladder=["careful"]), "p1")


def test_a_provider_failure_is_not_reused(tmp_path: Path, day: list[str]) -> None:
    with pytest.raises(SystemicOutageError):
        run(plan_for(tmp_path, "run-1"), FakeCaller(fail_after=4))  # 2 tickets triaged, then down
    caller = FakeCaller()
    result = run(plan_for(tmp_path, "run-2"), caller)
    assert result.reused == 2 and {t for t, _ in caller.calls} == set(day[2:])
    assert all(o.status is OutcomeStatus.TRIAGED for o in outcomes(plan_for(tmp_path, "run-2")))


def test_a_resumed_retry_starts_from_what_its_checkpoint_spent(tmp_path: Path, day: list[str]) -> None:
    # attempt 1 spends 4 calls (2 tickets x 2 rungs) = $0.04, then the provider goes down
    with pytest.raises(SystemicOutageError):
        run(plan_for(tmp_path, "run-1"), FakeCaller(fail_after=4))
    budget = RunBudget(limit_usd=0.07, counter=LocalSpend())
    caller = FakeCaller()
    result = run(plan_for(tmp_path, "run-1"), caller, budget)  # attempt 2 of the same run

    assert result.resumed == 2
    # $0.04 carried over: ticket 3 climbs ($0.06), ticket 4's first call reaches $0.07: tickets 4-6
    # stay on rung 0 (a task counting from zero would have let tickets 4 and 5 climb)
    assert [r for _, r in caller.calls] == [0, 1, 0, 0, 0]
    assert budget.spent_usd == pytest.approx(0.05)  # this attempt's own spend
    assert budget.run_spent_usd == pytest.approx(0.09)  # the run's
    later = outcomes(plan_for(tmp_path, "run-1"))[3:]
    assert all(o.budget_exhausted for o in later)


@pytest.fixture
def redis_spend_key() -> Iterator[tuple[Any, str]]:
    client = redis_or_skip(REDIS_DB)
    key = f"test-budget-{uuid.uuid4().hex[:8]}"
    yield client, key
    client.delete(key)
    client.close()


def test_one_budget_across_mapped_batches(tmp_path: Path, redis_spend_key: tuple[Any, str]) -> None:
    """A fixed split gave a 2-ticket batch 2/10 of the budget and stranded it; one counter does not."""
    client, key = redis_spend_key
    generate_day(tmp_path / "tickets", DAY, 10)

    def batch(first: int, count: int) -> tuple[FakeCaller, RunBudget]:
        caller = FakeCaller()
        budget = RunBudget(limit_usd=0.10, counter=RedisSpend(client, key), refresh_s=0.0)
        plan = plan_for(tmp_path, "run-1", first=first, count=count)
        plan.outputs = DayOutputs(tmp_path / "out" / "batches", f"{first:05d}")
        run(plan, caller, budget)
        return caller, budget

    small_caller, _ = batch(0, 2)  # spends 0.04 of the run's 0.10, more than a 2/10 split allows
    big_caller, big = batch(2, 8)
    assert [r for _, r in small_caller.calls] == [0, 1, 0, 1]
    # the big batch starts at 0.04: two tickets climb (0.08), the third's first call makes 0.09,
    # its climb 0.10, then nothing climbs any more
    assert sum(1 for _, r in big_caller.calls if r == 1) == 3
    assert big.run_spent_usd == pytest.approx(float(client.get(key)))
    assert float(client.get(key)) == pytest.approx(COST * (len(small_caller.calls) + len(big_caller.calls)))


def test_the_same_run_cleared_after_it_finished_reuses_rather_than_resumes(
    tmp_path: Path, day: list[str]
) -> None:
    """`airflow backfill create --reprocess-behavior completed` clears and re-runs the existing run
    (same run id): that execution asks no one, so its outcomes are cache hits that cost nothing,
    while a retry of an unfinished run resumes what it had paid for (the test above)."""
    first = run(plan_for(tmp_path, "scheduled__2025-10-01"), FakeCaller())
    assert first.summary.cost_usd > 0
    caller = FakeCaller()
    again = run(plan_for(tmp_path, "scheduled__2025-10-01"), caller)
    assert caller.calls == []
    assert (again.reused, again.resumed) == (len(day), 0)
    assert again.summary.cost_usd == 0 and again.summary.cache_hits == again.summary.calls > 0
    # and a third execution is the same: the second one finished the day too
    third = run(plan_for(tmp_path, "scheduled__2025-10-01"), FakeCaller())
    assert (third.reused, third.resumed, third.summary.cost_usd) == (len(day), 0, 0)
