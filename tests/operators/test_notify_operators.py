"""Auto-reply, manual review and paging through the official Slack/Jira hooks, against loopback fakes
speaking the real protocols, with the side-effect ledger in the real Redis (db 10)."""

from __future__ import annotations

import pytest
import redis
from airflow.sdk.exceptions import AirflowException
from builders import DAY, make_outcome
from fakes import FakeJira, FakeSlack

from llm_operators.core.outputs import read_jsonl
from llm_operators.operators.auto_reply import AutoReplyOperator, OutboxMessage
from llm_operators.operators.gate import QualityGateOperator
from llm_operators.operators.manual_review import ManualReviewOperator, PageEngineeringOperator

REDIS_DB = 10
CONTEXT = {"run_id": "scheduled__2025-10-01T00:00:00+00:00"}


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
    with FakeSlack(token="xoxb-test") as fake:
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_TEST", fake.airflow_conn_json())
        yield fake
        assert fake.errors == []


@pytest.fixture
def jira(monkeypatch: pytest.MonkeyPatch):
    with FakeJira(username="bot@example.com", api_token="jira-token") as fake:
        monkeypatch.setenv("AIRFLOW_CONN_JIRA_TEST", fake.airflow_conn_json())
        yield fake
        assert fake.errors == []


@pytest.fixture
def gated_day(day_outputs):
    outcomes = [
        make_outcome("T-1"),  # auto-reply
        make_outcome(
            "T-2", confidence=0.3, subject="Help, mail me at jane.doe@example.com"
        ),  # review, PII subject
        make_outcome(
            "T-3", priority="P0", needs_human=True, subject="API down for all users"
        ),  # review + page
    ]
    outputs = day_outputs(outcomes)
    QualityGateOperator(
        task_id="gate", triage_summary={"day": DAY}, output_root=str(outputs.root)
    ).choose_branch({})
    return outputs


def _op(cls, outputs, **kwargs):
    args = {"redis_conn_id": "redis_ledger_test"}
    if cls is not AutoReplyOperator:
        args |= {"jira_conn_id": "jira_test", "slack_conn_id": "slack_test"}
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
    (digest,) = slack.messages
    assert digest["channel"] == "#triage-review"
    assert "2 ticket(s) need a human" in digest["text"] and p0["key"] in digest["text"]
    assert "jane.doe@example.com" not in digest["text"] + str(issues)

    # a retry / re-run / backfill of the same day repeats nothing
    _op(ManualReviewOperator, gated_day).execute(CONTEXT)
    assert len(jira.created_issues) == 2 and len(slack.messages) == 1


def test_lost_ledger_still_does_not_duplicate_jira_issues(gated_day, jira, ledger_redis) -> None:
    _op(ManualReviewOperator, gated_day, slack_conn_id=None).execute(CONTEXT)
    ledger_redis.flushdb()
    _op(ManualReviewOperator, gated_day, slack_conn_id=None).execute(CONTEXT)
    assert len(jira.created_issues) == 2  # found again by the ticket-<id> label


def test_failed_action_fails_the_task_and_the_retry_does_only_what_is_missing(
    gated_day, jira, ledger_redis
) -> None:
    jira.fail_next(1, status=503, path="/rest/api/2/issue")
    with pytest.raises(AirflowException, match="1 manual review actions not done"):
        _op(ManualReviewOperator, gated_day, slack_conn_id=None).execute(CONTEXT)
    assert len(jira.created_issues) == 1
    _op(ManualReviewOperator, gated_day, slack_conn_id=None).execute(CONTEXT)
    assert len(jira.created_issues) == 2


def test_dry_run_performs_nothing(gated_day, slack, jira, ledger_redis) -> None:
    _op(ManualReviewOperator, gated_day, dry_run="True").execute(CONTEXT)
    _op(PageEngineeringOperator, gated_day, dry_run=True).execute(CONTEXT)
    assert jira.created_issues == [] and slack.messages == [] and ledger_redis.dbsize() == 0


def test_page_engineering_posts_to_oncall_and_eng_project(gated_day, slack, jira, ledger_redis) -> None:
    assert _op(PageEngineeringOperator, gated_day).execute(CONTEXT) == {"paged": 1, "actions": 2}
    (page,) = slack.messages
    assert page["channel"] == "#eng-oncall" and "*P0*" in page["text"] and "T-3" in page["text"]
    (issue,) = jira.created_issues
    assert issue["key"].startswith("ENG-") and issue["key"] in page["text"]
    _op(PageEngineeringOperator, gated_day).execute(CONTEXT)
    assert len(slack.messages) == 1 and len(jira.created_issues) == 1


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


def test_auto_reply_writes_the_outbox_once(gated_day, ledger_redis) -> None:
    assert _op(AutoReplyOperator, gated_day).execute(CONTEXT) == {"done": 1}
    (message,) = read_jsonl(gated_day.outbox, OutboxMessage)
    assert message.ticket_id == "T-1" and message.subject == "Re: Export fails" and message.sent_at
    assert _op(AutoReplyOperator, gated_day).execute(CONTEXT) == {"already_done": 1}
    (again,) = read_jsonl(gated_day.outbox, OutboxMessage)
    assert again.sent_at == message.sent_at  # the original send, not a new one
