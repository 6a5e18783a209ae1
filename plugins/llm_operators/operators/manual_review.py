"""Manual review and on-call paging: Jira issues and Slack messages through the official providers.

Without a Jira or Slack connection the items go to the day's `review_actions.jsonl` as a local queue,
said once in the log. Every external action goes through the side-effect ledger; Jira issues are
also found again by their `ticket-<id>` label, so even a lost ledger does not file a duplicate (on
Jira Cloud that search is eventually consistent, which is why the ledger comes first).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from llm_operators.core.actions import ActionRecord, perform_once
from llm_operators.core.ledger import SideEffectLedger
from llm_operators.core.models import ReviewItem, TicketOutcome
from llm_operators.core.notify import (
    JiraTarget,
    jira_fields,
    oncall_message,
    page_log_line,
    review_digest,
    ticket_label,
)
from llm_operators.core.outputs import read_jsonl, write_jsonl
from llm_operators.operators.connections import connection_exists, ledger_for
from llm_operators.operators.params import as_bool
from llm_operators.operators.storage import day_outputs

if TYPE_CHECKING:  # the provider hooks import atlassian/slack_sdk (seconds): not at DAG parse time
    from llm_operators.hooks.jira import TriageJiraHook
    from llm_operators.hooks.slack import SlackPoster

SLACK_MIN_INTERVAL_S = 1.0  # Slack: about one message per second per channel (docs/slack.md)


def find_or_create_jira_issue(jira: TriageJiraHook, fields: dict[str, Any], label: str) -> dict[str, Any]:
    """Search by the ticket label first: the ledger may have been flushed, Jira remembers."""
    project = fields["project"]["key"]
    key = jira.find_issue_key(f'project = {project} AND labels = "{label}"')
    if key is not None:
        return {"key": key, "found_existing": True}
    return {"key": jira.create_issue(fields)}


def _priorities(value: Any) -> dict[str, str] | None:
    """The priority mapping as given: a dict, a JSON object (from a template), or empty for the default."""
    if value in (None, "", {}):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise AirflowFailException(f"jira_priorities: not a JSON object ({exc}): {value!r}") from exc
    if not isinstance(value, dict):
        raise AirflowFailException(
            f"jira_priorities: expected an object like {{'P0': 'Highest'}}, got {value!r}"
        )
    return value


class _NotifyBase(BaseOperator):
    template_fields: Sequence[str] = (
        "triage_summary",
        "output_root",
        "dry_run",
        "slack_channel",
        "jira_project",
        "jira_issue_type",
        "jira_priorities",
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
        jira_priorities: dict[str, str] | str | None = None,
        slack_min_interval_s: float = SLACK_MIN_INTERVAL_S,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.triage_summary = triage_summary
        self.output_root = output_root
        self.dry_run = dry_run
        self.jira_conn_id = jira_conn_id
        self.slack_conn_id = slack_conn_id
        self.redis_conn_id = redis_conn_id
        self.slack_channel = slack_channel
        self.jira_project = jira_project
        self.jira_issue_type = jira_issue_type
        self.jira_priorities = jira_priorities
        self.slack_min_interval_s = slack_min_interval_s

    # Settings are read after templating (a DAG passes them as params / env-derived templates).
    @property
    def channel(self) -> str:
        return self.slack_channel or self.defaults["slack_channel"]

    @cached_property
    def jira_target(self) -> JiraTarget:
        settings: dict[str, Any] = {
            "project": self.jira_project or self.defaults["jira_project"],
            "issue_type": self.jira_issue_type or self.defaults["jira_issue_type"],
        }
        priorities = _priorities(self.jira_priorities)
        if priorities is not None:
            settings["priorities"] = priorities
        try:
            return JiraTarget(**settings)
        except ValueError as exc:
            raise AirflowFailException(f"{self.task_id}: Jira settings: {exc}") from exc

    @cached_property
    def jira(self) -> TriageJiraHook | None:
        if not connection_exists(self.jira_conn_id):
            return None
        from llm_operators.hooks.jira import TriageJiraHook

        assert self.jira_conn_id is not None
        return TriageJiraHook(jira_conn_id=self.jira_conn_id)

    @cached_property
    def slack(self) -> SlackPoster | None:
        if not connection_exists(self.slack_conn_id):
            return None
        from llm_operators.hooks.slack import SlackPoster

        assert self.slack_conn_id is not None
        return SlackPoster(self.slack_conn_id, min_interval_s=self.slack_min_interval_s)

    def _ledger(self) -> SideEffectLedger:
        real = [name for name, on in (("jira", self.jira), ("slack", self.slack)) if on is not None]
        return ledger_for(self.redis_conn_id, scope=self.dag_id, real_targets=real)

    def _jira_fields(self, items: list[ReviewItem], labels: list[str], dry_run: bool) -> list[dict[str, Any]]:
        """Fields of each item, checked against the project's create screen before anything is filed."""
        jira = self.jira
        assert jira is not None
        target = self.jira_target
        all_fields = [jira_fields(item, target, labels) for item in items]
        if not dry_run:
            for fields in all_fields:
                jira.check_create_screen(target.project, target.issue_type, fields)
        return all_fields

    def _file_jira_issue(
        self, ledger: SideEffectLedger, action: str, item: ReviewItem, fields: dict[str, Any], dry_run: bool
    ) -> ActionRecord:
        """One Jira issue per item and action, at most once (ledger), found again by label if needed."""
        jira = self.jira
        assert jira is not None
        return perform_once(
            ledger,
            action,
            item.key,
            target=f"jira:{self.jira_target.project}",
            perform=lambda: find_or_create_jira_issue(jira, fields, ticket_label(item.key)),
            dry_run=dry_run,
            describe=fields["summary"],
        )

    @staticmethod
    def _fail_if_incomplete(records: list[ActionRecord], what: str) -> None:
        bad = [r for r in records if r.status in ("failed", "in_progress")]
        if not bad:
            return
        message = (
            f"{len(bad)} {what} actions not done ({bad[0].action} {bad[0].ticket_key}: {bad[0].error}); "
            "a retry repeats only those"
        )
        if all(r.permanent for r in bad):
            raise AirflowFailException(message.replace("a retry repeats only those", "fix the setting named"))
        raise AirflowException(message)


