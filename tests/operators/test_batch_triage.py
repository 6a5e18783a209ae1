"""BatchTriageOperator end to end over real HTTP: LiteLLM's files/batches client against the chaos Batch
API, the trigger's own polling, the same answers as live mode. Deferral is driven by hand: `execute`
raises TaskDeferred with the trigger, the trigger runs until its event, `resume` gets the event."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import TaskDeferred
from batch_models import answer_with_repairs, model_list
from fakes.batch_provider import FakeBatchProvider

from chaos_provider.batch_api import BatchBehaviour
from llm_operators.core.fingerprint import ticket_fingerprint
from llm_operators.core.models import Ticket
from llm_operators.operators.batch_triage import BatchTriageOperator
from llm_operators.operators.triage import TriageOperator
from llm_operators.triggers.batch import BatchPollTrigger

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "include" / "sample_data" / "tickets"
DAY = "2025-10-02"
CONN = "litellm_batchtest"
LIVE_CONN = "litellm_batchtest_live"


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch):
    with FakeBatchProvider(answer_with_repairs) as fake:
        extra = {
            "model_list": model_list(fake.openai_base),
            "ladder": ["cheap", "strong"],
            "router_settings": {"num_retries": 0},
        }
        for conn_id in (CONN, LIVE_CONN):
            # a namespace per connection and test: the in-process answer cache must not serve the live
            # run's answers to the batch run (test_a_rerun_is_answered_from_the_cache does that on purpose)
            extra["cache_namespace"] = f"batchtest-{uuid.uuid4().hex[:8]}"
            conn = {"conn_type": "litellm", "password": "sk-test", "extra": extra}
            monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        yield fake


def batch_op(tmp_path: Path, op_args: dict[str, Any] | None = None, **settings: Any) -> BatchTriageOperator:
    return BatchTriageOperator(
        task_id="triage_batch",
        source_root=str(SAMPLES),
        output_root=str(tmp_path / "batch"),
        run_date=DAY,
        litellm_conn_id=CONN,
        redis_conn_id=None,
        batch_settings={"min_round_size": 1, "poll_interval_s": 0.05, **settings},
        **(op_args or {}),
    )


def first_trigger(op: BatchTriageOperator) -> BatchPollTrigger:
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"logical_date": None, "dag_run": None})
    assert deferred.value.method_name == "resume"
    return deferred.value.trigger


def wait(trigger: BatchPollTrigger) -> dict[str, Any]:
    # a trigger is rebuilt from its serialized kwargs in the triggerer: do the same
    path, kwargs = trigger.serialize()
    assert path == "llm_operators.triggers.batch.BatchPollTrigger"
    rebuilt = BatchPollTrigger(**json.loads(json.dumps(kwargs)))

    async def first_event() -> dict[str, Any]:
        async for event in rebuilt.run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(first_event())


def drive(trigger: BatchPollTrigger, make_op) -> tuple[dict[str, Any], int]:
    """Resume (in a fresh operator each time, like a new worker process) until the task finishes."""
    rounds = 1
    while True:
        event = wait(trigger)
        try:
            return make_op().resume({"logical_date": None, "dag_run": None}, event), rounds
        except TaskDeferred as deferred:
            trigger = deferred.trigger
            rounds += 1


def live_outcomes(tmp_path: Path) -> dict[str, dict[str, Any]]:
    op = TriageOperator(
        task_id="triage",
        source_root=str(SAMPLES),
        output_root=str(tmp_path / "live"),
        run_date=DAY,
        litellm_conn_id=LIVE_CONN,
        redis_conn_id=None,
        langfuse_conn_id=None,
    )
    op.execute({"logical_date": None, "dag_run": None, "outlet_events": {}})
    return read_outcomes(tmp_path / "live")


def read_outcomes(root: Path) -> dict[str, dict[str, Any]]:
    lines = (root / DAY / "outcomes.jsonl").read_text().splitlines()
    return {o["ticket_id"]: o for o in map(json.loads, lines)}


def route(o: dict[str, Any]) -> tuple[Any, ...]:
    calls = [(c["rung"], c["repair"], c["status"], c["model_group"]) for c in o["calls"]]
    return o["status"], o["final_rung"], o["escalated"], o["result"], calls


def test_a_batch_day_takes_the_same_routes_as_live_and_costs_the_batch_price(tmp_path, provider) -> None:
    expected = live_outcomes(tmp_path)
    live_requests = len(provider.live_requests())
    assert live_requests > 0
    provider.clear()

    payload, rounds = drive(first_trigger(batch_op(tmp_path)), lambda: batch_op(tmp_path))
    got = read_outcomes(tmp_path / "batch")
    assert {t: route(o) for t, o in got.items()} == {t: route(o) for t, o in expected.items()}
    assert any(route(o)[1] == 1 for o in got.values()) and any(
        c["repair"] for o in got.values() for c in o["calls"]
    )
    # nothing live: every request went through a provider batch, one batch per group per round
    assert provider.live_requests() == []
    assert len(provider.batch.created) == len(payload["provider_batches"]) >= rounds >= 2
    assert sum(b["requests"] for b in payload["provider_batches"]) == live_requests
    # the same tokens at half the deployment's price (discount 0.5: LiteLLM has no batch price for it)
    live_cost = sum(c["cost_usd"] for o in expected.values() for c in o["calls"])
    batch_cost = sum(c["cost_usd"] for o in got.values() for c in o["calls"])
    assert batch_cost == pytest.approx(live_cost * 0.5) and batch_cost > 0
    assert (
        payload["tickets"] == len(expected) and not (tmp_path / "batch" / DAY / "batch_state.json").exists()
    )
    assert not provider.errors


def test_a_retry_after_the_worker_died_while_deferred_reattaches_and_pays_once(tmp_path, provider) -> None:
    provider.batch.configure(BatchBehaviour(completion_delay_s=0.5))
    trigger = first_trigger(batch_op(tmp_path))
    submitted = list(provider.batch.created)
    assert len(submitted) == 1 and [r["batch_id"] for r in trigger.refs] == submitted
    state = json.loads((tmp_path / "batch" / DAY / "batch_state.json").read_text())
    assert state["in_flight"][0]["ref"]["input_file_id"]  # both ids on disk before the task deferred

    # the worker is killed while deferred; Airflow retries the task: a new process runs execute()
    retried = first_trigger(batch_op(tmp_path))
    assert provider.batch.created == submitted and retried.refs == trigger.refs  # re-attached, nothing new
    assert len(provider.requests_to("/v1/files", "POST")) == 1

    # and a retry of the retry, after the batch finished, re-attaches again rather than re-submitting
    wait(retried)
    payload, _ = drive(first_trigger(batch_op(tmp_path)), lambda: batch_op(tmp_path))
    batches = payload["provider_batches"]
    assert [b["batch_id"] for b in batches] == provider.batch.created and batches[0]["batch_id"] == submitted[
        0
    ]
    # one provider batch per model group and round, rounds 1..n without a gap
    per_round = Counter((b["round"], b["group"]) for b in batches)
    assert set(per_round.values()) == {1} and {r for r, _ in per_round} == set(
        range(1, payload["rounds"] + 1)
    )
    assert len(read_outcomes(tmp_path / "batch")) == payload["tickets"] > 0


def test_an_expired_batch_falls_back_to_live_calls_with_nothing_lost(tmp_path, provider) -> None:
    expected = live_outcomes(tmp_path)
    provider.clear()
    provider.batch.configure(BatchBehaviour(completion_delay_s=60, expire_after_s=0.2, expire_done_share=0.5))

    payload, _ = drive(first_trigger(batch_op(tmp_path)), lambda: batch_op(tmp_path))
    got = read_outcomes(tmp_path / "batch")
    assert set(got) == set(expected)  # every ticket has its one outcome
    assert {t: route(o) for t, o in got.items()} == {t: route(o) for t, o in expected.items()}
    statuses = {b["status"] for b in payload["provider_batches"]}
    assert statuses == {"expired"}
    assert payload["live_tickets"] > 0 and provider.live_requests()  # the expired half went live
    live_keys = {json.dumps([r.json()["model"], r.json()["messages"]]) for r in provider.live_requests()}
    assert len(live_keys) == len(provider.live_requests())  # no request asked live twice


def test_small_rounds_go_live(tmp_path, provider) -> None:
    payload, _ = drive(
        first_trigger(batch_op(tmp_path, min_round_size=5)), lambda: batch_op(tmp_path, min_round_size=5)
    )
    assert payload["provider_batches"][0]["requests"] == payload["tickets"] >= 5  # round 1: every ticket
    assert all(b["requests"] >= 5 for b in payload["provider_batches"])
    assert payload["live_tickets"] > 0 and provider.live_requests()


def test_a_rerun_is_answered_from_the_cache_and_sends_nothing(tmp_path, provider) -> None:
    drive(first_trigger(batch_op(tmp_path)), lambda: batch_op(tmp_path))
    provider.clear()
    created = len(provider.batch.created)
    rerun = batch_op(tmp_path)
    payload = rerun.execute({"logical_date": None, "dag_run": None})  # no deferral: nothing to wait for
    assert len(provider.batch.created) == created and provider.requests == []
    calls = [c for o in read_outcomes(tmp_path / "batch").values() for c in o["calls"]]
    assert calls and all(c["cache_hit"] for c in calls) and payload["cost_usd"] == 0


def test_past_the_deadline_the_running_batch_is_cancelled_and_the_rest_goes_live(tmp_path, provider) -> None:
    provider.batch.configure(BatchBehaviour(completion_delay_s=3600))
    trigger = first_trigger(batch_op(tmp_path, deadline_s=0.3))
    event = wait(trigger)
    assert event["status"] == "deadline" and list(event["batches"].values()) == ["in_progress"]
    payload = batch_op(tmp_path, deadline_s=0.3).resume({"logical_date": None, "dag_run": None}, event)
    assert provider.requests_to("/cancel", "POST") and payload["provider_batches"][0]["status"] == "cancelled"
    assert payload["live_tickets"] == payload["tickets"] == len(read_outcomes(tmp_path / "batch")) > 0


def _set_mode(monkeypatch: pytest.MonkeyPatch, conn_id: str, mode: str, namespace: str) -> None:
    conn = json.loads(os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"])
    conn["extra"] |= {"mode": mode, "cache_namespace": namespace}
    if mode == "batch":
        conn["extra"]["batch"] = {"deadline_s": 600, "min_round_size": 1}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def test_live_and_batch_runs_share_the_fingerprint_and_the_answers(tmp_path, provider, monkeypatch) -> None:
    """The same connection but for `mode`: a batch run after a live one is answered by the live
    run's answers (nothing sent), under the same fingerprint, so its outcomes are the live ones."""
    namespace = f"shared-{uuid.uuid4().hex[:8]}"
    _set_mode(monkeypatch, LIVE_CONN, "live", namespace)
    _set_mode(monkeypatch, CONN, "batch", namespace)
    expected = live_outcomes(tmp_path)
    provider.clear()

    payload = batch_op(tmp_path).execute({"logical_date": None, "dag_run": None})  # nothing to wait for
    assert provider.requests == [] and provider.batch.created == [] and payload["cost_usd"] == 0
    got = read_outcomes(tmp_path / "batch")
    assert {t: route(o) for t, o in got.items()} == {t: route(o) for t, o in expected.items()}

    batch_fingerprint = batch_op(tmp_path)._open({"logical_date": None, "dag_run": None}).fingerprint
    checkpoint = (tmp_path / "live" / DAY / "checkpoint.jsonl").read_text().splitlines()
    tickets = {o["ticket_id"]: Ticket.model_validate(o["ticket"]) for o in expected.values()}
    live_fingerprints = {line.split("\t", 1)[0] for line in checkpoint if not line.startswith("#")}
    assert live_fingerprints == {ticket_fingerprint(batch_fingerprint, t) for t in tickets.values()}


