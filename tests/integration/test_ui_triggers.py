"""Triggers as the UI sends them, against a real scheduler (PostgreSQL, LocalExecutor, api-server).

The Trigger form POSTs `/api/v2/dags/{dag_id}/dagRuns` with the logical date it shows (now, by
default) or none when the user clears it, and the params as `conf`. Each such run must either
process a day or fail at once with a message that says what to set: never end green having run
nothing (which a DAG `end_date` before now used to cause).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from integration.real_airflow import REPO, RealAirflow

pytestmark = pytest.mark.integration

SAMPLE_DAY = "2025-10-01"
OFFLINE = '{"conn_type": "litellm", "extra": {"offline": true}}'


def _tickets_for(day: str, target: Path) -> list[str]:
    """The sample day's tickets moved to `day` (created_at must fall on the file's UTC day)."""
    lines = (REPO / "include/sample_data/tickets" / f"{SAMPLE_DAY}.jsonl").read_text().splitlines()
    tickets = [json.loads(line) for line in lines if line.strip()]
    for t in tickets:
        utc = datetime.fromisoformat(t["created_at"]).astimezone(UTC)
        t["created_at"] = datetime.combine(date.fromisoformat(day), utc.time(), UTC).isoformat()
    target.mkdir(parents=True, exist_ok=True)
    (target / f"{day}.jsonl").write_text("".join(json.dumps(t) + "\n" for t in tickets))
    return [t["id"] for t in tickets]


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealAirflow]:
    workdir = tmp_path_factory.mktemp("ui-triggers")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    _tickets_for(yesterday, workdir / "tickets")
    env = {
        "AIRFLOW_CONN_LITELLM_DEFAULT": OFFLINE,
        "TRIAGE_SOURCE_ROOT": str(workdir / "tickets"),
        # an empty schedule range: unpausing creates no scheduled run, only the triggers below run
        "TRIAGE_START_DATE": "2025-11-29",
        "TRIAGE_END_DATE": "2025-11-28",
        # production retries: a run that cannot be right must fail at once anyway
        "TRIAGE_TASK_RETRIES": "3",
    }
    with RealAirflow(workdir, env) as af:
        af.start()
        af.wait_for(lambda: af.get("/dags/ticket_triage"), 120, "the DAG to be parsed")
        af.request("PATCH", "/dags/ticket_triage", {"is_paused": False})
        yield af


def _trigger(af: RealAirflow, body: dict) -> dict:
    run = af.request("POST", "/dags/ticket_triage/dagRuns", body)
    run_id = run["dag_run_id"]
    return af.wait_for(
        lambda: (
            (r := af.get(f"/dags/ticket_triage/dagRuns/{run_id}"))
            and r["state"] in ("success", "failed")
            and r
        ),
        300,
        f"run {run_id}",
        every=2,
    )


def test_form_with_the_logical_date_cleared_and_no_params_processes_the_last_complete_day(
    airflow: RealAirflow,
) -> None:
    af = airflow
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    run = _trigger(af, {"logical_date": None, "conf": {}})
    assert run["state"] == "success", af.logs()
    assert run["logical_date"] is None
    plan_log = af.task_log(run["dag_run_id"], "plan_batches")
    assert f"processing UTC day {yesterday} (from last complete UTC day" in plan_log
    summary = json.loads((af.workdir / "output" / yesterday / "summary.json").read_text())
    assert (
        summary["run_id"] == run["dag_run_id"] and summary["tickets"] > 0 and summary["rejected_lines"] == 0
    )
    # the day's result where the UI shows it: the report's XCom, day first, and the asset event
    value = af.xcom(run["dag_run_id"], "report")
    assert next(iter(value)) == "day" and value["day"] == yesterday
    assert value["auto_reply"] + value["manual_review"] == summary["tickets"]
    events = af.get("/assets/events?limit=50") or {}
    mine = [e for e in events.get("asset_events", []) if e["source_run_id"] == run["dag_run_id"]]
    assert [e["extra"]["day"] for e in mine] == [yesterday]
    assert mine[0]["extra"]["location"].endswith(f"/output/{yesterday}")


def test_form_defaults_logical_date_now_fails_at_once_saying_what_to_set(airflow: RealAirflow) -> None:
    af = airflow
    now = datetime.now(UTC)
    run = _trigger(af, {"logical_date": now.isoformat(), "conf": {}})
    assert run["state"] == "failed", af.logs()
    tis = {t["task_id"]: t for t in af.task_instances(run["dag_run_id"])}
    plan = tis["plan_batches"]
    assert plan["state"] == "failed" and plan["try_number"] == 1  # no retry of a wrong day
    log = af.task_log(run["dag_run_id"], "plan_batches")
    assert f"UTC day {now.date().isoformat()}, which is not over yet" in log
    assert "Clear the logical date in the Trigger form" in log and "`date` param" in log


def test_form_defaults_with_the_date_param_set_processes_that_day(airflow: RealAirflow) -> None:
    """What the failure message tells the user to do works with the form's logical date left as is."""
    af = airflow
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    run = _trigger(
        af, {"logical_date": datetime.now(UTC).isoformat(), "conf": {"date": yesterday, "max_tickets": 2}}
    )
    assert run["state"] == "success", af.logs()
    log = af.task_log(run["dag_run_id"], "plan_batches")
    assert f"processing UTC day {yesterday} (from params.date)" in log
    summary = json.loads((af.workdir / "output" / yesterday / "summary.json").read_text())
    assert summary["run_id"] == run["dag_run_id"] and summary["tickets"] == 2
