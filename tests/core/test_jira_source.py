"""JiraTicketSource: the exact UTC day, page after page, on Jira Cloud (token paging) and Server/DC
(offset paging), through the product's Jira hook against the strict fake."""

from __future__ import annotations

from datetime import date

import pytest
from fakes import FakeJira

from llm_operators.core.jira_source import JiraTicketSource, issue_to_ticket
from llm_operators.core.models import RejectedLine, Ticket
from llm_operators.core.ticket_source import DayRead
from llm_operators.hooks.jira import TriageJiraHook


@pytest.fixture(params=["cloud", "server"])
def jira(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    with FakeJira(deployment=request.param, max_results=5) as fake:
        monkeypatch.setenv("AIRFLOW_CONN_JIRA_SRC", fake.airflow_conn_json())
        yield fake
        assert fake.errors == []


def test_reads_exactly_the_utc_day_across_pages(jira: FakeJira) -> None:
    for i in range(12):  # 12 issues in the day: three pages of at most 5
        jira.seed_issue(
            "HELP", f"Ticket {i}", f"Body {i}", f"2025-10-01T{i + 1:02d}:00:00.000+0000", reporter="cust-7"
        )
    jira.seed_issue("HELP", "day before", "x", "2025-09-30T23:59:00.000+0000")
    jira.seed_issue("HELP", "next day (in UTC)", "x", "2025-10-01T20:30:00.000-0400")
    jira.seed_issue("ENG", "other project", "x", "2025-10-01T10:00:00.000+0000")
    source = JiraTicketSource(TriageJiraHook(jira_conn_id="jira_src"), "HELP", page_size=5)
    stats = DayRead(source="")
    items = list(source.read_day(date(2025, 10, 1), stats))
    assert all(isinstance(t, Ticket) for t in items)
    assert [t.subject for t in items] == [f"Ticket {i}" for i in range(12)]
    assert items[0].channel == "jira" and items[0].body == "Body 0" and items[0].id.startswith("HELP-")
    assert items[0].customer == "cust-7"
    assert stats.tickets == 12 and stats.source.startswith("jira:HELP")
    path = "/rest/api/3/search/jql" if jira.cloud else "/rest/api/2/search"
    assert len(jira.requests_to(path)) == 3  # 13 issues in the window: pages of 5, 5, 3
    assert all(r.status == 200 for r in jira.requests)  # never the removed endpoint on Cloud
    # a batch that starts after the first 7 items gets the rest, in the same order
    assert [t.subject for t in source.read_day(date(2025, 10, 1), skip=7)] == [
        f"Ticket {i}" for i in range(7, 12)
    ]
    assert source.count(date(2025, 10, 1)) == 12


def test_the_old_client_reads_nothing_on_jira_cloud(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the code did before: the provider's JiraHook client and `jql()` -> 410 Gone on Cloud."""
    from airflow.providers.atlassian.jira.hooks.jira import JiraHook
    from requests import HTTPError

    with FakeJira(deployment="cloud") as fake:
        monkeypatch.setenv("AIRFLOW_CONN_JIRA_OLD", fake.airflow_conn_json())
        fake.seed_issue("HELP", "t", "b", "2025-10-01T10:00:00.000+0000")
        with pytest.raises(HTTPError, match="CHANGE-2046"):
            JiraHook(jira_conn_id="jira_old").get_conn().jql("project = HELP", start=0, limit=5)


def test_jql_is_wider_than_the_day_and_ordered() -> None:
    jql = JiraTicketSource(None, "HELP", extra_jql='issuetype = "Support"').jql_for(date(2025, 10, 1))  # type: ignore[arg-type]
    assert jql == (
        'project = HELP AND created >= "2025-09-30 00:00" AND created < "2025-10-03 00:00" '
        'AND (issuetype = "Support") ORDER BY created ASC, key ASC'
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
            },
            {"type": "paragraph", "content": [{"type": "text", "text": "Second line"}]},
        ],
    }
    issue = {
        "key": "HELP-1",
        "fields": {"summary": "s", "description": adf, "created": "2025-10-01T10:00:00+00:00"},
    }
    assert issue_to_ticket(issue, "jira", 1).body == "Hello there\nSecond line"
