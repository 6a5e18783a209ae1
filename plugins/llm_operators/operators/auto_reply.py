"""`AutoReplyOperator`: deliver the gate-approved replies, each at most once, and write the day's outbox.

Where a reply goes: a ticket read from Jira Service Management gets a customer-visible comment on its
request (connection `jira_default`); any other ticket goes to the reply webhook (connection
`triage_reply_webhook`, an `http` connection). With no such connection the outbox line is the
hand-off and says `queued`. `sent` (and `sent_at`) only after the channel answered 2xx.
Replies written by the offline model stay `held` unless `triage_allow_offline_delivery` is set.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from pydantic import BaseModel, ConfigDict

from llm_operators.core.actions import ActionRecord, ActionStatus, perform_once
from llm_operators.core.delivery import (
    DeliveryStatus,
    ReplyChannel,
    ReplyMessage,
    answered_offline,
    uses_jira,
)
from llm_operators.core.ledger import SideEffectLedger, idempotency_key
from llm_operators.core.models import TicketOutcome
from llm_operators.core.outputs import read_jsonl, write_jsonl
from llm_operators.core.replies import customer_reply
from llm_operators.hooks.reply_jira import JiraCommentReplyChannel
from llm_operators.hooks.reply_webhook import DEFAULT_CONN_ID as WEBHOOK_CONN_ID
from llm_operators.hooks.reply_webhook import WebhookReplyChannel
from llm_operators.operators.connections import connection_exists, ledger_for
from llm_operators.operators.deployment_flags import ALLOW_OFFLINE_DELIVERY, allow_offline_delivery
from llm_operators.operators.params import as_bool
from llm_operators.operators.storage import day_outputs

# The ledger action of a delivered reply. Not "auto_reply": that name marked outbox lines written by
# earlier versions, which delivered nothing, and must not pass for a delivery now.
DELIVERY_ACTION = "reply_delivery"

_STATUS_OF: dict[ActionStatus, DeliveryStatus] = {
    "done": "sent",
    "already_done": "already_sent",
    "dry_run": "dry_run",
    "failed": "failed",
    "in_progress": "in_progress",
}


class OutboxMessage(BaseModel):
    """One customer reply and what became of it; `outbox.jsonl` is the day's record (and the hand-off
    to the helpdesk's sender for `queued` lines)."""

    model_config = ConfigDict(extra="forbid")

    ticket_id: str
    customer: str | None
    channel: str | None  # the ticket's source channel (email, chat, jira...)
    subject: str
    body: str
    status: DeliveryStatus
    delivered_via: str | None = None  # the reply channel used: webhook, jira
    sent_at: str | None = None  # when a channel answered 2xx; never set otherwise
    idempotency_key: str | None = None
    note: str | None = None  # why queued / held / failed


