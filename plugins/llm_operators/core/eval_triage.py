"""Triage a day for evaluation: every rung asked for every ticket, nothing sent to anyone.

The replay can only move `escalate_below` up to where the live run stopped climbing; an evaluation
run asks every rung, so every point of the grid can be replayed. Its outcomes are then rewritten to
what the live run would have written at the live thresholds (the replay's final answer and the live
gate's `decide`; the replay is tested to match a live run), keeping every call, so the evaluation's
per-field and gate figures are those of the live configuration and the replay has all it needs.
It writes `outcomes.jsonl` under its own output root and does no reply, Jira or Slack action.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_operators.core.gate import GateRules, decide
from llm_operators.core.ladder import Ladder
from llm_operators.core.models import TicketOutcome
from llm_operators.core.outputs import read_jsonl, write_jsonl
from llm_operators.core.replay import replay_ladder, replayed_outcome
from llm_operators.core.rung_answers import rung_answers
from llm_operators.core.triage_run import DayPlan, triage_day

# No confidence reaches it: a ladder with this threshold asks every rung.
ASK_EVERY_RUNG = 1.01


@dataclass(frozen=True)
class EvalTriageResult:
    day: str
    tickets: int
    calls: int
    cost_usd: float


def live_view(
    outcome: TicketOutcome, escalate_below: float, rules: GateRules, ladder_size: int
) -> TicketOutcome:
    """The outcome of an every-rung run as the live run at these thresholds would have written it."""
    rungs = rung_answers(outcome)
    climb = replay_ladder(rungs, ladder_size, escalate_below)
    live = replayed_outcome(outcome, climb, rungs)
    return live.model_copy(update={"gate": decide(live, rules)})


def triage_for_evaluation(
    plan: DayPlan, ladder: Ladder, *, live_escalate_below: float, rules: GateRules
) -> EvalTriageResult:
    if ladder.policy.escalate_below <= 1.0:
        raise ValueError(
            f"an evaluation run asks every rung: build its ladder with escalate_below={ASK_EVERY_RUNG} "
            f"(got {ladder.policy.escalate_below}); the live threshold goes in live_escalate_below"
        )
    triage_day(plan, ladder)
    size = len(ladder.policy.rungs)
    outcomes = [
        live_view(o, live_escalate_below, rules, size)
        for o in read_jsonl(plan.outputs.outcomes, TicketOutcome)
    ]
    write_jsonl(plan.outputs.outcomes, outcomes)
    return EvalTriageResult(
        day=plan.day.isoformat(),
        tickets=len(outcomes),
        calls=sum(len(o.calls) for o in outcomes),
        cost_usd=sum(c.cost_usd for o in outcomes for c in o.calls),
    )
