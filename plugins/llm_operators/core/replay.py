"""Choosing `escalate_below` and `min_confidence` from data: replay the recorded answers of every rung
over a grid of thresholds, without a single new LLM call.

For one point of the grid each ticket climbs the ladder again on paper, with the live ladder's rule
(a rung without a valid answer is passed; the most confident answer so far is kept, a later one
winning a tie; a confident answer stops the climb), and the replayed outcome goes through the live
gate's own `decide` with that `min_confidence`: the routes are the gate's, not a copy of its rules.
A ticket whose replay needs a rung that was never asked (the live run stopped lower) cannot be
replayed at that point: the point's `coverage` says how many could, and only fully covered points
are recommended. An evaluation run that asks every rung (see docs/evaluation.md) covers every point.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from llm_operators.core.evaluation import PAGED_PRIORITIES, gate_wrong, labelled, triage_right
from llm_operators.core.gate import GateRules, decide
from llm_operators.core.models import GateDecision, OutcomeStatus, TicketOutcome, TriageResult
from llm_operators.core.rung_answers import RungAnswer, judge_cost, rung_answers

DEFAULT_GRID = (0.0, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)


@dataclass(frozen=True)
class ReplayedLadder:
    """Where the paper climb ended for one ticket at one `escalate_below`."""

    complete: bool  # False: a rung the climb needed was never asked (or its answer is not on record)
    final_rung: int | None
    result: TriageResult | None
    cost_usd: float
    top_rung: int = 0  # the highest rung the climb asked


def replay_ladder(rungs: dict[int, RungAnswer], ladder_size: int, escalate_below: float) -> ReplayedLadder:
    best: RungAnswer | None = None
    cost = 0.0
    top = 0
    for rung in range(ladder_size):
        asked = rungs.get(rung)
        if asked is None or not asked.known:
            return ReplayedLadder(False, None, None, cost, rung)
        top = rung
        cost += asked.cost_usd
        if asked.answer is None:
            continue  # invalid after its repair, or no deployment answered: the live ladder climbs
        if best is None or asked.answer.confidence >= best.answer.confidence:  # type: ignore[union-attr]
            best = asked
        if asked.answer.confidence >= escalate_below:
            break
    if best is None:
        return ReplayedLadder(True, None, None, cost, top)
    return ReplayedLadder(True, best.rung, best.answer, cost, top)


def replayed_outcome(
    outcome: TicketOutcome, climb: ReplayedLadder, rungs: dict[int, RungAnswer]
) -> TicketOutcome:
    """The outcome the live run would have written at these thresholds (before the gate)."""
    same_final = climb.final_rung == outcome.final_rung
    final_model = outcome.final_model
    if not same_final:
        final = rungs.get(climb.final_rung) if climb.final_rung is not None else None
        final_model = (final.deployment or final.group) if final is not None else None
    update: dict[str, object] = {
        "result": climb.result,
        "final_rung": climb.final_rung,
        "status": OutcomeStatus.TRIAGED if climb.result is not None else OutcomeStatus.UNRESOLVED,
        "final_model": final_model,
        "escalated": climb.top_rung > 0,
        "gate": None,
    }
    if climb.result is None and outcome.error is None:
        update["error"] = "no rung gave a valid answer"
    if not same_final and "judge" in TicketOutcome.model_fields:
        update["judge"] = None  # the verdict on record was on another reply
    return outcome.model_copy(update=update)


def replay_ticket(
    outcome: TicketOutcome, escalate_below: float, rules: GateRules, ladder_size: int
) -> tuple[ReplayedLadder, GateDecision | None]:
    """One ticket at one point: the climb, and the live gate's decision on it (None: not replayable)."""
    rungs = rung_answers(outcome)
    climb = replay_ladder(rungs, ladder_size, escalate_below)
    if not climb.complete:
        return climb, None
    return climb, decide(replayed_outcome(outcome, climb, rungs), rules)


class GridPoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    escalate_below: float
    min_confidence: float
    tickets: int = Field(description="tickets replayed at this point")
    coverage: float = Field(description="share of all tickets that could be replayed here")
    cost_per_1000: float
    accuracy: float | None = Field(description="labelled tickets with category and priority right")
    auto_reply_share: float | None
    auto_reply_error_rate: float | None
    auto_replied_labelled: int
    p0_p1_recall: float | None
    review_share: float | None