def test_free_text_mode_judges_through_the_batches_too(tmp_path, provider) -> None:
    args = {"reply_mode": "free_text", "langfuse_conn_id": None}
    payload, _ = drive(first_trigger(batch_op(tmp_path, args)), lambda: batch_op(tmp_path, args))
    got = read_outcomes(tmp_path / "batch")
    triaged = [o for o in got.values() if o["status"] == "triaged" and o["result"]["suggested_reply"].strip()]
    judged = [c for o in triaged for c in o["calls"] if c["purpose"] == "judge"]
    assert triaged and len(judged) == len(triaged) and all(o["judge"] is not None for o in triaged)
    assert provider.live_requests() == [] and payload["tickets"] == len(got)


def test_the_rounds_keep_the_prompt_their_first_batch_was_asked_with(tmp_path, provider, monkeypatch) -> None:
    from fakes import FakeLangfuseOTLP

    from llm_operators.core.prompts import SYSTEM_PROMPT
    from llm_operators.llm.prompt_source import DEFAULT_PROMPT_NAME

    with FakeLangfuseOTLP(public_key=f"pk-lf-{uuid.uuid4().hex[:8]}", secret_key="sk-lf-batch") as langfuse:
        conn = {
            "conn_type": "langfuse",
            "host": langfuse.url,
            "login": langfuse.public_key,
            "password": langfuse.secret_key,
            "extra": {"prompt_cache_ttl_s": 0},
        }
        monkeypatch.setenv("AIRFLOW_CONN_LANGFUSE_BATCHTEST", json.dumps(conn))
        args = {"langfuse_conn_id": "langfuse_batchtest"}
        langfuse.set_prompt(DEFAULT_PROMPT_NAME, SYSTEM_PROMPT)
        trigger = first_trigger(batch_op(tmp_path, args))
        # a new version takes the label while round 1 is in flight: the run goes on with version 1
        langfuse.set_prompt(DEFAULT_PROMPT_NAME, SYSTEM_PROMPT + "\nBe brief.")
        payload, rounds = drive(trigger, lambda: batch_op(tmp_path, args))
        first = read_outcomes(tmp_path / "batch")
        assert {o["prompt_version"] for o in first.values()} == {"1"} and rounds >= 2
        assert [b["batch_id"] for b in payload["provider_batches"]] == provider.batch.created  # none lost

        # the next run asks under version 2
        drive(first_trigger(batch_op(tmp_path, args)), lambda: batch_op(tmp_path, args))
        assert {o["prompt_version"] for o in read_outcomes(tmp_path / "batch").values()} == {"2"}
        assert not langfuse.errors


