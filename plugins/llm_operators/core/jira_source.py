"""Jira Service Management as a ticket source: the issues created in a UTC day, read by JQL.

Jira reads JQL dates in the *user's* time zone, so the query asks for a window one day wider on each
side and the exact UTC day is cut here, from each issue's `created` timestamp (which carries its
offset). Issues come page by page (`startAt`/`maxResults`), so a busy day never sits in memory whole.
The client is anything with atlassian-python-api's `jql(jql, fields=, start=, limit=)`: the Airflow
shell passes the one from the Jira provider's `JiraHook`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from llm_operators.core.models import RejectedLine, Ticket
from llm_operators.core.ticket_source import DayRead, utc_day_bounds

FIELDS = "summary,description,created,reporter"


def _text(value: Any) -> str:
    """Jira Server sends plain text; Jira Cloud (API v3) sends Atlassian Document Format."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if value.get("type") == "text":
            return value.get("text", "")
        children = [_text(child) for child in value.get("content", [])]
        # block nodes (doc, lists) hold one paragraph per line; inline content joins as it is
        block = value.get("type") in ("doc", "bulletList", "orderedList", "listItem", "blockquote")
        return "\n".join(children) if block else "".join(children)
    if isinstance(value, list):
        return "\n".join(_text(v) for v in value)
    return str(value)


def issue_to_ticket(issue: dict[str, Any], source: str, position: int) -> Ticket | RejectedLine:
    fields = issue.get("fields") or {}
    reporter = fields.get("reporter") or {}
    try:
        return Ticket(
            id=issue["key"],
            created_at=datetime.fromisoformat(fields["created"]),
            subject=fields.get("summary") or "",
            body=_text(fields.get("description")),
            customer=reporter.get("accountId") or reporter.get("name"),
            channel="jira",
        )
    except (KeyError, ValueError, TypeError, ValidationError) as exc:
        field = exc.errors()[0]["loc"][0] if isinstance(exc, ValidationError) else None
        return RejectedLine(
            source=source,
            line=position,
            ticket_id=issue.get("key"),
            field=str(field) if field else None,
            error=f"{type(exc).__name__}: {exc}"[:300],
        )


class JiraTicketSource:
    def __init__(self, client: Any, project: str, *, extra_jql: str = "", page_size: int = 100) -> None:
        self.client = client
        self.project = project
        self.extra_jql = extra_jql
        self.page_size = page_size

    def jql_for(self, day: date) -> str:
        lo, hi = day - timedelta(days=1), day + timedelta(days=2)
        clauses = [
            f"project = {self.project}",
            f'created >= "{lo:%Y-%m-%d} 00:00"',
            f'created < "{hi:%Y-%m-%d} 00:00"',
        ]
        if self.extra_jql:
            clauses.append(f"({self.extra_jql})")
        return " AND ".join(clauses) + " ORDER BY created ASC"

    def read_day(
        self, day: date, stats: DayRead | None = None, skip: int = 0
    ) -> Iterator[Ticket | RejectedLine]:
        jql = self.jql_for(day)
        stats = stats if stats is not None else DayRead(source="")
        stats.source, stats.file_found = f"jira:{self.project} ({jql})", True
        start, end = utc_day_bounds(day)
        position = 0
        while True:
            page = self.client.jql(jql, fields=FIELDS, start=position, limit=self.page_size) or {}
            issues = page.get("issues") or []
            for issue in issues:
                position += 1
                item = issue_to_ticket(issue, stats.source, position)
                if isinstance(item, Ticket) and not (start <= item.created_at < end):
                    continue  # the query window is wider than the day on purpose (time zones)
                if skip > 0:  # an earlier batch's item
                    skip -= 1
                    continue
                stats.lines += 1
                if isinstance(item, Ticket):
                    stats.tickets += 1
                else:
                    stats.rejected += 1
                yield item
            total = page.get("total")
            if not issues or (total is not None and position >= total):
                return