@dataclass(frozen=True)
class Targets:
    max_auto_error: float | None = None
    min_p0p1_recall: float | None = None
    min_accuracy: float | None = None
    min_auto_reply_share: float | None = None

    def misses(self, p: GridPoint) -> list[str]:
        """What this point fails; an undefined rate (no labelled auto-reply, no P0/P1) is no evidence."""
        out = []
        if p.coverage < 1.0:
            out.append(f"only {p.coverage:.0%} of tickets replayable")
        if self.max_auto_error is not None and (
            p.auto_reply_error_rate is None or p.auto_reply_error_rate > self.max_auto_error
        ):
            out.append("auto-reply error")
        if self.min_p0p1_recall is not None and (
            p.p0_p1_recall is None or p.p0_p1_recall < self.min_p0p1_recall
        ):
            out.append("P0/P1 recall")
        if self.min_accuracy is not None and (p.accuracy is None or p.accuracy < self.min_accuracy):
            out.append("accuracy")
        if self.min_auto_reply_share is not None and (
            p.auto_reply_share is None or p.auto_reply_share < self.min_auto_reply_share
        ):
            out.append("auto-reply share")
        return out

    def describe(self) -> str:
        parts = []
        if self.max_auto_error is not None:
            parts.append(f"auto-reply error <= {self.max_auto_error:.1%}")
        if self.min_p0p1_recall is not None:
            parts.append(f"P0/P1 recall >= {self.min_p0p1_recall:.1%}")
        if self.min_accuracy is not None:
            parts.append(f"accuracy >= {self.min_accuracy:.1%}")
        if self.min_auto_reply_share is not None:
            parts.append(f"auto-reply share >= {self.min_auto_reply_share:.1%}")
        return ", ".join(parts) or "no target"


class Recommendation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targets: str
    point: GridPoint | None
    message: str
    settings: str = ""