class AutoReplyOperator(BaseOperator):
    template_fields: Sequence[str] = ("triage_summary", "output_root", "dry_run")

    def __init__(
        self,
        *,
        triage_summary: Any,
        output_root: str,
        dry_run: bool | str = False,
        redis_conn_id: str | None = "redis_default",
        reply_webhook_conn_id: str | None = WEBHOOK_CONN_ID,
        jira_conn_id: str | None = "jira_default",
        webhook_backoff_s: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.triage_summary = triage_summary
        self.output_root = output_root
        self.dry_run = dry_run
        self.redis_conn_id = redis_conn_id
        self.reply_webhook_conn_id = reply_webhook_conn_id
        self.jira_conn_id = jira_conn_id
        self.webhook_backoff_s = webhook_backoff_s

    @cached_property
    def webhook(self) -> WebhookReplyChannel | None:
        if not connection_exists(self.reply_webhook_conn_id):
            return None
        assert self.reply_webhook_conn_id is not None
        return WebhookReplyChannel(self.reply_webhook_conn_id, backoff_s=self.webhook_backoff_s)

    @cached_property
    def jira(self) -> JiraCommentReplyChannel | None:
        if not connection_exists(self.jira_conn_id):
            return None
        assert self.jira_conn_id is not None
        return JiraCommentReplyChannel(self.jira_conn_id)

    def channel_for(self, outcome: TicketOutcome) -> tuple[ReplyChannel | None, str]:
        """The channel this reply leaves by, or None with the reason it stays in the outbox."""
        if uses_jira(outcome):
            if self.jira is None:
                return None, f"no Jira connection {self.jira_conn_id!r}: queued in the outbox"
            return self.jira, ""
        if self.webhook is None:
            return None, f"no reply webhook connection {self.reply_webhook_conn_id!r}: queued in the outbox"
        return self.webhook, ""

    def execute(self, context: Context) -> dict[str, int]:
        outputs = day_outputs(self.output_root, self.triage_summary["day"])
        dry_run = as_bool(self.dry_run)

        def approved() -> Iterator[TicketOutcome]:
            return read_jsonl(outputs.approved, TicketOutcome)

        used = sorted({c.name for o in approved() if (c := self.channel_for(o)[0]) is not None})
        ledger = ledger_for(self.redis_conn_id, scope=self.dag_id, real_targets=[] if dry_run else used)
        offline_ok = allow_offline_delivery()
        results = [self._reply(outcome, ledger, dry_run, offline_ok) for outcome in approved()]
        messages = [m for m, _ in results]
        write_jsonl(outputs.outbox, messages)

        counts: dict[str, int] = {}
        for m in messages:
            counts[m.status] = counts.get(m.status, 0) + 1
        self.log.info("replies for %s: %s -> %s", outputs.day, counts, outputs.outbox)
        if counts.get("held"):
            self.log.warning(
                "%d replies written by the offline model were NOT delivered (set the Airflow Variable "
                "%s=true to deliver them)",
                counts["held"],
                ALLOW_OFFLINE_DELIVERY,
            )
        self._fail_if_undelivered([r for _, r in results if r is not None])
        return counts

    def _reply(
        self, outcome: TicketOutcome, ledger: SideEffectLedger, dry_run: bool, offline_ok: bool
    ) -> tuple[OutboxMessage, ActionRecord | None]:
        message = ReplyMessage(
            ticket_id=outcome.ticket_id,
            customer=outcome.ticket.customer,
            channel=outcome.ticket.channel,
            subject=f"Re: {outcome.ticket.title}",
            body=customer_reply(outcome),
            idempotency_key=idempotency_key(self.dag_id, DELIVERY_ACTION, outcome.ticket_id),
        )
        line = message.model_dump(include={"ticket_id", "customer", "channel", "subject", "body"})
        channel, why_not = self.channel_for(outcome)
        if channel is None:
            status: DeliveryStatus = "dry_run" if dry_run else "queued"
            return OutboxMessage(**line, status=status, note=why_not), None
        if answered_offline(outcome) and not offline_ok:
            return OutboxMessage(
                **line,
                status="held",
                note=f"answered by the offline model ({outcome.final_model}); not sent to {channel.name} "
                f"unless {ALLOW_OFFLINE_DELIVERY} is true",
            ), None
        record: ActionRecord = perform_once(
            ledger,
            DELIVERY_ACTION,
            outcome.ticket_id,
            target=getattr(channel, "target", channel.name),
            perform=lambda: channel.deliver(message),
            dry_run=dry_run,
            describe=message.body[:80],
        )
        status = _STATUS_OF[record.status]
        sent = status in ("sent", "already_sent")
        return OutboxMessage(
            **line,
            status=status,
            delivered_via=(record.result or {}).get("channel", channel.name) if sent else None,
            sent_at=(record.result or {}).get("sent_at") if sent else None,
            idempotency_key=message.idempotency_key,
            note=record.error,
        ), record

    @staticmethod
    def _fail_if_undelivered(records: list[ActionRecord]) -> None:
        failed = [r for r in records if r.status == "failed"]
        pending = [r for r in records if r.status == "in_progress"]
        if not failed and not pending:
            return
        first = (failed or pending)[0]
        summary = (
            f"{len(failed)} replies failed, {len(pending)} held by another attempt "
            f"({first.ticket_key}: {first.error})"
        )
        if pending or not all(r.permanent for r in failed):
            raise AirflowException(f"{summary}; a retry sends only those")
        raise AirflowFailException(
            f"{summary}; the channel refused them and a retry cannot help: fix, then re-run"
        )
