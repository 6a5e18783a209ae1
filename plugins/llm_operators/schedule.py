"""The DAG's schedule: one full UTC day per run, with an optional last day for the schedule only.

A DAG-level `end_date` also stops Airflow from creating task instances for any run whose logical
date is after it, so a manual trigger with the UI form's default logical date (now) would end green
with nothing run. This timetable bounds only what the scheduler creates (catchup included); runs
triggered by hand, from the REST API or by `airflow dags test` are never bounded by it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction
from airflow.timetables.interval import CronDataIntervalTimetable


class DailyUtcUntil(CronDataIntervalTimetable):
    """Daily data intervals `[D 00:00, D+1 00:00)` UTC; scheduled runs stop after `last_day`."""

    def __init__(self, last_day: date | None = None) -> None:
        super().__init__("0 0 * * *", "UTC")
        self.last_day = last_day
        if last_day is not None:
            self.description = f"{self.description} (UTC), scheduled up to {last_day.isoformat()}"

    @property
    def summary(self) -> str:
        return f"daily UTC until {self.last_day.isoformat()}" if self.last_day else "daily UTC"

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        if self.last_day is not None:
            cap = datetime.combine(self.last_day, time(), UTC)
            latest = cap if restriction.latest is None else min(restriction.latest, cap)
            restriction = TimeRestriction(restriction.earliest, latest, restriction.catchup)
        return super().next_dagrun_info(
            last_automated_data_interval=last_automated_data_interval, restriction=restriction
        )

    def serialize(self) -> dict[str, Any]:
        return {"last_day": self.last_day.isoformat() if self.last_day else None}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> DailyUtcUntil:
        last = data.get("last_day")
        return cls(date.fromisoformat(last) if last else None)
