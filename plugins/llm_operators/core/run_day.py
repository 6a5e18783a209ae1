"""Which UTC day a run processes.

The product contract (README, "Which day a run processes"): the `date` param if given, else the UTC
date of the run's logical date, else the last complete UTC day before the run. Keying on the logical
date rather than the data interval matters: `airflow dags test ticket_triage 2025-10-01` gets a data
interval ending on 2025-10-01, yet the user means 2025-10-01, as a scheduled or backfill run does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta


class RunDayError(ValueError):
    """The `date` param is not a date."""


@dataclass(frozen=True)
class RunDay:
    day: date
    source: str  # "params.date" | "logical_date" | "last complete UTC day"

    def describe(self) -> str:
        return f"processing UTC day {self.day.isoformat()} (from {self.source})"


def _utc(moment: datetime) -> datetime:
    """Aware datetimes converted to UTC; a naive one is taken as UTC (not as the worker's local time)."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_day(value: str | date | datetime, what: str = "params.date") -> date:
    if isinstance(value, datetime):
        return _utc(value).date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise RunDayError(f"{what}={value!r} is not a date in YYYY-MM-DD format") from None


def resolve_run_day(
    param_date: str | date | None,
    logical_date: datetime | None,
    now: datetime,
) -> RunDay:
    if param_date not in (None, ""):
        return RunDay(parse_day(param_date), "params.date")
    if logical_date is not None:
        return RunDay(_utc(logical_date).date(), "logical_date")
    yesterday = _utc(now).date() - timedelta(days=1)
    return RunDay(yesterday, "last complete UTC day: the run has neither params.date nor a logical date")
