"""Customer replies on their way out: the message, the channel a reply leaves by, and what each outbox
line may claim. Pure: the channels themselves (HTTP webhook, Jira comment) live in `hooks/`.

A status of `sent` means a channel answered 2xx for that message, and only then is `sent_at` set.
With no channel configured the outbox file is the hand-off and its lines say `queued`.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from llm_operators.core.config import OFFLINE_PROVIDER
from llm_operators.core.models import CallStatus, TicketOutcome

DeliveryStatus = Literal[
    "sent",  # a channel answered 2xx in this run
    "already_sent",  # a channel answered 2xx in an earlier run or attempt (the ledger remembers)
    "queued",  # no channel: the outbox line is the hand-off to whoever sends replies
    "held",  # a channel exists but this reply may not use it (e.g. written by the offline model)
    "dry_run",
    "failed",
    "in_progress",  # another attempt holds the claim
]

# Tickets read from Jira Service Management are answered on their request; every other ticket
# through the reply webhook.
JIRA_CHANNEL = "jira"


class ReplyMessage(BaseModel):
    """What a reply channel sends for one ticket; the webhook's JSON body is exactly this."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ticket_id: str
    customer: str | None
    channel: str | None
    subject: str
    body: str
    idempotency_key: str


class ReplyChannel(Protocol):
    """One way a reply reaches the customer.

    `deliver` returns what the ledger remembers (at least `sent_at`); it raises
    `core.actions.PermanentActionError` when the channel refused the message itself (a retry cannot
    help) and any other exception when the failure may pass (a later task retry tries again).
    """

    name: str

    def deliver(self, message: ReplyMessage) -> dict[str, Any]: ...


def uses_jira(outcome: TicketOutcome) -> bool:
    return outcome.ticket.channel == JIRA_CHANNEL


def answered_offline(outcome: TicketOutcome) -> bool:
    """True when the reply was written by the offline model (deterministic canned text, no LLM)."""
    prefix = f"{OFFLINE_PROVIDER}/"
    if (outcome.final_model or "").startswith(prefix):
        return True
    return any(
        c.status == CallStatus.OK and c.rung == outcome.final_rung and (c.deployment or "").startswith(prefix)
        for c in outcome.calls
    )
