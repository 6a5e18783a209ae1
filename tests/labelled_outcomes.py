"""Outcomes of labelled tickets, for the evaluation tests: what the ladder answered next to the labels.

`outcome` builds what the triage task writes (its calls, rung by rung, and the gate's route), so that an
evaluation reads the same objects it reads from a day's `outcomes.jsonl`.
"""

from __future__ import annotations

from llm_operators.core.models import (
    CallRecord,
    CallStatus,
    GateDecision,
    OutcomeStatus,
    Ticket,
    TicketLabels,
    TicketOutcome,
    TriageResult,
)

DAY = "2025-10-01"


def result(
    category: str = "billing", priority: str = "P2", confidence: float = 0.9, **kw: object
) -> TriageResult:
    return TriageResult(
        category=category,
        priority=priority,
        sentiment="neutral",
        pii_detected=kw.pop("pii", False),
        needs_human=kw.pop("needs_human", False),
        suggested_reply="Thanks for writing in, our billing team is looking at your invoice now.",
        confidence=confidence,
        **kw,
    )


def labels(
    category: str = "billing", priority: str = "P2", needs_human: bool = False, pii: bool = False
) -> TicketLabels:
    return TicketLabels(category=category, priority=priority, needs_human=needs_human, pii=pii)


def outcome(
    tid: str,
    res: TriageResult | None,
    lab: TicketLabels | None,
    *,
    route: str = "auto_reply",
    paged: bool = False,
    rung_answers: list[TriageResult | None] | None = None,
    final_model: str = "fake/cheap",
) -> TicketOutcome:
    ticket = Ticket(id=tid, created_at=f"{DAY}T10:00:00+00:00", subject="s", body="b", labels=lab)
    calls = []
    for rung, answer in enumerate(rung_answers or ([res] if res else [])):
        calls.append(
            CallRecord(
                ticket_id=tid,
                rung=rung,
                model_group=("cheap", "strong")[rung],
                deployment=f"fake/{('cheap', 'strong')[rung]}",
                status=CallStatus.OK if answer else CallStatus.INVALID,
                answer=answer,
            )
        )
    return TicketOutcome(
        ticket_id=tid,
        day=DAY,
        status=OutcomeStatus.TRIAGED if res else OutcomeStatus.UNRESOLVED,
        ticket=ticket,
        result=res,
        final_rung=len(calls) - 1 if res else None,
        final_model=final_model if res else None,
        calls=calls,
        gate=GateDecision(route=route, page_engineering=paged),
    )
