"""The ticket source a run reads: day files, or a Jira Service Management project."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

from llm_operators.core.day_source import FileTicketSource, TicketSource
from llm_operators.core.models import RejectedLine, Ticket
from llm_operators.core.ticket_source import DayRead
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


def ticket_source_for(
    kind: str, source_root: str, jira_conn_id: str | None, jira_project: str
) -> tuple[
    Callable[[date, DayRead | None, int], Iterator[Ticket | RejectedLine]],
    Callable[[date], int],
]:
    """`(read_day, count)` of `open_ticket_source(...)`, for callers not yet on the typed source."""
    source = open_ticket_source(kind, source_root, jira_conn_id, jira_project)
    return source.read_day, source.count
