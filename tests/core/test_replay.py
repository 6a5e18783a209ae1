"""Threshold replay: the same routes as a live run at the same thresholds, with no new LLM call."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

import pytest

from llm_operators.core.call_request import CallRequest
from llm_operators.core.gate import GateRules, decide
from llm_operators.core.ladder import Ladder, LadderPolicy
from llm_operators.core.models import CallRecord, CallStatus, Ticket, TicketOutcome
from llm_operators.core.offline_engine import triage_text
from llm_operators.core.prompts import extract_ticket_text
from llm_operators.core.replay import (
    GridPoint,
    Targets,
    recommend,
    replay_grid,
    replay_ticket,
)
from llm_operators.core.ticket_source import read_day

SAMPLE = Path(__file__).resolve().parents[2] / "include" / "sample_data" / "tickets"
DAYS = [date(2025, 10, d) for d in (1, 2, 3, 4)]
RUNGS = ("cheap", "strong")
PRICE = {"cheap": 0.0001, "strong": 0.002}
ASK_EVERY_RUNG = 1.01  # no confidence reaches it: the ladder asks every rung (evaluation mode)


class ScriptedOffline:
    """The offline engine as two rungs ('fast' then 'careful'), priced per call; every fifth ticket's
    cheap rung answers garbage twice, so the replay meets invalid rungs too. Counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, request: CallRequest) -> tuple[str | None, CallRecord]:
        ticket_id, rung, group, messages = request.ticket_id, request.rung, request.group, request.messages
        self.calls += 1
        record = CallRecord(
            ticket_id=ticket_id,
            rung=rung,
            model_group=group,
            deployment=f"offline/{group}",
            status=CallStatus.OK,
            cost_usd=PRICE[group],
        )
        if rung == 0 and int(ticket_id.rsplit("-", 1)[-1], 36) % 5 == 0:
            return "Sure, billing, P2.", record
        return json.dumps(
            triage_text(extract_ticket_text(messages), "fast" if rung == 0 else "careful")
        ), record


def tickets() -> list[Ticket]:
    return [t for d in DAYS for t in read_day(SAMPLE, d) if isinstance(t, Ticket)]


def run(escalate_below: float, caller: ScriptedOffline | None = None) -> list[TicketOutcome]:
    ladder = Ladder(LadderPolicy(rungs=RUNGS, escalate_below=escalate_below), caller or ScriptedOffline())

    async def all_of_them() -> list[TicketOutcome]:
        return [await ladder.triage(t, t.created_at.date().isoformat()) for t in tickets()]

    return asyncio.run(all_of_them())


@pytest.fixture(scope="module")
def every_rung() -> list[TicketOutcome]:
    return run(ASK_EVERY_RUNG)


def test_sample_is_varied_enough_to_mean_something(every_rung):
    assert len(every_rung) >= 40
    assert any(o.calls[0].status is CallStatus.INVALID for o in every_rung)
    confidences = {round(o.result.confidence, 2) for o in every_rung if o.result}
    assert len(confidences) > 5


@pytest.mark.parametrize(
    ("escalate_below", "min_confidence"), [(0.7, 0.65), (0.5, 0.8), (0.9, 0.6), (0.8, 0.8)]
)
def test_replay_gives_the_live_routes_at_the_same_thresholds(every_rung, escalate_below, min_confidence):
    rules = GateRules(min_confidence=min_confidence)
    live = run(escalate_below)
    live_cost = {o.ticket_id: sum(c.cost_usd for c in o.calls) for o in live}
    mismatches = []
    for recorded, lived in zip(every_rung, live, strict=True):
        climb, decision = replay_ticket(recorded, escalate_below, rules, ladder_size=len(RUNGS))
        expected = decide(lived, rules)
        got = (climb.final_rung, decision.route, decision.reasons, decision.page_engineering)
        want = (lived.final_rung, expected.route, expected.reasons, expected.page_engineering)
        if got != want or climb.cost_usd != pytest.approx(live_cost[lived.ticket_id]):
            mismatches.append((lived.ticket_id, got, want))
    assert mismatches == []
    routes = {decide(o, rules).route for o in live}
    assert routes == {"auto_reply", "manual_review"}  # both routes exercised


def test_replay_of_a_live_run_covers_lower_thresholds_only():
    live = run(0.7)
    rules = GateRules()
    below = [replay_ticket(o, 0.6, rules, 2)[1] for o in live]
    assert all(d is not None for d in below)  # stopping earlier needs nothing new
    above = [replay_ticket(o, 0.9, rules, 2)[1] for o in live]
    assert any(d is None for d in above)  # tickets that stopped at rung 0 were never asked rung 1


