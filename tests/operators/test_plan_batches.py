"""plan_batches on a day without its tickets file: a manual run fails at once saying which days exist;
a scheduled or backfill run fails retryably, because the export may only be late."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from llm_operators.operators.batches import PlanBatchesOperator

LOGICAL = datetime(2025, 10, 2, tzinfo=UTC)


def _plan(root: Path, run_type: str, run_date: str | None = None) -> list[dict]:
    op = PlanBatchesOperator(task_id="plan_batches", source_root=str(root), run_date=run_date)
    context = {"logical_date": LOGICAL, "dag_run": SimpleNamespace(run_type=run_type)}
    return op.execute(context)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "2025-10-01.jsonl").write_text("")  # an empty file is an empty day
    return tmp_path


def test_a_manual_run_without_its_day_file_fails_at_once_naming_the_days_there(root: Path) -> None:
    with pytest.raises(AirflowFailException, match="2025-10-01"):
        _plan(root, "manual")


@pytest.mark.parametrize("run_type", ["scheduled", "backfill"])
def test_a_scheduled_run_without_its_day_file_is_retried_for_a_late_export(root: Path, run_type: str) -> None:
    with pytest.raises(AirflowException, match="late export") as caught:
        _plan(root, run_type)
    assert not isinstance(caught.value, AirflowFailException)


def test_a_scheduled_run_given_a_date_param_is_a_user_choice_and_fails_at_once(root: Path) -> None:
    with pytest.raises(AirflowFailException):
        _plan(root, "scheduled", run_date="2025-10-05")


def test_an_empty_day_file_is_an_empty_day(root: Path) -> None:
    (spec,) = _plan(root, "scheduled", run_date="2025-10-01")
    assert (spec["day"], spec["count"], spec["total"]) == ("2025-10-01", 0, 0)
