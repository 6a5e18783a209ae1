"""A day through real Airflow: approved replies reach the reply webhook once (HttpHook, strict loopback
receiver, ledger in the machine's Redis db 12), a re-run delivers nothing again; and a deployment
with no litellm connection fails the triage task at once, saying how to set it."""

from __future__ import annotations

import json

import pytest
import redis
from e2e.conftest import AirflowEnv
from fakes.webhook import FakeReplyWebhook

pytestmark = pytest.mark.e2e

DAY = "2025-10-07"
REDIS_DB = 12
TOKEN = "whk-e2e-token-0123456789"


def _outbox(env: AirflowEnv) -> list[dict]:
    return [json.loads(line) for line in (env.output / DAY / "outbox.jsonl").read_text().splitlines()]


def _clean(store: redis.Redis) -> None:
    for key in store.scan_iter("ticket-triage*"):
        store.delete(key)


def test_replies_reach_the_webhook_once_and_a_rerun_repeats_none(airflow_env: AirflowEnv) -> None:
    store = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    _clean(store)
    try:
        with FakeReplyWebhook(token=TOKEN) as webhook:
            env = {
                "AIRFLOW_CONN_TRIAGE_REPLY_WEBHOOK": webhook.airflow_conn_json(),
                "AIRFLOW_CONN_REDIS_DEFAULT": f"redis://127.0.0.1:6379/{REDIS_DB}",  # the path is the db
                # the offline model answers here: its replies may go out only because this says so
                "AIRFLOW_VAR_TRIAGE_ALLOW_OFFLINE_DELIVERY": "true",
            }
            airflow_env.dags_test(DAY, conf={"max_tickets": 30}, extra_env=env)
            first = _outbox(airflow_env)
            assert first, "the gate approved no reply: the test proves nothing"
            assert {m["status"] for m in first} == {"sent"}
            assert all(m["sent_at"] and m["delivered_via"] == "webhook" for m in first)
            delivered = sorted(d["ticket_id"] for d in webhook.deliveries)
            assert delivered == sorted(m["ticket_id"] for m in first)
            assert {d["idempotency_key"] for d in webhook.deliveries} == {m["idempotency_key"] for m in first}
            assert store.dbsize() > 0  # the ledger really is in db 12, not db 0
            requests_before = len(webhook.requests)

            airflow_env.dags_test(DAY, conf={"max_tickets": 30}, extra_env=env)
            second = _outbox(airflow_env)
            assert {m["status"] for m in second} == {"already_sent"}
            assert [m["sent_at"] for m in second] == [m["sent_at"] for m in first]
            assert len(webhook.requests) == requests_before and len(webhook.deliveries) == len(first)
            assert webhook.errors == [] and webhook.early_retries == []
    finally:
        _clean(store)


def test_no_litellm_connection_fails_the_triage_at_once(airflow_env: AirflowEnv) -> None:
    log = airflow_env.run(
        "dags",
        "test",
        "ticket_triage",
        DAY,
        "-c",
        json.dumps({"max_tickets": 2}),
        # retries on: a configuration error must fail at once anyway (no retry, no backoff)
        extra_env={"AIRFLOW_CONN_LITELLM_DEFAULT": None, "TRIAGE_TASK_RETRIES": "3"},
        check=False,
        timeout=240,
    )
    assert "state=failed" in log, log[-4000:]
    assert "No LiteLLM connection 'litellm_default'" in log
    assert '"offline": true' in log  # says how to choose the offline models
    assert "up_for_retry" not in log.lower()
