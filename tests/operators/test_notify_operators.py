"""Manual review and paging through the official Slack/Jira hooks, against loopback fakes
speaking the real protocols, with the side-effect ledger in the real Redis (db 10)."""

from __future__ import annotations

import pytest
import redis
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from builders import DAY, make_outcome
from fakes import FakeJira, FakeSlack

from llm_operators.core.models import ReviewItem
from llm_operators.core.outputs import write_jsonl
from llm_operators.operators.auto_reply import AutoReplyOperator
from llm_operators.operators.manual_review import ManualReviewOperator, PageEngineeringOperator

REDIS_DB = 10
CONTEXT = {"run_id": "scheduled__2025-10-01T00:00:00+00:00"}
FAST = 0.02  # the fake's per-channel interval and our pacing, shortened for tests


@pytest.fixture
def ledger_redis(monkeypatch: pytest.MonkeyPatch):
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    client.flushdb()
    monkeypatch.setenv(
        "AIRFLOW_CONN_REDIS_LEDGER_TEST",
        f'{{"conn_type": "redis", "host": "127.0.0.1", "port": 6379, "extra": {{"db": {REDIS_DB}}}}}',
    )
    yield client
    client.flushdb()


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch):
    with FakeSlack(token="xoxb-test", min_interval_s=FAST) as fake:
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_TEST", fake.airflow_conn_json())
        yield fake
        assert fake.errors == []


