"""The side-effect ledger, in memory and against the real Redis on 127.0.0.1:6379 (db 13)."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from llm_operators.core.ledger import Claim, MemoryLedger, RedisLedger

REDIS_DB = 13


@pytest.fixture
def redis_client():
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_timeout=2)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(params=["memory", "redis"])
def ledger(request):
    if request.param == "memory":
        return MemoryLedger()
    return RedisLedger(request.getfixturevalue("redis_client"), scope="ticket_triage", pending_ttl_s=30)


def test_first_claim_is_claimed(ledger):
    claim = ledger.claim("slack_digest", "T-1")
    assert claim == Claim("claimed")
    assert claim.acquired


def test_second_claim_is_in_progress(ledger):
    ledger.claim("slack_digest", "T-1")
    claim = ledger.claim("slack_digest", "T-1")
    assert claim.state == "in_progress"
    assert not claim.acquired


def test_complete_then_claim_is_done_with_the_result(ledger):
    ledger.claim("jira_issue", "T-1")
    ledger.complete("jira_issue", "T-1", {"key": "TRIAGE-7", "n": 1})
    claim = ledger.claim("jira_issue", "T-1")
    assert claim == Claim("done", {"key": "TRIAGE-7", "n": 1})
    assert not claim.acquired


def test_keys_are_per_action_and_ticket(ledger):
    ledger.claim("jira_issue", "T-1")
    ledger.complete("jira_issue", "T-1", {"key": "TRIAGE-7"})
    assert ledger.claim("jira_issue", "T-2").state == "claimed"
    assert ledger.claim("slack_page", "T-1").state == "claimed"


def test_release_after_failure_makes_it_claimable_again(ledger):
    ledger.claim("reply", "T-1")
    ledger.release("reply", "T-1")
    assert ledger.claim("reply", "T-1").state == "claimed"


def test_release_never_deletes_a_done_key(ledger):
    ledger.claim("reply", "T-1")
    ledger.complete("reply", "T-1", {"sent": True})
    ledger.release("reply", "T-1")
    assert ledger.claim("reply", "T-1") == Claim("done", {"sent": True})


def test_release_of_an_unknown_key_is_harmless(ledger):
    ledger.release("reply", "T-404")
    assert ledger.claim("reply", "T-404").state == "claimed"


def test_redis_keys_are_namespaced_and_expire(redis_client):
    ledger = RedisLedger(redis_client, scope="dag_a", pending_ttl_s=60, done_ttl_s=3600)
    ledger.claim("reply", "T-1")
    key = "ticket-triage:ledger:dag_a:reply:T-1"
    assert redis_client.get(key).startswith(b"pending:")  # a token: only its owner may release it
    assert 0 < redis_client.ttl(key) <= 60
    ledger.complete("reply", "T-1", {"id": 5})
    assert redis_client.get(key) == b'done:{"id": 5}'
    assert 60 < redis_client.ttl(key) <= 3600
    other = RedisLedger(redis_client, scope="dag_b")
    assert other.claim("reply", "T-1").state == "claimed"  # another DAG, another ledger


def test_redis_pending_claim_expires(redis_client):
    ledger = RedisLedger(redis_client, scope="ticket_triage", pending_ttl_s=1)
    assert ledger.claim("reply", "T-1").state == "claimed"  # then the worker dies
    assert ledger.claim("reply", "T-1").state == "in_progress"
    time.sleep(1.2)
    assert ledger.claim("reply", "T-1").state == "claimed"


def test_racing_threads_exactly_one_wins(ledger):
    barrier = threading.Barrier(20)
    states: list[str] = []
    lock = threading.Lock()

    def racer() -> None:
        barrier.wait()
        state = ledger.claim("jira_issue", "T-race").state
        with lock:
            states.append(state)

    threads = [threading.Thread(target=racer) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(states) == 20
    assert states.count("claimed") == 1
    assert states.count("in_progress") == 19


def test_release_never_deletes_a_claim_taken_over_by_another_worker(redis_client):
    """Worker A's claim expires, B claims; A's late failure must not free B's claim."""
    a = RedisLedger(redis_client, scope="ticket_triage", pending_ttl_s=1)
    b = RedisLedger(redis_client, scope="ticket_triage", pending_ttl_s=60)
    assert a.claim("reply", "T-9").acquired
    time.sleep(1.2)
    assert b.claim("reply", "T-9").acquired
    a.release("reply", "T-9")
    assert b.claim("reply", "T-9").state == "in_progress"
    b.release("reply", "T-9")
    assert a.claim("reply", "T-9").acquired


def test_idempotency_key_is_stable_per_action_and_hides_the_ticket():
    from llm_operators.core.ledger import idempotency_key, ledger_key

    key = idempotency_key("ticket_triage", "auto_reply", "T-1")
    assert key == idempotency_key("ticket_triage", "auto_reply", "T-1")  # same on every retry / re-run
    assert key != idempotency_key("ticket_triage", "auto_reply", "T-2")
    assert key != idempotency_key("other_dag", "auto_reply", "T-1")
    assert "T-1" not in key and len(key) <= 255
    assert ledger_key("d", "a", "T-1") == "ticket-triage:ledger:d:a:T-1"


def test_redis_ledger_uses_the_shared_key_name(redis_client):
    from llm_operators.core.ledger import ledger_key

    RedisLedger(redis_client, scope="dag").claim("auto_reply", "T-9")
    assert redis_client.exists(ledger_key("dag", "auto_reply", "T-9"))
