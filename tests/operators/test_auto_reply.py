"""Auto-reply: replies reach the customer through the reply webhook (HttpHook against a strict loopback
receiver) or as a Jira request comment, each once under the ledger in the real Redis (db 12); with no
channel the outbox says `queued`; offline answers are held; no Redis means no real delivery."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import redis
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from builders import DAY, make_outcome
from fakes.jira import FakeJira
from fakes.webhook import FakeReplyWebhook

from llm_operators.core.delivery import ReplyMessage
from llm_operators.core.models import TicketOutcome
from llm_operators.core.outputs import DayOutputs, read_jsonl, write_jsonl
from llm_operators.hooks.reply_jira import JiraCommentReplyChannel
from llm_operators.hooks.reply_webhook import WebhookReplyChannel, retry_after_seconds
from llm_operators.operators.auto_reply import AutoReplyOperator, OutboxMessage
from llm_operators.operators.gate import QualityGateOperator

REDIS_DB = 12
CONTEXT = {"run_id": "scheduled__2025-10-01T00:00:00+00:00"}
TOKEN = "whk-test-token-0123456789"


def _hosted(outcome: TicketOutcome) -> TicketOutcome:
    """The builder's outcomes were answered by the offline model; these by a hosted one."""
    outcome.final_model = "openai/gpt-4o-mini"
    return outcome


@pytest.fixture
def dag_id() -> str:
    return f"t_auto_reply_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def ledger_redis(monkeypatch: pytest.MonkeyPatch, dag_id: str):
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    monkeypatch.setenv("AIRFLOW_CONN_REDIS_REPLY_TEST", f"redis://127.0.0.1:6379/{REDIS_DB}")  # URI path = db
    yield client
    for key in client.scan_iter(f"*{dag_id}*"):
        client.delete(key)


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch):
    with FakeReplyWebhook(token=TOKEN) as fake:
        monkeypatch.setenv("AIRFLOW_CONN_REPLY_WEBHOOK_TEST", fake.airflow_conn_json())
        yield fake
        assert fake.errors == []


@pytest.fixture
def approved(tmp_path):
    """Outcomes through the real gate, so the approved file is what the operator reads in a run."""

    def write(outcomes: list[TicketOutcome]) -> DayOutputs:
        outputs = DayOutputs(tmp_path, DAY)
        outputs.ensure_dir()
        write_jsonl(outputs.outcomes, outcomes)
        QualityGateOperator(
            task_id="gate", triage_summary={"day": DAY}, output_root=str(tmp_path)
        ).choose_branch({})
        passed = [o.ticket_id for o in read_jsonl(outputs.approved, TicketOutcome)]
        assert passed == [o.ticket_id for o in outcomes], (
            "the gate must approve these for the test to mean anything"
        )
        return outputs

    return write


def _op(outputs: DayOutputs, dag_id: str, **kwargs: Any) -> AutoReplyOperator:
    args = {
        "redis_conn_id": "redis_reply_test",
        "reply_webhook_conn_id": "reply_webhook_test",
        "jira_conn_id": "jira_missing_for_test",
        "webhook_backoff_s": 0.01,
    }
    return AutoReplyOperator(
        task_id="auto_reply",
        dag=DAG(dag_id=dag_id, schedule=None),
        triage_summary={"day": DAY},
        output_root=str(outputs.root),
        **(args | kwargs),
    )


def _outbox(outputs: DayOutputs) -> dict[str, OutboxMessage]:
    return {m.ticket_id: m for m in read_jsonl(outputs.outbox, OutboxMessage)}


def test_webhook_gets_each_reply_once_as_json_with_an_idempotency_key(
    approved, webhook, ledger_redis, dag_id
) -> None:
    outputs = approved([_hosted(make_outcome("T-1")), _hosted(make_outcome("T-2", subject="Login loop"))])
    assert _op(outputs, dag_id).execute(CONTEXT) == {"sent": 2}
    assert sorted(d["ticket_id"] for d in webhook.deliveries) == ["T-1", "T-2"]
    first = next(d for d in webhook.deliveries if d["ticket_id"] == "T-1")
    assert first["customer"] == "CUST-1" and first["subject"] == "Re: Export fails" and first["body"]
    # the words sent are the template the gate rendered, never the model's own draft
    gated = {o.ticket_id: o for o in read_jsonl(outputs.approved, TicketOutcome)}
    assert gated["T-1"].gate is not None and first["body"] == gated["T-1"].gate.reply
    assert first["body"] != gated["T-1"].result.suggested_reply
    sent = _outbox(outputs)
    assert sent["T-1"].status == "sent" and sent["T-1"].sent_at and sent["T-1"].delivered_via == "webhook"
    assert sent["T-1"].idempotency_key == first["idempotency_key"] != sent["T-2"].idempotency_key

    # a retry / re-run / backfill repeats nothing, and says when it was really sent
    assert _op(outputs, dag_id).execute(CONTEXT) == {"already_sent": 2}
    assert len(webhook.requests_to("/hooks/replies")) == 2
    again = _outbox(outputs)
    assert again["T-1"].status == "already_sent" and again["T-1"].sent_at == sent["T-1"].sent_at