class Killed(BaseException):
    """The worker dies: no `except Exception` of the product runs, nothing after it is saved."""


def kill_after_create(monkeypatch: pytest.MonkeyPatch, provider: FakeBatchProvider, nth: int) -> list[str]:
    """The first state write after the provider created its `nth` batch kills the worker instead."""
    from llm_operators.operators import batch_triage

    real, died = batch_triage.save_state, []

    def dying(path: Path, state: Any) -> None:
        if len(provider.batch.created) >= nth and not died:
            died.append(provider.batch.created[nth - 1])
            raise Killed
        real(path, state)

    monkeypatch.setattr(batch_triage, "save_state", dying)
    return died


def creates(provider: FakeBatchProvider) -> list[dict[str, Any]]:
    return [
        r.json() for r in provider.requests_to("/v1/batches", "POST") if r.path.rstrip("/") == "/v1/batches"
    ]


@pytest.mark.parametrize(
    "nth",
    [1, 3],
    ids=["round 1, its only batch", "round 2, the second of its two batches (the first already saved)"],
)
def test_a_worker_killed_between_batch_created_and_state_written_pays_the_batch_once(
    tmp_path, provider, monkeypatch, capfd, caplog, nth
) -> None:
    expected = live_outcomes(tmp_path)
    provider.clear()
    died = kill_after_create(monkeypatch, provider, nth)
    with pytest.raises(Killed):
        drive(first_trigger(batch_op(tmp_path)), lambda: batch_op(tmp_path))
    assert died and len(provider.batch.created) == nth  # the provider made it; the state does not say so
    capfd.readouterr()
    caplog.clear()

    # Airflow retries the task: a new process runs execute()
    payload, _ = drive(first_trigger(batch_op(tmp_path)), lambda: batch_op(tmp_path))
    batches = payload["provider_batches"]
    # every batch the provider made is one the run used: none created twice, none orphaned
    assert [b["batch_id"] for b in batches] == provider.batch.created
    assert len(provider.requests_to("/v1/files", "POST")) == len(provider.batch.created)
    per_round = Counter((c["metadata"]["round"], c["metadata"]["group"]) for c in creates(provider))
    assert set(per_round.values()) == {1}
    adopted = [b for b in batches if b["adopted"]]
    assert [b["batch_id"] for b in adopted] == died
    if nth == 3:  # the case where the rest of the round was already on disk
        assert Counter(b["round"] for b in batches)[adopted[0]["round"]] == 2
    said = caplog.text + "".join(capfd.readouterr())
    assert f"adopted batch {died[0]} created by an earlier try" in said
    # and the day's outcomes are those of an uninterrupted run
    got = read_outcomes(tmp_path / "batch")
    assert {t: route(o) for t, o in got.items()} == {t: route(o) for t, o in expected.items()}
    assert provider.live_requests() == [] and not provider.errors


