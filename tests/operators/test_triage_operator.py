"""TriageOperator as a UI trigger without a logical date runs it: the day comes from params."""

from __future__ import annotations

import json
from pathlib import Path

from llm_operators.operators.triage import TriageOperator

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "include" / "sample_data" / "tickets"


def test_run_without_logical_date_processes_params_date(tmp_path: Path, capfd) -> None:
    op = TriageOperator(
        task_id="triage",
        source_root=str(SAMPLES),
        output_root=str(tmp_path),
        run_date="2025-10-03",
        max_tickets=4,
        litellm_conn_id="litellm_absent",
        redis_conn_id=None,
    )
    summary = op.execute({"logical_date": None, "dag_run": None, "outlet_events": {}})
    assert summary["day"] == "2025-10-03" and summary["tickets"] == 4 and summary["offline"] is True
    lines = (tmp_path / "2025-10-03" / "outcomes.jsonl").read_text().splitlines()
    expected = [json.loads(x)["id"] for x in (SAMPLES / "2025-10-03.jsonl").read_text().splitlines()[:4]]
    assert [json.loads(x)["ticket_id"] for x in lines] == expected
    assert "processing UTC day 2025-10-03 (from params.date)" in "".join(capfd.readouterr())
    assert not (tmp_path / "2025-10-03" / "checkpoint.jsonl").exists()  # removed once the day is complete


def test_no_date_at_all_processes_the_last_complete_utc_day(tmp_path: Path, capfd) -> None:
    op = TriageOperator(
        task_id="triage",
        source_root=str(SAMPLES),
        output_root=str(tmp_path),
        litellm_conn_id="litellm_absent",
        redis_conn_id=None,
    )
    summary = op.execute({})
    out = "".join(capfd.readouterr())
    assert "(from last complete UTC day" in out
    assert summary["tickets"] == 0 and (tmp_path / summary["day"] / "outcomes.jsonl").exists()
