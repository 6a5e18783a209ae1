"""Where a run's files are: the day it processes and its output paths, local or object storage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import ObjectStoragePath

from llm_operators.core.outputs import DayOutputs
from llm_operators.core.run_day import RunDay, resolve_run_day


def run_day_for(run_date: Any, context: Any, task_log: Any) -> RunDay:
    """The day a run processes (see core/run_day.py), said in the task log."""
    run_day = resolve_run_day(run_date, context.get("logical_date"), datetime.now(UTC))
    task_log.info("%s", run_day.describe())
    return run_day


def storage_path(url: str) -> ObjectStoragePath:
    """A local path or any fsspec URL (`s3://bucket/x`, `file:///data`), as an ObjectStoragePath."""
    url = str(url)
    return ObjectStoragePath(url if "://" in url else f"file://{url}")


def day_outputs(output_root: str, day: str) -> DayOutputs:
    return DayOutputs(storage_path(output_root), day)
