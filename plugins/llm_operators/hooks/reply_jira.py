"""Replies to tickets read from Jira Service Management: a comment the customer sees on the request.

The Jira client is `TriageJiraHook` (hooks/jira.py), imported only when a Jira-sourced ticket is
answered, so a deployment without Jira never loads it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Protocol

from llm_operators.core.actions import PermanentActionError
from llm_operators.core.delivery import ReplyMessage


class CustomerCommenter(Protocol):
    def add_customer_comment(self, issue_key: str, body: str) -> dict[str, Any]: ...


def _status_of(exc: Exception) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


class JiraCommentReplyChannel:
    """A `ReplyChannel`: the ticket id of a Jira-sourced ticket is its request's issue key."""

    name = "jira"

    def __init__(self, jira_conn_id: str = "jira_default") -> None:
        self.jira_conn_id = jira_conn_id

    @cached_property
    def hook(self) -> CustomerCommenter:
        from llm_operators.hooks.jira import TriageJiraHook

        return TriageJiraHook(jira_conn_id=self.jira_conn_id)

    @property
    def target(self) -> str:
        return f"jira request comment ({self.jira_conn_id})"

    def deliver(self, message: ReplyMessage) -> dict[str, Any]:
        try:
            created = self.hook.add_customer_comment(message.ticket_id, message.body)
        except Exception as exc:
            status = _status_of(exc)
            if status is not None and 400 <= status < 500 and status not in (408, 409, 429):
                raise PermanentActionError(
                    f"Jira refused the comment on {message.ticket_id} (HTTP {status}): {exc}"
                ) from exc
            raise
        return {
            "sent_at": datetime.now(UTC).isoformat(),
            "channel": self.name,
            "comment_id": created.get("id"),
        }
