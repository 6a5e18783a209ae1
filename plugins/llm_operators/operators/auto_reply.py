"""`AutoReplyOperator`: send the gate-approved replies, each at most once, into the day's outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException
from pydantic import BaseModel, ConfigDict

from llm_operators.core.actions import ActionStatus, perform_once
from llm_operators.core.models import TicketOutcome
from llm_operators.core.outputs import read_jsonl, write_jsonl
from llm_operators.operators.connections import ledger_for
from llm_operators.operators.params import as_bool
from llm_operators.operators.storage import day_outputs


class OutboxMessage(BaseModel):
    """One customer reply; `outbox.jsonl` is the hand-off to the helpdesk's sender."""

    model_config = ConfigDict(extra="forbid")

    ticket_id: str
    customer: str | None
    channel: str | None
    subject: str
    body: str
    status: ActionStatus
    sent_at: str | None = None


class AutoReplyOperator(BaseOperator):
    template_fields: Sequence[str] = ("triage_summary", "output_root", "dry_run")

    def __init__(
        self,
        *,
        triage_summary: Any,
        output_root: str,
        dry_run: bool | str = False,
        redis_conn_id: str | None = "redis_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.triage_summary = triage_summary
        self.output_root = output_root
        self.dry_run = dry_run
        self.redis_conn_id = redis_conn_id

    def execute(self, context: Context) -> dict[str, int]:
        outputs = day_outputs(self.output_root, self.triage_summary["day"])
        ledger = ledger_for(self.redis_conn_id, scope=self.dag_id)
        dry_run = as_bool(self.dry_run)
        messages: list[OutboxMessage] = []
        for outcome in read_jsonl(outputs.approved, TicketOutcome):
            assert outcome.result is not None  # the gate approves triaged tickets only
            record = perform_once(
                ledger,
                "auto_reply",
                outcome.ticket_id,
                target=f"customer {outcome.ticket.customer}",
                perform=lambda: {"sent_at": datetime.now(UTC).isoformat()},
                dry_run=dry_run,
                describe=outcome.result.suggested_reply[:80],
            )
            messages.append(
                OutboxMessage(
                    ticket_id=outcome.ticket_id,
                    customer=outcome.ticket.customer,
                    channel=outcome.ticket.channel,
                    subject=f"Re: {outcome.ticket.subject}",
                    body=outcome.result.suggested_reply,
                    status=record.status,
                    sent_at=(record.result or {}).get("sent_at"),
                )
            )
        write_jsonl(outputs.outbox, messages)
        counts: dict[str, int] = {}
        for m in messages:
            counts[m.status] = counts.get(m.status, 0) + 1
        self.log.info("auto-replies for %s: %s -> %s", outputs.day, counts, outputs.outbox)
        if counts.get("failed") or counts.get("in_progress"):
            raise AirflowException(f"{counts} auto-replies not sent; a retry sends only those")
        return counts
