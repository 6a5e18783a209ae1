"""The ticket source a run reads: day files, or a Jira Service Management project."""

from __future__ import annotations

from llm_operators.core.day_source import FileTicketSource, TicketSource
from llm_operators.operators.storage import storage_path

SOURCES = ("files", "jira")


def open_ticket_source(
    kind: str, source_root: str, jira_conn_id: str | None, jira_project: str
) -> TicketSource:
    """Day files under `source_root`, or the issues of a Jira project through `TriageJiraHook` (token
    paging on Jira Cloud, offset paging on Server/Data Center)."""
    if kind == "files":
        return FileTicketSource(storage_path(source_root))
    if kind == "jira":
        from llm_operators.core.jira_source import JiraTicketSource
        from llm_operators.hooks.jira import TriageJiraHook

        return JiraTicketSource(TriageJiraHook(jira_conn_id=jira_conn_id or "jira_default"), jira_project)
    raise ValueError(f"ticket_source={kind!r}: expected one of {', '.join(SOURCES)}")
