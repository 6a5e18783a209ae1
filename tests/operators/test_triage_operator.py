"""TriageOperator as a UI trigger without a logical date runs it: the day comes from params."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_operators.operators.triage import TriageOperator

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "include" / "sample_data" / "tickets"


@pytest.fixture(autouse=True)
def offline_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_LITELLM_OFFLINE", '{"conn_type": "litellm", "extra": {"offline": true}}')


def test_run_without_logical_date_processes_params_date(tmp_path: Path, capfd) -> None:
    op = TriageOperator(
        task_id="triage",
        source_root=str(SAMPLES),
        output_root=str(tmp_path),
        run_date="2025-10-03",
        max_tickets=4,
        litellm_conn_id="litellm_offline",
        redis_conn_id=None,
    )
    summary = op.execute({"logical_date": None, "dag_run": None, "outlet_events": {}})
    assert summary["day"] == "2025-10-03" and summary["tickets"] == 4 and summary["offline"] is True
    lines = (tmp_path / "2025-10-03" / "outcomes.jsonl").read_text().splitlines()
    expected = [json.loads(x)["id"] for x in (SAMPLES / "2025-10-03.jsonl").read_text().splitlines()[:4]]
    assert [json.loads(x)["ticket_id"] for x in lines] == expected
    assert "processing UTC day 2025-10-03 (from params.date)" in "".join(capfd.readouterr())
    assert (tmp_path / "2025-10-03" / "checkpoint.jsonl").exists()  # kept: a re-run reuses it


class _Run:
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id


def test_a_rerun_reuses_the_outcomes_and_builds_no_llm_client(tmp_path: Path, capfd) -> None:
    def execute(run_id: str) -> dict:
        op = TriageOperator(
            task_id="triage",
            source_root=str(SAMPLES),
            output_root=str(tmp_path),
            run_date="2025-10-03",
            litellm_conn_id="litellm_offline",
            redis_conn_id=None,
        )
        return op.execute({"logical_date": None, "dag_run": _Run(run_id), "outlet_events": {}})

    first = execute("scheduled__2025-10-03")
    outcomes = tmp_path / "2025-10-03" / "outcomes.jsonl"
    before = [json.loads(x) for x in outcomes.read_text().splitlines()]
    capfd.readouterr()
    second = execute("backfill__2025-10-03")
    log = "".join(capfd.readouterr())
    after = [json.loads(x) for x in outcomes.read_text().splitlines()]

    assert f"{first['tickets']} tickets reused from an earlier run" in log
    assert "no LLM client built" in log
    assert [(o["ticket_id"], o["result"]) for o in after] == [(o["ticket_id"], o["result"]) for o in before]
    assert second["cost_usd"] == 0 and first["cost_usd"] > 0


def test_no_date_at_all_processes_the_last_complete_utc_day(tmp_path: Path, capfd) -> None:
    op = TriageOperator(
        task_id="triage",
        source_root=str(SAMPLES),
        output_root=str(tmp_path),
        litellm_conn_id="litellm_offline",
        redis_conn_id=None,
    )
    summary = op.execute({})
    out = "".join(capfd.readouterr())
    assert "(from last complete UTC day" in out
    assert summary["tickets"] == 0 and (tmp_path / summary["day"] / "outcomes.jsonl").exists()