class Replay(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tickets: int
    ladder_size: int
    answers_recorded: int = Field(description="tickets whose calls carry every rung's answer")
    grid: list[GridPoint]
    recommendation: Recommendation


@dataclass
class _Ticket:
    outcome: TicketOutcome
    rungs: dict[int, RungAnswer]
    extra_cost: float


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def replay_grid(
    outcomes: Iterable[TicketOutcome],
    *,
    escalate_grid: Sequence[float] = DEFAULT_GRID,
    confidence_grid: Sequence[float] = DEFAULT_GRID,
    rules: GateRules | None = None,
    targets: Targets | None = None,
    ladder_size: int | None = None,
) -> Replay:
    """Every point of `escalate_grid` x `confidence_grid`; the gate's other rules from `rules`."""
    rules = rules or GateRules()
    targets = targets or Targets()
    tickets = [_Ticket(o, rung_answers(o), judge_cost(o)) for o in outcomes]
    size = ladder_size or max((max(t.rungs, default=-1) + 1 for t in tickets), default=1)
    recorded = sum(1 for t in tickets if t.rungs and all(r.known for r in t.rungs.values()))
    # the gate's decision depends on the thresholds only through the final answer and min_confidence
    decisions: dict[tuple[int, int | None, float], GateDecision] = {}
    grid: list[GridPoint] = []
    for e in escalate_grid:
        climbs = [replay_ladder(t.rungs, size, e) for t in tickets]
        for m in confidence_grid:
            point_rules = rules.model_copy(update={"min_confidence": m})
            grid.append(_point(tickets, climbs, e, m, point_rules, decisions))
    return Replay(
        tickets=len(tickets),
        ladder_size=size,
        answers_recorded=recorded,
        grid=grid,
        recommendation=recommend(grid, targets),
    )


def _point(
    tickets: list[_Ticket],
    climbs: list[ReplayedLadder],
    e: float,
    m: float,
    rules: GateRules,
    decisions: dict[tuple[int, int | None, float], GateDecision],
) -> GridPoint:
    n = cost = auto = labelled_n = right = auto_l = auto_wrong = p01 = paged = 0
    for i, (t, climb) in enumerate(zip(tickets, climbs, strict=True)):
        if not climb.complete:
            continue
        n += 1
        cost += climb.cost_usd + t.extra_cost
        key = (i, climb.final_rung, m)
        decision = decisions.get(key)
        if decision is None:
            decision = decide(replayed_outcome(t.outcome, climb, t.rungs), rules)
            decisions[key] = decision
        auto += decision.route == "auto_reply"
        labels = t.outcome.ticket.labels
        if labels is None:
            continue  # counted in the point's tickets and cost, skipped for quality
        labelled_n += 1
        right += triage_right(climb.result, labels)
        if decision.route == "auto_reply":
            auto_l += 1
            auto_wrong += gate_wrong(climb.result, labels)
        if labelled(labels, "priority") in PAGED_PRIORITIES:
            p01 += 1
            paged += decision.page_engineering
    return GridPoint(
        escalate_below=e,
        min_confidence=m,
        tickets=n,
        coverage=n / len(tickets) if tickets else 0.0,
        cost_per_1000=cost / n * 1000 if n else 0.0,
        accuracy=_rate(right, labelled_n),
        auto_reply_share=_rate(auto, n),
        auto_reply_error_rate=_rate(auto_wrong, auto_l),
        auto_replied_labelled=auto_l,
        p0_p1_recall=_rate(paged, p01),
        review_share=_rate(n - auto, n),
    )


def _quality(p: GridPoint) -> tuple[float, float, float, float]:
    """Bigger is better on every axis; an undefined rate counts as the worst."""
    err = p.auto_reply_error_rate
    return (
        -p.cost_per_1000,
        -(err if err is not None else 1.0),
        p.p0_p1_recall if p.p0_p1_recall is not None else 0.0,
        p.auto_reply_share or 0.0,
    )


def frontier(grid: Sequence[GridPoint]) -> list[GridPoint]:
    """The fully replayable points no other point beats on cost, auto-reply error, P0/P1 recall and
    auto-reply share at once (the first of equal points kept), cheapest first."""
    seen: dict[tuple[float, float, float, float], GridPoint] = {}
    for p in grid:
        if p.coverage >= 1.0:
            seen.setdefault(tuple(round(x, 9) for x in _quality(p)), p)  # type: ignore[arg-type]
    keys = list(seen)
    kept = [
        seen[k]
        for k in keys
        if not any(o != k and all(a >= b for a, b in zip(o, k, strict=True)) for o in keys)
    ]
    return sorted(kept, key=lambda p: p.cost_per_1000)


def recommend(grid: Sequence[GridPoint], targets: Targets) -> Recommendation:
    """The cheapest point meeting every target; among equally cheap ones the one that answers most
    tickets automatically, then the most accurate."""
    meeting = [p for p in grid if not targets.misses(p)]
    if not meeting:
        covered = [p for p in grid if p.coverage >= 1.0]
        why = (
            "no grid point can be replayed for every ticket: the runs stopped climbing early; "
            "run the days in evaluation mode (every rung asked) first"
            if not covered
            else "no point meets " + targets.describe()
        )
        return Recommendation(targets=targets.describe(), point=None, message=why)
    best = min(
        meeting,
        key=lambda p: (round(p.cost_per_1000, 9), -(p.auto_reply_share or 0.0), -(p.accuracy or 0.0)),
    )
    return Recommendation(
        targets=targets.describe(),
        point=best,
        message=(
            f"cheapest point meeting {targets.describe()}: escalate_below={best.escalate_below:g}, "
            f"min_confidence={best.min_confidence:g} (${best.cost_per_1000:.4f} per 1,000 tickets, "
            f"auto-reply {_pct(best.auto_reply_share)}, auto-reply error {_pct(best.auto_reply_error_rate)}, "
            f"P0/P1 recall {_pct(best.p0_p1_recall)})"
        ),
        settings=settings_to_paste(best),
    )


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def settings_to_paste(p: GridPoint) -> str:
    """Where each threshold lives: the ladder's in the `litellm` connection (or the run's params),
    the gate's in the run's params."""
    return (
        f'litellm_default connection extra:  "escalate_below": {p.escalate_below:g}\n'
        f'ticket_triage params (per run):     {{"escalate_below": {p.escalate_below:g}, '
        f'"min_confidence": {p.min_confidence:g}}}\n'
        f"e.g. airflow dags trigger ticket_triage -c "
        f'\'{{"escalate_below": {p.escalate_below:g}, "min_confidence": {p.min_confidence:g}}}\''
    )