def test_a_worker_killed_before_the_create_leaves_a_plan_the_retry_creates_once(
    tmp_path, provider, monkeypatch, capfd, caplog
) -> None:
    from llm_operators.llm.batch_client import BatchClient

    real = BatchClient.submit

    async def dies_first(self: BatchClient, *args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(BatchClient, "submit", real)
        raise Killed

    monkeypatch.setattr(BatchClient, "submit", dies_first)
    with pytest.raises(Killed):
        first_trigger(batch_op(tmp_path))
    assert provider.batch.created == [] and provider.requests_to("/v1/files", "POST") == []
    capfd.readouterr()
    caplog.clear()

    payload, _ = drive(first_trigger(batch_op(tmp_path)), lambda: batch_op(tmp_path))
    said = caplog.text + "".join(capfd.readouterr())
    assert "round 1: no batch for cheap created by an earlier try (0 batch(es) read at openai" in said
    assert [b["batch_id"] for b in payload["provider_batches"]] == provider.batch.created
    assert set(
        Counter((c["metadata"]["round"], c["metadata"]["group"]) for c in creates(provider)).values()
    ) == {1}
    assert not any(b["adopted"] for b in payload["provider_batches"])
    # only the inherited plan was looked up: rounds planned by the running task are not
    assert len(provider.requests_to("/v1/batches", "GET")) == 1


def test_a_failed_lookup_creates_the_batch_again_and_says_so(
    tmp_path, provider, monkeypatch, capfd, caplog
) -> None:
    from fakes.base import Response

    kill_after_create(monkeypatch, provider, 1)
    with pytest.raises(Killed):
        first_trigger(batch_op(tmp_path))
    capfd.readouterr()
    caplog.clear()
    # the retry's first batch request is the lookup: the provider answers it 500
    provider.inject_failure(
        Response(500, b'{"error": {"message": "boom", "type": "server_error"}}'), path="/v1/batches"
    )

    payload, _ = drive(first_trigger(batch_op(tmp_path)), lambda: batch_op(tmp_path))
    listing = provider.requests_to("/v1/batches", "GET")
    assert listing and listing[0].injected
    said = caplog.text + "".join(capfd.readouterr())
    assert "listing batches at openai" in said and "failed" in said
    assert "creating it: if an earlier try created it where it could not be checked" in said
    # created again: round 1 is paid twice (the log said so); the task itself did not fail
    rounds = Counter(c["metadata"]["round"] for c in creates(provider))
    assert rounds["1"] == 2 and not any(b["adopted"] for b in payload["provider_batches"])
    assert len(read_outcomes(tmp_path / "batch")) == payload["tickets"] > 0
