"""The ticket source a run reads: day files, or a Jira Service Management project."""

from __future__ import annotations

from typing import Any

from llm_operators.operators.storage import storage_path


def ticket_source_for(kind: str, source_root: str, jira_conn_id: str | None, jira_project: str) -> Any:
    """`(read_day, count)` for the configured source: day files under `source_root`, or Jira Service
    Management issues (JQL) through the Jira provider's hook."""
    from datetime import date

    from llm_operators.core.batches import count_items
    from llm_operators.core.ticket_source import DayRead, read_day

    if kind == "files":
        root = storage_path(source_root)
        return (lambda day, stats, skip: read_day(root, day, stats, skip=skip)), (
            lambda day: count_items(root, day)
        )
    if kind == "jira":
        from airflow.providers.atlassian.jira.hooks.jira import JiraHook

        from llm_operators.core.jira_source import JiraTicketSource

        source = JiraTicketSource(JiraHook(jira_conn_id=jira_conn_id).get_conn(), jira_project)

        def count(day: date) -> int:
            return sum(1 for _ in source.read_day(day, DayRead(source="")))

        return source.read_day, count
    raise ValueError(f"ticket_source={kind!r}: expected 'files' or 'jira'")
