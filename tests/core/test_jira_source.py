"""JiraTicketSource against the loopback fake Jira, through the real atlassian-python-api client."""

from __future__ import annotations

from datetime import date

import pytest
from atlassian import Jira
from fakes import FakeJira

from llm_operators.core.jira_source import JiraTicketSource, issue_to_ticket
from llm_operators.core.models import RejectedLine, Ticket
from llm_operators.core.ticket_source import DayRead


@pytest.fixture
def jira():
    with FakeJira(username="bot@example.com", api_token="jira-token", max_results=5) as fake:
        yield fake


def _client(fake: FakeJira) -> Jira:
    return Jira(url=fake.url, username="bot@example.com", password="jira-token")


def test_reads_exactly_the_utc_day_across_pages(jira: FakeJira) -> None:
    for i in range(12):  # 12 issues in the day: three pages of 5
        jira.seed_issue(
            "HELP", f"Ticket {i}", f"Body {i}", f"2025-10-01T{i + 1:02d}:00:00.000+0000", reporter="cust-7"
        )
    jira.seed_issue("HELP", "day before", "x", "2025-09-30T23:59:00.000+0000")
    jira.seed_issue("HELP", "next day (in UTC)", "x", "2025-10-01T20:30:00.000-0400")
    jira.seed_issue("OTHER", "other project", "x", "2025-10-01T10:00:00.000+0000")
    stats = DayRead(source="")
    items = list(JiraTicketSource(_client(jira), "HELP", page_size=5).read_day(date(2025, 10, 1), stats))
    assert all(isinstance(t, Ticket) for t in items)
    assert [t.subject for t in items] == [f"Ticket {i}" for i in range(12)]
    assert items[0].channel == "jira" and items[0].body == "Body 0" and items[0].id.startswith("HELP-")
    assert stats.tickets == 12 and stats.source.startswith("jira:HELP")
    searches = jira.requests_to("/search", method="GET")
    assert len(searches) >= 3  # paginated, not one giant request


def test_jql_is_wider_than_the_day_and_ordered() -> None:
    jql = JiraTicketSource(None, "HELP", extra_jql='issuetype = "Support"').jql_for(date(2025, 10, 1))
    assert jql == (
        'project = HELP AND created >= "2025-09-30 00:00" AND created < "2025-10-03 00:00" '
        'AND (issuetype = "Support") ORDER BY created ASC'
    )


def test_unmappable_issue_is_rejected_not_lost() -> None:
    item = issue_to_ticket({"key": "HELP-9", "fields": {"summary": "no date"}}, "jira:HELP", 4)
    assert isinstance(item, RejectedLine) and item.ticket_id == "HELP-9" and item.line == 4


def test_cloud_document_format_becomes_text() -> None:
    adf = {
        "type": "doc",
        "content": [
            {
                "type": "paragraph",
                "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}],
            }
        ],
    }
    issue = {
        "key": "HELP-1",
        "fields": {"summary": "s", "description": adf, "created": "2025-10-01T10:00:00+00:00"},
    }
    assert issue_to_ticket(issue, "jira", 1).body == "Hello there"
