"""CeleryExecutor with two workers on the Redis broker: a day's mapped batches spread across both."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from integration.real_airflow import RealAirflow

pytestmark = pytest.mark.integration

DAY = "2025-10-01"
BROKER_DB = 7
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def celery_airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealAirflow]:
    broker = redis.Redis(host="127.0.0.1", port=6379, db=BROKER_DB)
    broker.flushdb()
    workdir = tmp_path_factory.mktemp("celery-airflow")
    env = {
        "TRIAGE_START_DATE": DAY,
        "TRIAGE_END_DATE": DAY,
        "TRIAGE_BATCH_SIZE": "2",  # ~7 mapped triage tasks for the sample day
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{BROKER_DB}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "worker_hostname.worker_name",
        "PYTHONPATH": str(HERE),
    }
    with RealAirflow(workdir, env, executor="CeleryExecutor") as airflow:
        airflow.env["AIRFLOW__CELERY__RESULT_BACKEND"] = (
            f"db+postgresql://postgres@127.0.0.1:5432/{airflow.db}"
        )
        airflow.start()
        for name in ("w1", "w2"):
            airflow.env["TRIAGE_WORKER_NAME"] = name
            airflow.spawn(
                f"worker-{name}",
                [
                    "celery",
                    "worker",
                    "--concurrency",
                    "2",
                    "--celery-hostname",
                    f"{name}@%h",
                    "--without-mingle",
                    "--without-gossip",
                ],
            )
        airflow.env.pop("TRIAGE_WORKER_NAME")
        airflow.wait_for(lambda: airflow.get("/dags/ticket_triage"), 120, "the DAG to be parsed")
        yield airflow
    broker.flushdb()


def test_mapped_batches_run_on_both_celery_workers(celery_airflow: RealAirflow) -> None:
    af = celery_airflow
    af.request("PATCH", "/dags/ticket_triage", {"is_paused": False})
    (run,) = af.wait_for(
        lambda: [r for r in af.dag_runs() if r["state"] in ("success", "failed")] or None,
        420,
        "the catchup run on Celery",
        every=3,
    )
    assert run["state"] == "success", af.logs()
    triage = [ti for ti in af.task_instances(run["dag_run_id"]) if ti["task_id"] == "triage"]
    tickets = sum(
        1
        for line in (Path(__file__).parents[2] / "include/sample_data/tickets" / f"{DAY}.jsonl")
        .read_text()
        .splitlines()
        if line.strip()
    )
    assert len(triage) == -(-tickets // 2) > 2 and all(ti["state"] == "success" for ti in triage)
    assert {ti["hostname"] for ti in triage} == {"w1", "w2"}, [ti["hostname"] for ti in triage]
    summary = json.loads((af.workdir / "output" / DAY / "summary.json").read_text())
    assert summary["tickets"] == tickets
