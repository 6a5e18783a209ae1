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
    """The `date` param is not a date, or the run's day cannot be triaged (not over, no tickets file)."""


FROM_PARAM = "params.date"
FROM_LOGICAL_DATE = "logical_date"
WHAT_TO_SET = (
    "Clear the logical date in the Trigger form (a run without one processes the last complete UTC "
    "day) or set the `date` param (YYYY-MM-DD)."
)


@dataclass(frozen=True)
class RunDay:
    day: date
    source: str  # FROM_PARAM | FROM_LOGICAL_DATE | "last complete UTC day: ..."
    logical_date: datetime | None = None

    def describe(self) -> str:
        return f"processing UTC day {self.day.isoformat()} (from {self.source})"

    def check_over(self, now: datetime) -> str | None:
        """Raises for a day that has not ended yet, unless the `date` param asked for it by name.

        The Trigger form's logical date defaults to now, whose UTC day is still running: triaging it
        would report a partial day as if it were the day's result. Returns a warning for a partial day
        asked for explicitly.
        """
        end_of_day = datetime.combine(self.day + timedelta(days=1), datetime.min.time(), UTC)
        now = _utc(now)
        if end_of_day <= now:
            return None
        if self.source == FROM_PARAM and self.day <= now.date():
            return f"UTC day {self.day.isoformat()} is not over yet: this run triages it so far"
        if self.source == FROM_PARAM:
            raise RunDayError(
                f"params.date={self.day.isoformat()} is a future UTC day: nothing to triage yet"
            )
        when = _utc(self.logical_date).isoformat() if self.logical_date else "?"
        raise RunDayError(
            f"the run's logical date {when} falls in UTC day {self.day.isoformat()}, which is not over "
            f"yet (the UI's Trigger form defaults the logical date to now). {WHAT_TO_SET}"
        )


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
        return RunDay(parse_day(param_date), FROM_PARAM, logical_date)
    if logical_date is not None:
        return RunDay(_utc(logical_date).date(), FROM_LOGICAL_DATE, logical_date)
    yesterday = _utc(now).date() - timedelta(days=1)
    return RunDay(yesterday, "last complete UTC day: the run has neither params.date nor a logical date")


def missing_day_file_message(run_day: RunDay, path: str, days_present: list[date]) -> str:
    """What a user sees when the day has no tickets file: which days exist and what to set."""
    have = (
        f"it holds {len(days_present)} day file(s), {days_present[0].isoformat()} to "
        f"{days_present[-1].isoformat()}"
        if days_present
        else "it holds no day files"
    )
    return (
        f"no tickets file {path} for UTC day {run_day.day.isoformat()} (from {run_day.source}); {have}. "
        "Set the `date` param to a day that has a file, or `source_root` to where the files are "
        "(an empty file is an empty day)."
    )
