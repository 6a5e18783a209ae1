"""What each rung of the ladder answered for one ticket, read from its recorded calls.

The one place that knows how an outcome stores the rungs' answers (`CallRecord.answer`, the judge's
calls marked `purpose="judge"`), so the replay and the per-rung metrics do not depend on the record's
layout. Outcomes written before answers were recorded still give the final rung's answer (it is the
outcome's `result`); their other rungs read as asked-but-unknown, and a replay that needs them says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_operators.core.models import CallRecord, CallStatus, TicketOutcome, TriageResult


@dataclass(frozen=True)
class RungAnswer:
    rung: int
    group: str
    deployment: str | None
    # None: the rung was asked and gave no valid answer (invalid twice, or every deployment failed)
    answer: TriageResult | None
    # every triage call made on this rung, repairs included, at the provider's price (a cache hit
    # reports the price of the call it replays: what this rung costs when it is not cached)
    cost_usd: float
    # False for outcomes written before answers were recorded, on rungs other than the final one
    known: bool = True


def _is_triage_call(call: CallRecord) -> bool:
    return getattr(call, "purpose", "triage") == "triage"


def _recorded_answer(call: CallRecord) -> TriageResult | None:
    return getattr(call, "answer", None)


def answers_recorded(outcome: TicketOutcome) -> bool:
    """True when the outcome's calls carry their answers (written by a ladder that records them)."""
    return "answer" in CallRecord.model_fields and any(
        _recorded_answer(c) is not None for c in outcome.calls if _is_triage_call(c)
    )


def rung_answers(outcome: TicketOutcome) -> dict[int, RungAnswer]:
    """The rungs asked for this ticket, by rung index, with the valid answer each gave."""
    by_rung: dict[int, list[CallRecord]] = {}
    for call in outcome.calls:
        if _is_triage_call(call):
            by_rung.setdefault(call.rung, []).append(call)
    recorded = answers_recorded(outcome)
    rungs: dict[int, RungAnswer] = {}
    for rung, calls in sorted(by_rung.items()):
        ok = [c for c in calls if c.status is CallStatus.OK]
        answer = next((_recorded_answer(c) for c in reversed(ok) if _recorded_answer(c) is not None), None)
        known = True
        if answer is None and ok and not recorded:
            # an old outcome: only the final answer is on record
            if rung == outcome.final_rung and outcome.result is not None:
                answer = outcome.result
            else:
                known = False
        rungs[rung] = RungAnswer(
            rung=rung,
            group=calls[0].model_group,
            deployment=ok[-1].deployment if ok else None,
            answer=answer,
            cost_usd=sum(c.cost_usd for c in calls),
            known=known,
        )
    return rungs


def judge_cost(outcome: TicketOutcome) -> float:
    return sum(c.cost_usd for c in outcome.calls if not _is_triage_call(c))