@pytest.fixture(params=["cloud", "server"])
def jira(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    with FakeJira(username="bot@example.com", api_token="jira-token", deployment=request.param) as fake:
        monkeypatch.setenv("AIRFLOW_CONN_JIRA_TEST", fake.airflow_conn_json())
        yield fake
        assert fake.errors == []


def _review(day_outputs, outcomes: list, auto_replied_pages: list | None = None):
    """The gate's hand-off written directly (review items, and auto-replied P0/P1 outcomes), so these
    tests do not move with the gate's rules."""
    outputs = day_outputs(outcomes)
    items = [
        ReviewItem(
            day=DAY,
            ticket_id=o.ticket_id,
            reasons=["low confidence 0.30 < 0.65"]
            if o.result.confidence < 0.65
            else ["model says needs_human"],
            priority=o.result.priority,
            page_engineering=o.result.priority in ("P0", "P1"),
            outcome=o,
        )
        for o in outcomes
    ]
    write_jsonl(outputs.review, items)
    return outputs


@pytest.fixture
def gated_day(day_outputs):
    return _review(
        day_outputs,
        [
            make_outcome("T-2", confidence=0.3, subject="Help, mail me at jane.doe@example.com"),  # review
            make_outcome("T-3", priority="P0", needs_human=True, subject="API down for all users"),  # + page
        ],
    )


def _op(cls, outputs, **kwargs):
    args = {"redis_conn_id": "redis_ledger_test"}
    if cls is not AutoReplyOperator:
        args |= {"jira_conn_id": "jira_test", "slack_conn_id": "slack_test", "slack_min_interval_s": FAST}
    return cls(
        task_id=cls.__name__, triage_summary={"day": DAY}, output_root=str(outputs.root), **(args | kwargs)
    )


def test_manual_review_files_jira_issues_and_one_digest_once(gated_day, slack, jira, ledger_redis) -> None:
    result = _op(ManualReviewOperator, gated_day).execute(CONTEXT)
    assert result == {"items": 2, "jira_issues": 2, "actions": 3}
    issues = jira.created_issues
    assert sorted(i["fields"]["summary"] for i in issues) == [
        "[P0] API down for all users",
        "[P2] Help, mail me at [EMAIL]",
    ]
    p0 = next(i for i in issues if "P0" in i["fields"]["summary"])
    assert p0["fields"]["priority"]["name"] == "Highest"
    assert "ticket-T-3" in p0["fields"]["labels"] and p0["key"].startswith("SUP-")
    creates = jira.requests_to("/issue", method="POST")
    assert {r.path for r in creates} == {"/rest/api/3/issue" if jira.cloud else "/rest/api/2/issue"}
    if jira.cloud:  # API v3 wants the description as Atlassian Document Format
        assert all(isinstance(r.json()["fields"]["description"], dict) for r in creates)
    assert all(r.status != 410 for r in jira.requests)
    (digest,) = slack.messages
    assert digest["channel"] == "#triage-review"
    assert "2 ticket(s) need a human" in digest["text"] and p0["key"] in digest["text"]
    assert "jane.doe@example.com" not in digest["text"] + str(issues)

    # a retry / re-run / backfill of the same day repeats nothing
    _op(ManualReviewOperator, gated_day).execute(CONTEXT)
    assert len(jira.created_issues) == 2 and len(slack.messages) == 1


def test_settings_choose_project_issue_type_and_priorities(gated_day, jira, ledger_redis) -> None:
    _op(
        ManualReviewOperator,
        gated_day,
        slack_conn_id=None,
        jira_project="HELP",
        jira_issue_type="Service Request",
        jira_priorities='{"P0": "High", "P1": "High", "P2": "Low", "P3": "Lowest"}',
    ).execute(CONTEXT)
    issues = {i["fields"]["summary"][:4]: i for i in jira.created_issues}
    assert {i["key"].split("-")[0] for i in issues.values()} == {"HELP"}
    assert issues["[P0]"]["fields"]["issuetype"]["name"] == "Service Request"
    assert (issues["[P0]"]["fields"]["priority"]["name"], issues["[P2]"]["fields"]["priority"]["name"]) == (
        "High",
        "Low",
    )


def test_lost_ledger_still_does_not_duplicate_jira_issues(gated_day, jira, ledger_redis) -> None:
    _op(ManualReviewOperator, gated_day, slack_conn_id=None).execute(CONTEXT)
    ledger_redis.flushdb()
    _op(ManualReviewOperator, gated_day, slack_conn_id=None).execute(CONTEXT)
    assert len(jira.created_issues) == 2  # found again by the ticket-<id> label


def test_the_ledger_is_the_first_guard_while_cloud_search_lags(
    day_outputs, ledger_redis, monkeypatch
) -> None:
    """Jira Cloud's search is eventually consistent: a just-created issue is not found by label yet.
    The ledger, not the search, keeps the re-run from filing it again."""
    outputs = _review(day_outputs, [make_outcome("T-2", confidence=0.3)])
    with FakeJira(deployment="cloud", index_lag_s=600) as jira:
        monkeypatch.setenv("AIRFLOW_CONN_JIRA_TEST", jira.airflow_conn_json())
        _op(ManualReviewOperator, outputs, slack_conn_id=None).execute(CONTEXT)
        _op(ManualReviewOperator, outputs, slack_conn_id=None).execute(CONTEXT)
        assert len(jira.created_issues) == 1
        assert len(jira.requests_to("/search/jql")) == 1  # the second run never needed the search


def test_failed_action_fails_the_task_and_the_retry_does_only_what_is_missing(
    gated_day, slack, jira, ledger_redis
) -> None:
    jira.fail_next_creates(1, status=503)
    with pytest.raises(AirflowException, match="1 manual review actions not done"):
        _op(ManualReviewOperator, gated_day).execute(CONTEXT)
    assert len(jira.created_issues) == 1
    assert slack.messages == []  # the digest carries the Jira keys: it waits for all of them
    _op(ManualReviewOperator, gated_day).execute(CONTEXT)
    assert len(jira.created_issues) == 2
    (digest,) = slack.messages
    assert all(i["key"] in digest["text"] for i in jira.created_issues)


def test_issue_type_or_priority_missing_from_the_create_screen_fails_naming_project_and_field(
    gated_day, ledger_redis, monkeypatch
) -> None:
    no_priority = ("project", "issuetype", "summary", "description", "labels")
    with FakeJira(projects={"SUP": {"Task": no_priority}}) as jira:
        monkeypatch.setenv("AIRFLOW_CONN_JIRA_TEST", jira.airflow_conn_json())
        with pytest.raises(AirflowFailException, match="Jira project SUP, issue type Task: field 'priority'"):
            _op(ManualReviewOperator, gated_day, slack_conn_id=None).execute(CONTEXT)
        with pytest.raises(
            AirflowFailException, match=r"Jira project SUP: issue type 'Incident'.*offers: Task"
        ):
            _op(ManualReviewOperator, gated_day, slack_conn_id=None, jira_issue_type="Incident").execute(
                CONTEXT
            )
        assert jira.created_issues == []
        assert len(jira.requests_to("/issuetypes")) == 2  # checked once per run, not once per issue


def test_dry_run_performs_nothing(gated_day, slack, jira, ledger_redis) -> None:
    _op(ManualReviewOperator, gated_day, dry_run="True").execute(CONTEXT)
    _op(PageEngineeringOperator, gated_day, dry_run=True).execute(CONTEXT)
    assert jira.created_issues == [] and slack.messages == [] and ledger_redis.dbsize() == 0


def test_page_engineering_posts_to_oncall_and_eng_project(gated_day, slack, jira, ledger_redis) -> None:
    assert _op(PageEngineeringOperator, gated_day).execute(CONTEXT) == {"paged": 1, "actions": 2}
    (page,) = slack.messages
    assert page["channel"] == "#eng-oncall" and "*P0*" in page["text"] and "T-3" in page["text"]
    assert "paged for its priority" in page["rendered"]
    (issue,) = jira.created_issues
    assert issue["key"].startswith("ENG-") and issue["key"] in page["text"]
    _op(PageEngineeringOperator, gated_day).execute(CONTEXT)
    assert len(slack.messages) == 1 and len(jira.created_issues) == 1


HOSTILE = "<!channel> <!here> <@U123> <https://evil.example|Reset your password>"


def test_mentions_and_disguised_links_from_tickets_render_as_text(day_outputs, slack, ledger_redis) -> None:
    outputs = _review(
        day_outputs, [make_outcome("T-9", priority="P0", needs_human=True, subject=f"Urgent {HOSTILE}")]
    )
    _op(ManualReviewOperator, outputs, jira_conn_id=None).execute(CONTEXT)
    _op(PageEngineeringOperator, outputs, jira_conn_id=None).execute(CONTEXT)
    digest, page = slack.messages
    for message in (digest, page):
        assert message["mentions"] == [] and message["links"] == []
        assert "<!channel> <!here> <@U123> <https://evil.example|Reset your password>" in message["rendered"]


def _paging_day(day_outputs):
    return _review(
        day_outputs,
        [make_outcome(f"T-{i}", priority="P1", needs_human=True, subject=f"Outage {i}") for i in range(4)],
    )


def test_rate_limited_pages_are_retried_not_lost(day_outputs, ledger_redis, monkeypatch) -> None:
    outputs = _paging_day(day_outputs)
    with FakeSlack(min_interval_s=0.3, retry_after_s=0) as slack:
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_TEST", slack.airflow_conn_json())
        result = _op(PageEngineeringOperator, outputs, jira_conn_id=None, slack_min_interval_s=0).execute(
            CONTEXT
        )
        assert result == {"paged": 4, "actions": 4}
        assert slack.rate_limited() >= 1  # Slack said 429 at least once ...
        assert sorted(m["text"].split("`")[1] for m in slack.messages) == [
            "T-0",
            "T-1",
            "T-2",
            "T-3",
        ]  # ... once each


def test_pages_are_paced_per_channel(day_outputs, ledger_redis, monkeypatch) -> None:
    outputs = _paging_day(day_outputs)
    with FakeSlack(min_interval_s=0.1) as slack:
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_TEST", slack.airflow_conn_json())
        _op(PageEngineeringOperator, outputs, jira_conn_id=None, slack_min_interval_s=0.1).execute(CONTEXT)
        assert len(slack.messages) == 4 and slack.rate_limited() == 0


@pytest.mark.parametrize(
    ("fake_args", "error", "advice"),
    [
        ({"member_of": {"general"}}, "not_in_channel", "invite it there"),
        ({"channels": {"general": "C1"}}, "channel_not_found", "check the channel name"),
    ],
)
def test_a_channel_the_bot_cannot_post_to_fails_with_what_to_do(
    gated_day, ledger_redis, monkeypatch, fake_args, error, advice
) -> None:
    with FakeSlack(min_interval_s=FAST, **fake_args) as slack:
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_TEST", slack.airflow_conn_json())
        with pytest.raises(AirflowFailException) as failure:
            _op(ManualReviewOperator, gated_day, jira_conn_id=None).execute(CONTEXT)
    message = str(failure.value)
    assert error in message and "'#triage-review'" in message and advice in message


def test_without_connections_everything_goes_to_the_local_queue(gated_day, slack, jira) -> None:
    _op(
        ManualReviewOperator,
        gated_day,
        jira_conn_id="jira_missing",
        slack_conn_id="slack_missing",
    ).execute(CONTEXT)
    assert jira.created_issues == [] and slack.messages == []
    actions = gated_day.review_actions.read_text()
    assert actions.count('"target":"local queue"') == 2
