"""Which UTC day a run processes: params.date, else the logical date in UTC, else yesterday."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from llm_operators.core.run_day import RunDayError, missing_day_file_message, parse_day, resolve_run_day

NOW = datetime(2025, 10, 5, 3, 0, tzinfo=UTC)
MINUS_2 = timezone(timedelta(hours=-2))


def test_params_date_wins_over_logical_date():
    run = resolve_run_day("2025-09-15", datetime(2025, 10, 1, tzinfo=UTC), NOW)
    assert (run.day, run.source) == (date(2025, 9, 15), "params.date")
    assert run.describe() == "processing UTC day 2025-09-15 (from params.date)"


def test_params_date_may_be_a_date_or_padded_string():
    assert resolve_run_day(date(2025, 9, 2), None, NOW).day == date(2025, 9, 2)
    assert resolve_run_day(" 2025-09-03 ", None, NOW).day == date(2025, 9, 3)


def test_logical_date_is_converted_to_utc():
    logical = datetime(2025, 10, 1, 23, 30, tzinfo=MINUS_2)  # 2025-10-02T01:30Z
    run = resolve_run_day(None, logical, NOW)
    assert (run.day, run.source) == (date(2025, 10, 2), "logical_date")


def test_empty_params_date_falls_through_to_logical_date():
    run = resolve_run_day("", datetime(2025, 10, 1, 12, tzinfo=UTC), NOW)
    assert (run.day, run.source) == (date(2025, 10, 1), "logical_date")


def test_neither_means_yesterday_of_now_and_says_so():
    run = resolve_run_day(None, None, NOW)
    assert run.day == date(2025, 10, 4)
    assert run.source.startswith("last complete UTC day")
    assert "neither params.date nor a logical date" in run.describe()


def test_yesterday_is_taken_in_utc():
    # 2025-10-05T01:00+05:00 is 2025-10-04T20:00Z: the last complete UTC day is 2025-10-03
    now = datetime(2025, 10, 5, 1, 0, tzinfo=timezone(timedelta(hours=5)))
    assert resolve_run_day(None, None, now).day == date(2025, 10, 3)


def test_naive_datetimes_are_taken_as_utc():
    assert resolve_run_day(None, datetime(2025, 10, 1, 23, 30), NOW).day == date(2025, 10, 1)
    assert resolve_run_day(None, None, datetime(2025, 10, 5, 0, 30)).day == date(2025, 10, 4)
    assert parse_day(datetime(2025, 10, 1, 23, 59)) == date(2025, 10, 1)


def test_parse_day_converts_aware_datetimes():
    assert parse_day(datetime(2025, 10, 1, 23, 30, tzinfo=MINUS_2)) == date(2025, 10, 2)


@pytest.mark.parametrize("bad", ["yesterday", "2025-13-01", "01/10/2025", "2025", "   "])
def test_bad_param_raises_naming_params_date(bad):
    with pytest.raises(RunDayError) as err:
        resolve_run_day(bad, None, NOW)
    assert str(err.value) == f"params.date={bad!r} is not a date in YYYY-MM-DD format"


# -- a day that cannot be triaged fails, saying what to set ------------------------------------
FORM_NOW = datetime(2025, 10, 5, 14, 7, tzinfo=UTC)  # the Trigger form's default logical date


def test_logical_date_of_a_day_not_over_fails_saying_what_to_set():
    run = resolve_run_day(None, FORM_NOW, FORM_NOW)
    with pytest.raises(RunDayError) as err:
        run.check_over(FORM_NOW)
    msg = str(err.value)
    assert "2025-10-05T14:07:00+00:00" in msg and "UTC day 2025-10-05, which is not over yet" in msg
    assert "Clear the logical date" in msg and "`date` param" in msg


def test_a_complete_day_passes_and_the_day_before_now_is_complete():
    assert resolve_run_day(None, datetime(2025, 10, 4, tzinfo=UTC), FORM_NOW).check_over(FORM_NOW) is None
    assert resolve_run_day(None, None, FORM_NOW).check_over(FORM_NOW) is None  # yesterday
    # a day is over at the next midnight UTC exactly
    midnight = datetime(2025, 10, 5, tzinfo=UTC)
    assert resolve_run_day(None, datetime(2025, 10, 4, 23, tzinfo=UTC), midnight).check_over(midnight) is None


def test_params_date_of_today_is_a_partial_day_with_a_warning_and_a_future_one_fails():
    warning = resolve_run_day("2025-10-05", FORM_NOW, FORM_NOW).check_over(FORM_NOW)
    assert warning == "UTC day 2025-10-05 is not over yet: this run triages it so far"
    with pytest.raises(RunDayError, match=r"params\.date=2025-10-06 is a future UTC day"):
        resolve_run_day("2025-10-06", None, FORM_NOW).check_over(FORM_NOW)


def test_not_over_is_judged_in_utc():
    # 2025-10-05T01:00+05:00 is 2025-10-04T20:00Z: UTC day 2025-10-04 is still running
    now = datetime(2025, 10, 5, 1, 0, tzinfo=timezone(timedelta(hours=5)))
    with pytest.raises(RunDayError, match="UTC day 2025-10-04, which is not over"):
        resolve_run_day(None, now, now).check_over(now)


def test_missing_day_file_message_lists_the_days_there_are():
    run = resolve_run_day(None, datetime(2026, 12, 2, 9, tzinfo=UTC), NOW)
    msg = missing_day_file_message(
        run, "/data/tickets/2026-12-02.jsonl", [date(2025, 9, 1), date(2025, 11, 29)]
    )
    assert msg.startswith(
        "no tickets file /data/tickets/2026-12-02.jsonl for UTC day 2026-12-02 (from logical_date)"
    )
    assert "it holds 2 day file(s), 2025-09-01 to 2025-11-29" in msg and "Set the `date` param" in msg
    assert "it holds no day files" in missing_day_file_message(run, "/x/2026-12-02.jsonl", [])