def test_without_a_reply_channel_the_outbox_says_queued_never_sent(approved, dag_id) -> None:
    outputs = approved([_hosted(make_outcome("T-1"))])
    # no Redis either: a local hand-off needs no durable ledger
    op = _op(outputs, dag_id, reply_webhook_conn_id="webhook_missing", redis_conn_id="redis_missing")
    assert op.execute(CONTEXT) == {"queued": 1}
    (line,) = _outbox(outputs).values()
    assert line.status == "queued" and line.sent_at is None and "webhook_missing" in line.note


def test_offline_answers_are_held_unless_allowed(
    approved, webhook, ledger_redis, dag_id, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = approved([make_outcome("T-1")])  # answered by offline/fast
    assert _op(outputs, dag_id).execute(CONTEXT) == {"held": 1}
    assert webhook.deliveries == []
    (line,) = _outbox(outputs).values()
    assert line.sent_at is None and "triage_allow_offline_delivery" in line.note

    monkeypatch.setenv("AIRFLOW_VAR_TRIAGE_ALLOW_OFFLINE_DELIVERY", "true")
    assert _op(outputs, dag_id).execute(CONTEXT) == {"sent": 1}
    assert len(webhook.deliveries) == 1


def test_real_delivery_without_redis_fails_at_once_unless_allowed(
    approved, webhook, dag_id, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = approved([_hosted(make_outcome("T-1"))])
    with pytest.raises(AirflowFailException, match=r"redis_missing.*webhook.*triage_allow_memory_ledger"):
        _op(outputs, dag_id, redis_conn_id="redis_missing").execute(CONTEXT)
    assert webhook.requests == []
    monkeypatch.setenv("AIRFLOW_VAR_TRIAGE_ALLOW_MEMORY_LEDGER", "true")
    assert _op(outputs, dag_id, redis_conn_id="redis_missing").execute(CONTEXT) == {"sent": 1}


def test_5xx_is_retried_and_a_lost_answer_is_not_delivered_twice(approved, webhook, ledger_redis, dag_id):
    outputs = approved([_hosted(make_outcome("T-1"))])
    webhook.fail_next(1, status=503)  # refused before processing
    webhook.fail_next(1, status=502, after_processing=True)  # processed, answer lost
    assert _op(outputs, dag_id).execute(CONTEXT) == {"sent": 1}
    assert [r.status for r in webhook.requests] == [503, 502, 201]
    assert len(webhook.deliveries) == 1 and webhook.replays == [webhook.deliveries[0]["idempotency_key"]]


def test_429_waits_for_retry_after(approved, webhook, ledger_redis, dag_id) -> None:
    outputs = approved([_hosted(make_outcome("T-1"))])
    webhook.fail_next(1, status=429, retry_after=1)
    assert _op(outputs, dag_id).execute(CONTEXT) == {"sent": 1}
    assert webhook.early_retries == []  # the backoff (0.01 s) alone would have come back too early
    assert [r.status for r in webhook.requests] == [429, 201]


def test_4xx_is_never_retried_and_fails_without_task_retries(approved, webhook, ledger_redis, dag_id):
    outputs = approved([_hosted(make_outcome("T-1"))])
    webhook.fail_next(1, status=400)
    with pytest.raises(AirflowFailException, match=r"T-1.*HTTP 400"):
        _op(outputs, dag_id).execute(CONTEXT)
    assert len(webhook.requests) == 1
    (line,) = _outbox(outputs).values()
    assert line.status == "failed" and line.sent_at is None
    # the claim was released: once fixed, a re-run delivers
    assert _op(outputs, dag_id).execute(CONTEXT) == {"sent": 1}


def test_5xx_until_the_attempts_run_out_leaves_it_to_a_task_retry(approved, webhook, ledger_redis, dag_id):
    outputs = approved([_hosted(make_outcome("T-1"))])
    webhook.fail_next(4, status=500)
    with pytest.raises(AirflowException) as raised:
        _op(outputs, dag_id).execute(CONTEXT)
    assert not isinstance(raised.value, AirflowFailException)
    assert "a retry sends only those" in str(raised.value)
    assert len(webhook.requests) == 4 and webhook.deliveries == []
    assert _op(outputs, dag_id).execute(CONTEXT) == {"sent": 1}


def test_jira_sourced_tickets_get_a_customer_comment_once(
    approved, webhook, ledger_redis, dag_id, monkeypatch: pytest.MonkeyPatch
) -> None:
    comments: list[tuple[str, str]] = []

    class Commenter:
        def add_customer_comment(self, issue_key: str, body: str) -> dict[str, Any]:
            comments.append((issue_key, body))
            return {"id": "10001", "public": True}

    monkeypatch.setattr(JiraCommentReplyChannel, "hook", property(lambda self: Commenter()))
    monkeypatch.setenv("AIRFLOW_CONN_JIRA_REPLY_TEST", '{"conn_type": "jira", "host": "http://127.0.0.1:9"}')
    jira_ticket = _hosted(make_outcome("HELP-7"))
    jira_ticket.ticket = jira_ticket.ticket.model_copy(update={"channel": "jira"})
    outputs = approved([jira_ticket, _hosted(make_outcome("T-2"))])
    op = _op(outputs, dag_id, jira_conn_id="jira_reply_test")
    assert op.execute(CONTEXT) == {"sent": 2}
    assert comments == [("HELP-7", _outbox(outputs)["HELP-7"].body)] and comments[0][1]
    assert [d["ticket_id"] for d in webhook.deliveries] == ["T-2"]  # the other one by webhook
    assert _outbox(outputs)["HELP-7"].delivered_via == "jira"
    _op(outputs, dag_id, jira_conn_id="jira_reply_test").execute(CONTEXT)
    assert len(comments) == 1


# ------------------------------------------------------------------------- the strict receiver itself


def _message(key: str = "triage-k1") -> ReplyMessage:
    return ReplyMessage(
        ticket_id="T-1", customer="C-1", channel="email", subject="Re: x", body="Hello", idempotency_key=key
    )


def test_receiver_rejects_what_a_careful_receiver_rejects(webhook) -> None:
    import requests

    url = webhook.url + webhook.path
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = {"ticket_id": "T-1", "customer": "C", "subject": "s", "body": "b"}
    assert requests.post(url, json=body, headers=auth).status_code == 400  # no Idempotency-Key
    unquoted = {**auth, "Idempotency-Key": "k1"}
    assert requests.post(url, json=body, headers=unquoted).status_code == 400  # not an sf-string
    keyed = {**auth, "Idempotency-Key": '"k1"'}
    assert requests.post(url, data="ticket=T-1", headers=keyed).status_code == 415
    not_json = {**keyed, "Content-Type": "application/json"}
    assert requests.post(url, data="{", headers=not_json).status_code == 400
    assert requests.post(url, json={**body, "body": ""}, headers=keyed).status_code == 422
    assert requests.post(url, json=body, headers={"Idempotency-Key": '"k1"'}).status_code == 401
    assert requests.post(url, json=body, headers=keyed).status_code == 201
    assert requests.post(url, json=body, headers=keyed).status_code == 201  # replayed, not re-delivered
    assert requests.post(url, json={**body, "body": "other"}, headers=keyed).status_code == 422
    assert len(webhook.deliveries) == 1 and webhook.replays == ["k1"]


def test_channel_sends_the_key_as_a_structured_string(webhook, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_REPLY_WEBHOOK_TEST", webhook.airflow_conn_json())
    receipt = WebhookReplyChannel("reply_webhook_test").deliver(_message())
    assert receipt["status_code"] == 201 and receipt["sent_at"]
    (request,) = webhook.requests
    assert request.header("idempotency-key") == '"triage-k1"'
    assert json.loads(request.body) == {
        "ticket_id": "T-1",
        "customer": "C-1",
        "channel": "email",
        "subject": "Re: x",
        "body": "Hello",
    }


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from datetime import UTC, datetime

    now = datetime(2025, 10, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("3", now) == 3.0
    assert retry_after_seconds("Wed, 01 Oct 2025 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None) is None


@pytest.mark.parametrize("deployment", ["cloud", "server"])
def test_a_jira_request_gets_one_public_comment_through_the_real_client(
    approved, ledger_redis, dag_id, monkeypatch: pytest.MonkeyPatch, deployment: str
) -> None:
    """Against the strict fake Jira (servicedeskapi comment endpoint) with the product's Jira hook."""
    with FakeJira(username="bot@example.com", api_token="jira-token", deployment=deployment) as jira:
        issue = jira.seed_issue("HELP", "Password reset link expired", "The link in the mail has expired.")
        monkeypatch.setenv("AIRFLOW_CONN_JIRA_REPLY_FAKE", jira.airflow_conn_json())
        ticket = _hosted(make_outcome(issue["key"]))
        ticket.ticket = ticket.ticket.model_copy(update={"channel": "jira"})
        outputs = approved([ticket])
        op = _op(outputs, dag_id, jira_conn_id="jira_reply_fake", reply_webhook_conn_id="webhook_absent")
        assert op.execute(CONTEXT) == {"sent": 1}
        (comment,) = jira.request_comments(issue["key"])
        assert comment["public"] is True and comment["body"] == _outbox(outputs)[issue["key"]].body
        # a retry, re-run or backfill comments nothing twice
        assert _op(outputs, dag_id, jira_conn_id="jira_reply_fake").execute(CONTEXT) == {"already_sent": 1}
        assert len(jira.request_comments(issue["key"])) == 1
        assert not jira.errors