class ManualReviewOperator(_NotifyBase):
    """A Jira issue per review item, then one Slack digest for the day that carries their keys."""

    defaults = {"slack_channel": "#triage-review", "jira_project": "SUP", "jira_issue_type": "Task"}

    def execute(self, context: Context) -> dict[str, Any]:
        day = self.triage_summary["day"]
        outputs = day_outputs(self.output_root, day)
        items = list(read_jsonl(outputs.review, ReviewItem))
        dry_run = as_bool(self.dry_run)
        ledger = self._ledger()
        records: list[ActionRecord] = []
        jira_keys: dict[str, str] = {}

        if self.jira is None:
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
        elif items:
            all_fields = self._jira_fields(items, [f"triage-{day}"], dry_run)
            for item, fields in zip(items, all_fields, strict=True):
                record = self._file_jira_issue(ledger, "jira_issue", item, fields, dry_run)
                records.append(record)
                if record.result and "key" in record.result:
                    jira_keys[item.key] = record.result["key"]

        jira_incomplete = any(r.status in ("failed", "in_progress") for r in records)
        if self.slack is None:
            self.log.info(
                "No Slack connection %r: no digest posted (%d items in %s)",
                self.slack_conn_id,
                len(items),
                outputs.review,
            )
        elif jira_incomplete:
            # the digest lists the Jira keys: it waits for the retry that files the missing issues
            self.log.warning("Jira filing incomplete: the Slack digest waits for the retry")
        elif items:
            slack = self.slack
            text = review_digest(day, context["run_id"], items, jira_keys)
            records.append(
                perform_once(
                    ledger,
                    "slack_review_digest",
                    day,
                    target=self.channel,
                    perform=lambda: slack.post(self.channel, text),
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
                reasons=[],  # auto-replied: paged for its priority alone
                priority=o.result.priority if o.result else None,
                page_engineering=True,
                outcome=o,
            )
            for o in read_jsonl(outputs.approved, TicketOutcome)
            if o.gate and o.gate.page_engineering
        ]
        dry_run = as_bool(self.dry_run)
        ledger = self._ledger()
        jira, slack = self.jira, self.slack
        all_fields = (
            self._jira_fields(urgent, ["oncall", f"triage-{day}"], dry_run) if jira and urgent else []
        )
        records: list[ActionRecord] = []
        for n, item in enumerate(urgent):
            jira_key = None
            if jira is not None:
                rec = self._file_jira_issue(ledger, "jira_eng_issue", item, all_fields[n], dry_run)
                records.append(rec)
                jira_key = (rec.result or {}).get("key")
            if slack is not None:
                text = oncall_message(day, item, jira_key)
                records.append(
                    perform_once(
                        ledger,
                        "page_oncall",
                        item.key,
                        target=self.channel,
                        perform=lambda t=text: slack.post(self.channel, t),
                        dry_run=dry_run,
                        describe=text.splitlines()[0],
                    )
                )
            if jira is None and slack is None:
                self.log.warning("%s (no Slack/Jira connection: local queue only)", page_log_line(item))
                records.append(
                    ActionRecord(
                        action="page_oncall", ticket_key=item.key, status="done", target="local queue"
                    )
                )
        write_jsonl(outputs.path("pages.jsonl"), records)
        self._fail_if_incomplete(records, "paging")
        return {"paged": len(urgent), "actions": len(records)}
