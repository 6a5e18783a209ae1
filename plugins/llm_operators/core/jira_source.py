"""Jira Service Management as a ticket source: the issues created in a UTC day, read by JQL.

Jira reads JQL dates in the *user's* time zone, so the query asks for a window one day wider on each
side and the exact UTC day is cut here, from each issue's `created` timestamp (which carries its
offset). Issues come page by page from a `JiraSearch` (the Airflow shell passes `TriageJiraHook`,
which pages by token on Jira Cloud and by offset on Server/Data Center), so a busy day never sits in
memory whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError

from llm_operators.core.adf import adf_text
from llm_operators.core.models import RejectedLine, Ticket
from llm_operators.core.ticket_source import DayRead, utc_day_bounds

FIELDS = ("summary", "description", "created", "reporter")


class JiraSearch(Protocol):
    def search(self, jql: str, fields: tuple[str, ...], page_size: int) -> Iterator[dict[str, Any]]:
        """Every issue matching `jql`, in the query's order, fetched one page at a time."""
        ...


def issue_to_ticket(issue: dict[str, Any], source: str, position: int) -> Ticket | RejectedLine:
    fields = issue.get("fields") or {}
    reporter = fields.get("reporter") or {}
    try:
        return Ticket(
            id=issue["key"],
            created_at=datetime.fromisoformat(fields["created"]),
            subject=fields.get("summary") or "",
            body=adf_text(fields.get("description")),
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
    """A `TicketSource` over one Jira project."""

    def __init__(self, jira: JiraSearch, project: str, *, extra_jql: str = "", page_size: int = 100) -> None:
        self.jira = jira
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
        # key as a tie-breaker: issues created in the same second keep one order across batches
        return " AND ".join(clauses) + " ORDER BY created ASC, key ASC"

    def read_day(
        self, day: date, stats: DayRead | None = None, skip: int = 0
    ) -> Iterator[Ticket | RejectedLine]:
        jql = self.jql_for(day)
        stats = stats if stats is not None else DayRead(source="")
        stats.source, stats.file_found = f"jira:{self.project} ({jql})", True
        start, end = utc_day_bounds(day)
        for position, issue in enumerate(self.jira.search(jql, FIELDS, self.page_size), start=1):
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

    def count(self, day: date) -> int:
        return sum(1 for _ in self.read_day(day, DayRead(source="")))
