"""`airflow dags test` of sample days, as a user runs it: every ticket ends up exactly once."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from e2e.conftest import AIRFLOW, REPO, AirflowEnv

pytestmark = pytest.mark.e2e

DAY = "2025-10-01"


def _lines(path: Path) -> list[dict]:
    return (
        [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    )


def _sample_ids(day: str) -> list[str]:
    return [t["id"] for t in _lines(REPO / "include" / "sample_data" / "tickets" / f"{day}.jsonl")]


def _snapshot(day_dir: Path) -> dict[str, list]:
    """What a re-run must reproduce: who went where and why (not timestamps or latencies)."""
    return {
        "outcomes": [
            (o["ticket_id"], o["status"], o["result"], o["gate"]) for o in _lines(day_dir / "outcomes.jsonl")
        ],
        "outbox": [(m["ticket_id"], m["body"]) for m in _lines(day_dir / "outbox.jsonl")],
        "review": [(i["ticket_id"], i["reasons"]) for i in _lines(day_dir / "review.jsonl")],
    }


def test_one_sample_day_every_ticket_once_and_rerun_is_idempotent(airflow_env: AirflowEnv) -> None:
    log = airflow_env.dags_test(DAY)
    assert f"processing UTC day {DAY} (from logical_date)" in log
    day_dir = airflow_env.output / DAY
    ids = _sample_ids(DAY)
    outcomes = _lines(day_dir / "outcomes.jsonl")
    assert sorted(o["ticket_id"] for o in outcomes) == sorted(ids)  # exactly one outcome per ticket
    outbox = {m["ticket_id"] for m in _lines(day_dir / "outbox.jsonl")}
    review = {i["ticket_id"] for i in _lines(day_dir / "review.jsonl")}
    assert outbox.isdisjoint(review) and outbox | review == set(ids)  # each in exactly one place
    assert outbox and review, "the sample day should exercise both branches"
    assert all(o["gate"] for o in outcomes)

    summary = json.loads((day_dir / "summary.json").read_text())
    assert summary["tickets"] == len(ids) and summary["offline"] is True
    assert summary["gate"]["auto_reply"] == len(outbox) and summary["gate"]["manual_review"] == len(review)
    assert summary["cost_usd"] > 0 and set(summary["by_model"]) <= {"offline/fast", "offline/careful"}
    assert summary["stopped_at_rung"]["0"] > summary["stopped_at_rung"].get("1", 0)  # most stop cheap
    assert (day_dir / "report.md").read_text().startswith(f"# Ticket triage report, {DAY}")

    first = _snapshot(day_dir)
    airflow_env.dags_test(DAY)
    assert _snapshot(day_dir) == first  # same files, not more lines
    outbox_again = _lines(day_dir / "outbox.jsonl")
    assert len(outbox_again) == len(outbox)


def test_params_date_wins_over_the_logical_date(airflow_env: AirflowEnv) -> None:
    """A UI trigger with `date` in params processes that day, whatever the run's logical date."""
    other = "2025-10-02"
    shutil.rmtree(airflow_env.output / other, ignore_errors=True)
    log = airflow_env.dags_test("2025-11-15", conf={"date": other, "max_tickets": 3, "min_confidence": 0.0})
    assert f"processing UTC day {other} (from params.date)" in log
    assert not (airflow_env.output / "2025-11-15").exists()
    outcomes = _lines(airflow_env.output / other / "outcomes.jsonl")
    assert [o["ticket_id"] for o in outcomes] == _sample_ids(other)[:3]


def test_a_day_split_into_mapped_batches_gives_the_same_outcomes(airflow_env: AirflowEnv) -> None:
    """batch_size 4: the day fans out to ceil(n/4) mapped triage tasks and merges back in file order."""
    day = "2025-10-06"
    ids = _sample_ids(day)
    airflow_env.dags_test(day, conf={"batch_size": 4})
    day_dir = airflow_env.output / day
    batches = sorted(p.name for p in (day_dir / "batches").iterdir())
    assert len(batches) == -(-len(ids) // 4) > 1
    assert [o["ticket_id"] for o in _lines(day_dir / "outcomes.jsonl")] == ids
    outbox = {m["ticket_id"] for m in _lines(day_dir / "outbox.jsonl")}
    review = {i["ticket_id"] for i in _lines(day_dir / "review.jsonl")}
    assert outbox.isdisjoint(review) and outbox | review == set(ids)


def _asset_events(airflow_env: AirflowEnv) -> tuple[list[dict], list[tuple[str, str]]]:
    """The asset events as the UI lists them, and the active assets, from the throwaway metadata DB."""
    with sqlite3.connect(airflow_env.home / "airflow.db") as db:
        rows = db.execute(
            "SELECT a.name, a.uri, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id ORDER BY e.id"
        ).fetchall()
        active = db.execute("SELECT name, uri FROM asset_active").fetchall()
    return [{"name": n, "uri": u, "extra": json.loads(x)} for n, u, x in rows], active


def test_a_day_under_two_output_roots_in_one_metadata_db(airflow_env: AirflowEnv, tmp_path: Path) -> None:
    """Moving the outputs (another root, object storage) keeps the asset active and its events flowing;
    each event says, day first, where that day's files are."""
    day = "2025-10-07"
    roots = [tmp_path / "root-a", tmp_path / "root-b"]
    before = len(_asset_events(airflow_env)[0])
    for root in roots:
        airflow_env.dags_test(day, conf={"max_tickets": 2}, extra_env={"TRIAGE_OUTPUT_ROOT": str(root)})
        assert (root / day / "report.md").exists()
    events, active = _asset_events(airflow_env)
    events = events[before:]
    assert active == [("ticket_triage_day", "ticket_triage_day")]
    assert [e["name"] for e in events] == ["ticket_triage_day"] * 2
    assert {e["uri"] for e in events} == {"ticket_triage_day"}
    assert [e["extra"]["location"] for e in events] == [f"file://{r / day}" for r in roots]
    for e in events:
        extra = e["extra"]
        assert next(iter(extra)) == "day" and extra["day"] == day and extra["tickets"] == 2
        assert extra["auto_reply"] + extra["manual_review"] == 2 and "paged" in extra
        assert {"escalation_rate", "cost_usd", "tokens", "by_rung", "fallbacks"} <= set(extra)
        assert len(repr(extra["cost_usd"])) <= 10  # rounded, not 0.009285600000000001


def _failing_dags_test(airflow_env: AirflowEnv, logical_date: str) -> str:
    result = subprocess.run(
        [AIRFLOW, "dags", "test", "ticket_triage", logical_date],
        env=airflow_env.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = result.stdout + result.stderr
    assert "state=failed" in log and "state=success" not in log, log[-4000:]
    return log


def test_runs_that_would_triage_nothing_fail_saying_what_to_set(airflow_env: AirflowEnv) -> None:
    """The UI form's default logical date is now; a day without a tickets file is a wrong day or root.
    Neither may end green: plan_batches fails at once (no retry) with what to set."""
    now = datetime.now(UTC).replace(microsecond=0)
    log = _failing_dags_test(airflow_env, now.isoformat())
    assert f"falls in UTC day {now.date().isoformat()}, which is not over yet" in log
    assert "Clear the logical date in the Trigger form" in log

    log = _failing_dags_test(airflow_env, "2026-01-15")
    assert "no tickets file" in log and "2026-01-15.jsonl" in log
    assert "it holds 90 day file(s), 2025-09-01 to 2025-11-29" in log
    assert not (airflow_env.output / "2026-01-15").exists()
