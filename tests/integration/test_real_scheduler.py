"""The product under a real scheduler: catchup, `airflow backfill create`, and a REST trigger with
params and no logical date, on PostgreSQL with LocalExecutor, against loopback providers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import redis
from fakes import FakeJira, FakeSlack
from integration.real_airflow import RealAirflow

from chaos_provider import ChaosServer
from llm_operators.core.offline_engine import triage_text
from llm_operators.core.prompts import extract_ticket_text

pytestmark = pytest.mark.integration

DAYS = ["2025-10-01", "2025-10-02", "2025-10-03"]
REDIS_DB = 8


def _answer(model: str, messages: list[dict]) -> str:
    return json.dumps(triage_text(extract_ticket_text(messages), "careful" if "strong" in model else "fast"))


class Stack:
    def __init__(self, airflow: RealAirflow, chaos: ChaosServer, slack: FakeSlack, jira: FakeJira) -> None:
        self.airflow, self.chaos, self.slack, self.jira = airflow, chaos, slack, jira

    def side_effects(self) -> tuple[int, int]:
        return len(self.jira.created_issues), len(self.slack.messages)

    def summary(self, day: str) -> dict:
        return json.loads((self.airflow.workdir / "output" / day / "summary.json").read_text())


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    store = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    store.flushdb()
    with ChaosServer(content_fn=_answer) as chaos, FakeSlack() as slack, FakeJira() as jira:
        litellm = {
            "conn_type": "litellm",
            "host": chaos.openai_base,
            "password": "sk-it-0123456789abcdefghij",
            "extra": {
                "model_list": [
                    {
                        "model_name": "cheap",
                        "litellm_params": {"model": "openai/it-cheap", "input_cost_per_token": 1e-6},
                    },
                    {
                        "model_name": "strong",
                        "litellm_params": {"model": "openai/it-strong", "input_cost_per_token": 1e-5},
                    },
                ],
                "ladder": ["cheap", "strong"],
                "router_settings": {"num_retries": 0},
            },
        }
        env = {
            "TRIAGE_START_DATE": DAYS[0],
            "TRIAGE_END_DATE": DAYS[-1],
            "AIRFLOW_CONN_LITELLM_DEFAULT": json.dumps(litellm),
            "AIRFLOW_CONN_REDIS_DEFAULT": json.dumps(
                {"conn_type": "redis", "host": "127.0.0.1", "port": 6379, "extra": {"db": REDIS_DB}}
            ),
            "AIRFLOW_CONN_SLACK_API_DEFAULT": slack.airflow_conn_json(),
            "AIRFLOW_CONN_JIRA_DEFAULT": jira.airflow_conn_json(),
        }
        with RealAirflow(tmp_path_factory.mktemp("real-airflow"), env) as airflow:
            airflow.start()
            airflow.wait_for(lambda: airflow.get("/dags/ticket_triage"), 120, "the DAG to be parsed")
            yield Stack(airflow, chaos, slack, jira)
    store.flushdb()


def _finished(runs: list[dict], n: int) -> list[dict] | None:
    done = [r for r in runs if r["state"] in ("success", "failed")]
    return done if len(done) >= n else None


def test_unpausing_runs_every_configured_day_with_its_own_interval(stack: Stack) -> None:
    af = stack.airflow
    af.request("PATCH", "/dags/ticket_triage", {"is_paused": False})
    runs = af.wait_for(lambda: _finished(af.dag_runs(), len(DAYS)), 420, "catchup of 3 days", every=3)
    assert [r["state"] for r in runs] == ["success"] * len(DAYS), af.logs()
    assert [r["run_type"] for r in runs] == ["scheduled"] * len(DAYS)
    for run, day in zip(runs, DAYS, strict=True):
        start = datetime.fromisoformat(run["data_interval_start"])
        end = datetime.fromisoformat(run["data_interval_end"])
        assert start.date().isoformat() == day and (end - start).days == 1
        summary = stack.summary(day)
        assert summary["day"] == day and summary["run_id"] == run["dag_run_id"] and summary["tickets"] > 0
    assert stack.chaos.stats()["total_requests"] > 0 and stack.jira.created_issues


def test_backfill_reprocessing_costs_nothing_and_repeats_nothing(stack: Stack) -> None:
    af = stack.airflow
    requests_before, effects_before = stack.chaos.stats()["total_requests"], stack.side_effects()
    af.cli(
        "backfill",
        "create",
        "--dag-id",
        "ticket_triage",
        "--from-date",
        DAYS[0],
        "--to-date",
        DAYS[-1],
        "--reprocess-behavior",
        "completed",
    )
    backfill = af.wait_for(
        lambda: _finished([r for r in af.dag_runs() if r["run_type"] == "backfill"], len(DAYS)),
        420,
        "the backfill runs",
        every=3,
    )
    assert [r["state"] for r in backfill] == ["success"] * len(DAYS), af.logs()
    assert stack.chaos.stats()["total_requests"] == requests_before  # 0 provider requests: the cache
    assert stack.side_effects() == effects_before  # 0 repeated side effects: the ledger
    for day in DAYS:
        summary = stack.summary(day)
        assert summary["cache_hits"] == summary["calls"] > 0 and summary["cost_usd"] == 0


def test_rest_trigger_without_logical_date_processes_params_date(stack: Stack) -> None:
    af = stack.airflow
    run = af.request(
        "POST",
        "/dags/ticket_triage/dagRuns",
        {"logical_date": None, "conf": {"date": DAYS[1], "max_tickets": 2}},
    )
    run_id = run["dag_run_id"]
    assert run["logical_date"] is None
    done = af.wait_for(
        lambda: (
            (r := af.get(f"/dags/ticket_triage/dagRuns/{run_id}"))
            and r["state"] in ("success", "failed")
            and r
        ),
        300,
        "the REST-triggered run",
        every=2,
    )
    assert done["state"] == "success", af.logs()
    summary = stack.summary(DAYS[1])
    assert summary["run_id"] == run_id and summary["tickets"] == 2


def test_outputs_exist_per_day(stack: Stack) -> None:
    for day in DAYS:
        day_dir: Path = stack.airflow.workdir / "output" / day
        assert {"outcomes.jsonl", "review.jsonl", "summary.json", "report.md"} <= {
            p.name for p in day_dir.iterdir()
        }
