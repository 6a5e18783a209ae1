"""The one function that says what text may go to a customer for a ticket.

The auto-reply task calls `customer_reply` and sends exactly what it returns. The text was fixed by
the gate (`GateDecision.reply`): an approved template rendered by code in template mode, or, in
free-text mode, the model's reply that the judge approved and the reply checks passed. Anything else
(no gate decision, a review route, a free-text reply without an approving verdict) raises, so a
caller cannot fall back to the model's draft by mistake.
"""

from __future__ import annotations

from llm_operators.core.models import TicketOutcome


class ReplyNotAllowed(ValueError):
    """This outcome has no text that may be sent to its customer."""


def customer_reply(outcome: TicketOutcome) -> str:
    gate = outcome.gate
    if gate is None:
        raise ReplyNotAllowed(f"ticket {outcome.ticket_id}: no gate decision")
    if gate.route != "auto_reply":
        raise ReplyNotAllowed(f"ticket {outcome.ticket_id}: routed to {gate.route}, not auto_reply")
    if not gate.reply or not gate.reply.strip():
        raise ReplyNotAllowed(f"ticket {outcome.ticket_id}: the gate approved no reply text")
    if gate.reply_mode == "free_text":
        if outcome.judge is None or not outcome.judge.approved:
            raise ReplyNotAllowed(f"ticket {outcome.ticket_id}: free-text reply without the judge's approval")
        if outcome.result is None or gate.reply != outcome.result.suggested_reply:
            raise ReplyNotAllowed(f"ticket {outcome.ticket_id}: the reply differs from the one judged")
    return gate.reply
