"""Jira Service Management as the ticket source, through the plan/triage operators and JiraHook."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import FakeJira

from llm_operators.operators.batches import PlanBatchesOperator
from llm_operators.operators.triage import TriageOperator


@pytest.mark.parametrize("deployment", ["cloud", "server"])
def test_plan_and_triage_a_day_of_jira_issues(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, deployment: str
) -> None:
    """Five issues, pages of three: the day spans two search pages in either deployment."""
    monkeypatch.setenv("AIRFLOW_CONN_LITELLM_OFFLINE", '{"conn_type": "litellm", "extra": {"offline": true}}')
    with FakeJira(deployment=deployment, max_results=3) as jira:
        monkeypatch.setenv("AIRFLOW_CONN_JIRA_SRC", jira.airflow_conn_json())
        for i in range(5):
            jira.seed_issue(
                "HELP",
                f"Refund for invoice {i}",
                "I was charged twice on my invoice, please refund.",
                f"2025-10-01T0{i}:30:00.000+0000",
                reporter="cust-1",
            )
        jira.seed_issue("HELP", "yesterday", "x", "2025-09-30T12:00:00.000+0000")
        common = {"ticket_source": "jira", "jira_conn_id": "jira_src", "jira_project": "HELP"}
        specs = PlanBatchesOperator(
            task_id="plan", source_root=str(tmp_path), run_date="2025-10-01", batch_size=2, **common
        ).execute({})
        assert [(s["first"], s["count"]) for s in specs] == [(0, 2), (2, 2), (4, 1)]
        triage = TriageOperator(
            task_id="triage",
            source_root=str(tmp_path),
            output_root=str(tmp_path / "out"),
            batch=specs[1],
            litellm_conn_id="litellm_offline",
            redis_conn_id=None,
            **common,
        )
        summary = triage.execute({})
    outcomes = [
        json.loads(x)
        for x in (tmp_path / "out/2025-10-01/batches/00001/outcomes.jsonl").read_text().splitlines()
    ]
    assert summary["tickets"] == 2 and [o["ticket"]["subject"] for o in outcomes] == [
        "Refund for invoice 2",
        "Refund for invoice 3",
    ]
    assert all(o["ticket"]["channel"] == "jira" and o["ticket_id"].startswith("HELP-") for o in outcomes)
    searches = jira.requests_to("/search/jql" if deployment == "cloud" else "/rest/api/2/search")
    assert len(searches) >= 2 and all(r.status == 200 for r in jira.requests)


def test_unknown_ticket_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ticket_source='csv'"):
        PlanBatchesOperator(
            task_id="plan", source_root=str(tmp_path), run_date="2025-10-01", ticket_source="csv"
        ).execute({})
