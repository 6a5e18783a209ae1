"""Where a run's files are: the day it processes and its output paths, local or object storage."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from airflow.sdk import ObjectStoragePath
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from llm_operators.core.outputs import DayOutputs
from llm_operators.core.run_day import RunDay, RunDayError, missing_day_file_message, resolve_run_day


def run_day_for(run_date: Any, context: Any, task_log: Any) -> RunDay:
    """The day a run processes (see core/run_day.py), said in the task log.

    A day that cannot be right (not over yet, a malformed `date`) fails the task at once: retrying
    cannot fix a parameter, and the message says what to set.
    """
    now = datetime.now(UTC)
    try:
        run_day = resolve_run_day(run_date, context.get("logical_date"), now)
        task_log.info("%s", run_day.describe())
        if warning := run_day.check_over(now):
            task_log.warning("%s", warning)
    except RunDayError as exc:
        raise AirflowFailException(str(exc)) from None
    return run_day


def require_day_file(source_root: str, run_day: RunDay, *, scheduled: bool = False) -> None:
    """A day without its tickets file fails the run, saying which days the source does have.

    A missing file is far more often a wrong day or root (the UI form's default, a late export) than
    a day without tickets, and a green run that triaged nothing hides that; an empty file is an
    empty day. A scheduled or backfill run fails retryably (the export may just be late, and the
    retries with backoff wait for it); a manual one at once (retrying cannot fix a parameter).
    """
    root = storage_path(source_root)
    path = root / f"{run_day.day.isoformat()}.jsonl"
    if path.exists():
        return
    days: list[date] = []
    if root.exists():
        for p in root.iterdir():
            try:
                days.append(date.fromisoformat(p.name.removesuffix(".jsonl")))
            except ValueError:
                continue
    message = missing_day_file_message(run_day, str(path), sorted(days))
    if scheduled:
        raise AirflowException(f"{message} A late export is retried.")
    raise AirflowFailException(message)


def storage_path(url: str) -> ObjectStoragePath:
    """A local path or any fsspec URL (`s3://bucket/x`, `file:///data`), as an ObjectStoragePath."""
    url = str(url)
    return ObjectStoragePath(url if "://" in url else f"file://{url}")


def day_outputs(output_root: str, day: str) -> DayOutputs:
    return DayOutputs(storage_path(output_root), day)
