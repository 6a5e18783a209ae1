"""Manual review and on-call paging: Jira issues and Slack messages through the official providers.

Without a Jira or Slack connection the items go to the day's `review_actions.jsonl` as a local queue,
said once in the log. Every external action goes through the side-effect ledger; Jira issues are
also found again by their `ticket-<id>` label, so even a lost ledger does not file a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException

from llm_operators.core.actions import ActionRecord, perform_once
from llm_operators.core.ledger import SideEffectLedger
from llm_operators.core.models import ReviewItem, TicketOutcome
from llm_operators.core.notify import jira_fields, oncall_message, review_digest, ticket_label
from llm_operators.core.outputs import read_jsonl, write_jsonl
from llm_operators.operators.connections import connection_exists, ledger_for
from llm_operators.operators.params import as_bool
from llm_operators.operators.storage import day_outputs


def find_or_create_jira_issue(client: Any, fields: dict[str, Any], label: str) -> dict[str, Any]:
    """Search by the ticket label first: the ledger may have been flushed, Jira remembers."""
    project = fields["project"]["key"]
    found = client.jql(f'project = {project} AND labels = "{label}"', limit=1)
    issues = (found or {}).get("issues") or []
    if issues:
        return {"key": issues[0]["key"], "found_existing": True}
    created = client.create_issue(fields=fields)
    return {"key": created["key"]}


class _NotifyBase(BaseOperator):
    template_fields: Sequence[str] = (
        "triage_summary",
        "output_root",
        "dry_run",
        "slack_channel",
        "jira_project",
    )
    defaults: dict[str, str] = {}  # slack_channel, jira_project, jira_issue_type of each subclass

    def __init__(
        self,
        *,
        triage_summary: Any,
        output_root: str,
        dry_run: bool | str = False,
        jira_conn_id: str | None = "jira_default",
        slack_conn_id: str | None = "slack_api_default",
        redis_conn_id: str | None = "redis_default",
        slack_channel: str | None = None,
        jira_project: str | None = None,
        jira_issue_type: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.triage_summary = triage_summary
        self.output_root = output_root
        self.dry_run = dry_run
        self.jira_conn_id = jira_conn_id
        self.slack_conn_id = slack_conn_id
        self.redis_conn_id = redis_conn_id
        self.slack_channel = slack_channel or self.defaults["slack_channel"]
        self.jira_project = jira_project or self.defaults["jira_project"]
        self.jira_issue_type = jira_issue_type or self.defaults["jira_issue_type"]

    def _jira(self) -> Any | None:
        if not connection_exists(self.jira_conn_id):
            return None
        from airflow.providers.atlassian.jira.hooks.jira import JiraHook

        return JiraHook(jira_conn_id=self.jira_conn_id).get_conn()

    def _slack_post(self) -> Callable[[str, str], dict[str, Any]] | None:
        if not connection_exists(self.slack_conn_id):
            return None
        from airflow.providers.slack.hooks.slack import SlackHook

        client = SlackHook(slack_conn_id=self.slack_conn_id).client

        def post(channel: str, text: str) -> dict[str, Any]:
            response = client.chat_postMessage(channel=channel, text=text)
            return {"channel": response["channel"], "ts": response["ts"]}

        return post

    def _file_jira_issue(
        self,
        ledger: SideEffectLedger,
        jira: Any,
        action: str,
        item: ReviewItem,
        labels: list[str],
        dry_run: bool,
    ) -> ActionRecord:
        """One Jira issue per item and action, at most once (ledger), found again by label if needed."""
        fields = jira_fields(item, self.jira_project, self.jira_issue_type, labels)
        return perform_once(
            ledger,
            action,
            item.key,
            target=f"jira:{self.jira_project}",
            perform=lambda: find_or_create_jira_issue(jira, fields, ticket_label(item.key)),
            dry_run=dry_run,
            describe=fields["summary"],
        )

    @staticmethod
    def _fail_if_incomplete(records: list[ActionRecord], what: str) -> None:
        bad = [r for r in records if r.status in ("failed", "in_progress")]
        if bad:
            raise AirflowException(
                f"{len(bad)} {what} actions not done ({bad[0].action} {bad[0].ticket_key}: {bad[0].error}); "
                "a retry repeats only those"
            )


class ManualReviewOperator(_NotifyBase):
    """A Jira issue per review item, then one Slack digest for the day (or a local queue)."""

    defaults = {"slack_channel": "#triage-review", "jira_project": "SUP", "jira_issue_type": "Task"}

    def execute(self, context: Context) -> dict[str, Any]:
        day = self.triage_summary["day"]
        outputs = day_outputs(self.output_root, day)
        items = list(read_jsonl(outputs.review, ReviewItem))
        ledger = ledger_for(self.redis_conn_id, scope=self.dag_id)
        dry_run = as_bool(self.dry_run)
        records: list[ActionRecord] = []
        jira_keys: dict[str, str] = {}

        jira = self._jira()
        if jira is None:
            self.log.info(
                "No Jira connection %r: %d review items queued locally in %s",
                self.jira_conn_id,
                len(items),
                outputs.review_actions,
            )
            records += [
                ActionRecord(
                    action="jira_issue",
                    ticket_key=i.key,
                    status="done",
                    target="local queue",
                    result={"queued": str(outputs.review)},
                )
                for i in items
            ]
        else:
            for item in items:
                record = self._file_jira_issue(ledger, jira, "jira_issue", item, [f"triage-{day}"], dry_run)
                records.append(record)
                if record.result and "key" in record.result:
                    jira_keys[item.key] = record.result["key"]

        post = self._slack_post()
        if post is None:
            self.log.info(
                "No Slack connection %r: no digest posted (%d items in %s)",
                self.slack_conn_id,
                len(items),
                outputs.review,
            )
        elif items:
            text = review_digest(day, context["run_id"], items, jira_keys)
            records.append(
                perform_once(
                    ledger,
                    "slack_review_digest",
                    day,
                    target=self.slack_channel,
                    perform=lambda: post(self.slack_channel, text),
                    dry_run=dry_run,
                    describe=text.splitlines()[0],
                )
            )
        write_jsonl(outputs.review_actions, records)
        self._fail_if_incomplete(records, "manual review")
        return {"items": len(items), "jira_issues": len(jira_keys), "actions": len(records)}


class PageEngineeringOperator(_NotifyBase):
    """P0/P1 tickets: a message to on-call in Slack and an issue in the engineering Jira project."""

    defaults = {"slack_channel": "#eng-oncall", "jira_project": "ENG", "jira_issue_type": "Bug"}

    def execute(self, context: Context) -> dict[str, Any]:
        day = self.triage_summary["day"]
        outputs = day_outputs(self.output_root, day)
        urgent = [i for i in read_jsonl(outputs.review, ReviewItem) if i.page_engineering] + [
            ReviewItem(
                day=day,
                ticket_id=o.ticket_id,
                reasons=["auto-replied, but P0/P1"],
                priority=o.result.priority if o.result else None,
                page_engineering=True,
                outcome=o,
            )
            for o in read_jsonl(outputs.approved, TicketOutcome)
            if o.gate and o.gate.page_engineering
        ]
        ledger = ledger_for(self.redis_conn_id, scope=self.dag_id)
        dry_run = as_bool(self.dry_run)
        jira, post = self._jira(), self._slack_post()
        records: list[ActionRecord] = []
        for item in urgent:
            jira_key = None
            if jira is not None:
                rec = self._file_jira_issue(
                    ledger, jira, "jira_eng_issue", item, ["oncall", f"triage-{day}"], dry_run
                )
                records.append(rec)
                jira_key = (rec.result or {}).get("key")
            if post is not None:
                text = oncall_message(day, item, jira_key)
                records.append(
                    perform_once(
                        ledger,
                        "page_oncall",
                        item.key,
                        target=self.slack_channel,
                        perform=lambda t=text: post(self.slack_channel, t),
                        dry_run=dry_run,
                        describe=text.splitlines()[0],
                    )
                )
            if jira is None and post is None:
                self.log.warning(
                    "PAGE %s %s: %s (no Slack/Jira connection: local queue only)",
                    item.priority,
                    item.key,
                    "; ".join(item.reasons),
                )
                records.append(
                    ActionRecord(
                        action="page_oncall", ticket_key=item.key, status="done", target="local queue"
                    )
                )
        write_jsonl(outputs.path("pages.jsonl"), records)
        self._fail_if_incomplete(records, "paging")
        return {"paged": len(urgent), "actions": len(records)}