def test_grid_makes_no_call_and_reports_cost_per_thousand(every_rung):
    caller = ScriptedOffline()
    replay = replay_grid(every_rung, escalate_grid=[0.0, 1.0], confidence_grid=[0.0])
    assert caller.calls == 0
    never, always = replay.grid
    assert (never.coverage, always.coverage) == (1.0, 1.0)
    # escalate_below 0: the cheap rung only, except where it was invalid (two cheap calls then strong)
    n = len(every_rung)
    invalid = sum(1 for o in every_rung if o.calls[0].status is CallStatus.INVALID)
    assert never.cost_per_1000 == pytest.approx(
        ((n - invalid) * PRICE["cheap"] + invalid * (2 * PRICE["cheap"] + PRICE["strong"])) / n * 1000
    )
    assert always.cost_per_1000 == pytest.approx(
        ((n - invalid) * PRICE["cheap"] + invalid * 2 * PRICE["cheap"] + n * PRICE["strong"]) / n * 1000
    )
    assert replay.answers_recorded == n


def test_unlabelled_tickets_cost_but_are_not_scored(every_rung):
    unlabelled = [
        o.model_copy(update={"ticket": o.ticket.model_copy(update={"labels": None})}) for o in every_rung
    ]
    point = replay_grid(unlabelled, escalate_grid=[0.7], confidence_grid=[0.65]).grid[0]
    assert point.tickets == len(every_rung) and point.cost_per_1000 > 0
    assert (point.accuracy, point.auto_reply_error_rate, point.p0_p1_recall) == (None, None, None)


def point(
    e: float, m: float, cost: float, err: float | None, recall: float | None, cov: float = 1.0
) -> GridPoint:
    return GridPoint(escalate_below=e, min_confidence=m, tickets=10, coverage=cov, cost_per_1000=cost,
                     accuracy=0.9, auto_reply_share=0.5, auto_reply_error_rate=err, auto_replied_labelled=5,
                     p0_p1_recall=recall, review_share=0.5)  # fmt: skip


def test_recommend_the_cheapest_point_meeting_the_targets_as_settings_to_paste():
    grid = [
        point(0.5, 0.6, 0.10, 0.05, 1.0),  # cheapest, too many wrong auto-replies
        point(0.7, 0.7, 0.30, 0.01, 1.0),  # meets both
        point(0.9, 0.7, 0.50, 0.00, 1.0),  # meets both, dearer
        point(0.6, 0.7, 0.20, 0.01, 0.95),  # misses recall
        point(0.0, 0.9, 0.01, 0.0, 1.0, cov=0.5),  # not replayable for every ticket
    ]
    rec = recommend(grid, Targets(max_auto_error=0.02, min_p0p1_recall=0.99))
    assert rec.point is not None and (rec.point.escalate_below, rec.point.min_confidence) == (0.7, 0.7)
    assert '"escalate_below": 0.7' in rec.settings and '"min_confidence": 0.7' in rec.settings
    assert "airflow dags trigger ticket_triage" in rec.settings


def test_recommend_says_when_no_point_meets_the_targets():
    grid = [point(0.5, 0.6, 0.10, 0.05, 1.0), point(0.7, 0.7, 0.30, None, 1.0)]  # None: nothing auto-replied
    rec = recommend(grid, Targets(max_auto_error=0.02, min_p0p1_recall=0.99))
    assert rec.point is None and rec.settings == ""
    assert rec.message == "no point meets auto-reply error <= 2.0%, P0/P1 recall >= 99.0%"
    partial = recommend([point(0.5, 0.6, 0.1, 0.0, 1.0, cov=0.4)], Targets())
    assert partial.point is None and "evaluation mode" in partial.message


def test_every_rung_outcomes_are_rewritten_to_the_live_view(every_rung):
    from llm_operators.core.eval_triage import live_view

    rules = GateRules(min_confidence=0.65)
    for recorded, lived in zip(every_rung, run(0.7), strict=True):
        view = live_view(recorded, 0.7, rules, ladder_size=2)
        assert (view.final_rung, view.result, view.status) == (lived.final_rung, lived.result, lived.status)
        assert view.gate == decide(lived, rules)
        assert len(view.calls) == len(recorded.calls)  # every rung's answer kept for the replay
