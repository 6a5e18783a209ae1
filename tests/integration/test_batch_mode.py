"""A batch-mode day under a real scheduler with the triggerer running (PostgreSQL, LocalExecutor,
api-server, dag-processor, triggerer), against a loopback provider serving the OpenAI Files and
Batches API. The triage task submits a round, defers to `BatchPollTrigger`, the triggerer polls the
provider, a worker resumes the task and submits the next round, until every ticket is done."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import pytest
from batch_models import PRICES, answer_with_repairs, model_list
from fakes.batch_provider import FakeBatchProvider
from integration.real_airflow import REPO, RealAirflow

from chaos_provider.batch_api import BatchBehaviour

pytestmark = pytest.mark.integration

DAY = "2025-10-01"
# every batch stays in_progress this long: the task is deferred for a while in each round. Long enough
# for a loaded scheduler to read the deferring process's exit first (triggers/batch.py says why).
COMPLETION_DELAY_S = 10.0


def _litellm_conn(base: str) -> str:
    extra = {
        "model_list": model_list(base),
        "ladder": ["cheap", "strong"],
        "router_settings": {"num_retries": 0},
        "mode": "batch",
        "batch": {"poll_interval_s": 1, "min_round_size": 1, "deadline_s": 900},
    }
    return json.dumps({"conn_type": "litellm", "password": "sk-it-batch", "extra": extra})


class Stack:
    def __init__(self, airflow: RealAirflow, provider: FakeBatchProvider) -> None:
        self.airflow, self.provider = airflow, provider


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("batch-mode")
    behaviour = BatchBehaviour(completion_delay_s=COMPLETION_DELAY_S)
    with FakeBatchProvider(answer_with_repairs, behaviour) as provider:
        env = {
            "TRIAGE_LLM_MODE": "batch",
            "AIRFLOW_CONN_LITELLM_DEFAULT": _litellm_conn(provider.openai_base),
            "TRIAGE_SOURCE_ROOT": str(REPO / "include" / "sample_data" / "tickets"),
            # an empty schedule range: unpausing creates no scheduled run, only the trigger below runs
            "TRIAGE_START_DATE": "2025-11-29",
            "TRIAGE_END_DATE": "2025-11-28",
        }
        with RealAirflow(workdir, env) as af:
            af.start(triggerer=True)
            af.wait_for(lambda: af.get("/dags/ticket_triage"), 120, "the DAG to be parsed")
            af.request("PATCH", "/dags/ticket_triage", {"is_paused": False})
            yield Stack(af, provider)


def test_a_batch_mode_day_defers_to_the_triggerer_and_pays_the_batch_price(stack: Stack) -> None:
    af, provider = stack.airflow, stack.provider
    run = af.request("POST", "/dags/ticket_triage/dagRuns", {"logical_date": None, "conf": {"date": DAY}})
    run_id = run["dag_run_id"]

    # watch the triage task while the run goes: it must be seen deferred (waiting in the triggerer)
    triage_states: set[str] = set()

    def finished() -> dict | None:
        for ti in af.task_instances(run_id):
            if ti["task_id"] == "triage" and ti["state"]:
                triage_states.add(ti["state"])
        r = af.get(f"/dags/ticket_triage/dagRuns/{run_id}")
        return r if r and r["state"] in ("success", "failed") else None

    done = af.wait_for(finished, 240, f"the batch-mode run {run_id}", every=0.5)
    assert done["state"] == "success", af.logs()
    assert "deferred" in triage_states, triage_states

    tis = [t for t in af.task_instances(run_id) if t["task_id"] == "triage"]
    assert len(tis) == 1  # the sample day fits one mapped batch
    ti = tis[0]
    # deferral is not a retry: the task resumed in its first try, each round, on a worker
    assert ti["state"] == "success" and ti["try_number"] == 1
    payload = af.xcom(run_id, "triage", map_index=ti["map_index"])
    assert payload["mode"] == "batch" and payload["rounds"] >= 2

    # the provider's view: batches created and polled, one per model group and round, nothing live
    created = list(provider.batch.created)
    assert [b["batch_id"] for b in payload["provider_batches"]] == created
    creates = [
        r.json() for r in provider.requests_to("/v1/batches", "POST") if r.path.rstrip("/") == "/v1/batches"
    ]
    per_round = Counter(
        (c["metadata"]["round"], model)
        for c, b in zip(creates, created, strict=True)
        for model in provider.batch.batch_models(b)
    )
    assert set(per_round.values()) == {1}, per_round  # no round submitted twice
    assert {int(r) for r, _ in per_round} == set(range(1, payload["rounds"] + 1))
    assert all(c["metadata"]["dag_run"] == run_id and c["metadata"]["day"] == DAY for c in creates)
    for batch_id in created:
        polls = [
            r
            for r in provider.requests
            if r.method == "GET" and r.path.rstrip("/") == f"/v1/batches/{batch_id}"
        ]
        assert len(polls) >= 2, batch_id  # polled while in progress (the triggerer), then on resume
    assert len(provider.requests_to("/v1/files", "POST")) == len(created)
    assert provider.live_requests() == [] and payload["live_tickets"] == 0
    assert not provider.errors

    # the triggerer ran the trigger: its log (next to the task's, the last deferral's) shows it firing
    # on the last round's batch; the task's log shows each deferral and each resume
    trigger_logs = list(
        af.workdir.glob(f"home/logs/dag_id=ticket_triage/run_id={run_id}/task_id=triage/**/*.trigger.*.log")
    )
    assert trigger_logs, af.logs()
    trigger_log = "\n".join(p.read_text() for p in trigger_logs)
    assert "Trigger fired event" in trigger_log and "'status': 'done'" in trigger_log, trigger_log
    assert created[-1] in trigger_log
    task_log = af.task_log(run_id, "triage", map_index=ti["map_index"])
    assert task_log.count("Pausing task as DEFERRED") == payload["rounds"], task_log[-3000:]
    assert task_log.count("trigger says done") == payload["rounds"], task_log[-3000:]
    assert f"batch {created[0]}" in task_log

    # outputs: every ticket of the day exactly once, costs at half the deployments' price
    source = (REPO / "include" / "sample_data" / "tickets" / f"{DAY}.jsonl").read_text().splitlines()
    ticket_ids = [json.loads(line)["id"] for line in source if line.strip()]
    day_dir = af.workdir / "output" / DAY
    outcomes = [json.loads(line) for line in (day_dir / "outcomes.jsonl").read_text().splitlines()]
    assert sorted(o["ticket_id"] for o in outcomes) == sorted(ticket_ids)
    assert len({o["ticket_id"] for o in outcomes}) == len(outcomes)
    calls = [c for o in outcomes for c in o["calls"]]
    assert calls and not any(c["cache_hit"] for c in calls)
    assert any(c["repair"] for c in calls)  # the second round really happened
    for c in calls:
        inp, out = PRICES[c["model_group"]]  # the live price: a batch line costs half (discount 0.5)
        live_price = c["prompt_tokens"] * inp + c["completion_tokens"] * out
        assert c["prompt_tokens"] > 0 and c["cost_usd"] == pytest.approx(live_price * 0.5), c
    assert sum(b["requests"] for b in payload["provider_batches"]) == len(calls)
    summary = json.loads((day_dir / "summary.json").read_text())
    assert summary["run_id"] == run_id and summary["tickets"] == len(ticket_ids)
    assert summary["cost_usd"] == pytest.approx(sum(c["cost_usd"] for c in calls))
    assert not (day_dir / "batch_state.json").exists()
