"""The DAG file: imports cleanly, parses fast without litellm, and is wired as the README says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"


@pytest.fixture(scope="module")
def dag(dagbag):
    return dagbag.dags["ticket_triage"]


# What a parse must never import: each costs a second or more, on every parse of the dag-processor.
# (The parse time itself is measured by the bench, `make bench` row 5, not asserted here.)
HEAVY_MODULES = ("litellm", "openai", "atlassian", "slack_sdk", "langfuse", "sklearn", "matplotlib")


@pytest.mark.parametrize("mode", ["live", "batch"])
def test_parse_never_imports_the_heavy_clients(mode: str) -> None:
    probe = (
        "import sys, importlib.util\n"
        f"path = {str(DAGS / 'ticket_triage.py')!r}\n"
        "spec = importlib.util.spec_from_file_location('ticket_triage', path)\n"
        "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
        f"print([m for m in {HEAVY_MODULES!r} if m in sys.modules])\n"
    )
    env = {**os.environ, "TRIAGE_LLM_MODE": mode}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120, env=env
    ).stdout.split("\n")
    assert [line for line in out if line.strip()][-1] == "[]"


@pytest.mark.parametrize("mode, operator", [("live", "TriageOperator"), ("batch", "BatchTriageOperator")])
def test_deployment_settings_reach_the_tasks(mode: str, operator: str) -> None:
    probe = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAGS)!r}); assert bag.import_errors == {{}}, bag.import_errors\n"
        "d = bag.dags['ticket_triage']\n"
        "r, p = d.get_task('manual_review'), d.get_task('page_engineering')\n"
        "print(d.get_task('triage').operator_name, r.jira_target.project, r.channel,"
        " p.jira_target.project, p.jira_target.issue_type)\n"
    )
    env = {
        **os.environ,
        "TRIAGE_LLM_MODE": mode,
        "TRIAGE_REVIEW_JIRA_PROJECT": "OPS",
        "TRIAGE_REVIEW_SLACK_CHANNEL": "#support-queue",
        "TRIAGE_PAGE_JIRA_PROJECT": "",  # empty: the operator's default
        "TRIAGE_PAGE_JIRA_ISSUE_TYPE": "Incident",
    }
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120, env=env
    ).stdout.split()
    assert out[-5:] == [operator, "OPS", "#support-queue", "ENG", "Incident"]


def test_schedule_is_one_full_utc_day_with_catchup_over_the_sample_range(dag) -> None:
    from airflow.timetables.interval import CronDataIntervalTimetable

    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.catchup is True
    assert dag.start_date.isoformat() == "2025-09-01T00:00:00+00:00"
    # no DAG end_date: Airflow would run no task of a manual run dated after it (the form's "now")
    assert dag.end_date is None and all(t.end_date is None for t in dag.tasks)
    assert dag.timetable.last_day.isoformat() == "2025-11-29"
    assert 1 <= dag.max_active_runs <= 8
    # a data-interval timetable at midnight UTC: each run covers [D 00:00, D+1 00:00) UTC
    assert dag.timetable._expression == "0 0 * * *"
    assert str(dag.timetable._timezone) in ("UTC", "Timezone('UTC')")


def test_the_schedule_stops_at_its_last_day_but_manual_runs_are_not_bounded(dag) -> None:
    """Catchup on a fresh install creates exactly the sample days; a manual run of any date is allowed."""
    from airflow.timetables.base import DataInterval, TimeRestriction

    from llm_operators.schedule import DailyUtcUntil

    tt = DailyUtcUntil(date(2025, 9, 3))
    restriction = TimeRestriction(datetime(2025, 9, 1, tzinfo=UTC), None, catchup=True)
    starts, last = [], None
    while (
        info := tt.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
    ) is not None:
        starts.append(info.data_interval.start.date().isoformat())
        assert info.data_interval.end - info.data_interval.start == timedelta(days=1)
        last = DataInterval(info.data_interval.start, info.data_interval.end)
        assert len(starts) < 10, starts
    assert starts == ["2025-09-01", "2025-09-02", "2025-09-03"]
    unbounded = DailyUtcUntil(None).next_dagrun_info(
        last_automated_data_interval=last, restriction=restriction
    )
    assert unbounded is not None and unbounded.data_interval.start.date() == date(2025, 9, 4)
    # serialised and back (the scheduler sees the deserialised one)
    assert DailyUtcUntil.deserialize(tt.serialize()).last_day == date(2025, 9, 3)
    assert DailyUtcUntil.deserialize(DailyUtcUntil(None).serialize()).last_day is None


def test_the_timetable_is_registered_by_a_plugin() -> None:
    """Airflow serialises only timetables a plugin registers, under the class's import path."""
    from airflow import plugins_manager

    assert "llm_operators.schedule.DailyUtcUntil" in plugins_manager.get_timetables_plugins()


def test_wiring(dag) -> None:
    tasks = {t.task_id: t for t in dag.tasks}
    assert set(tasks) == {
        "plan_batches",
        "merge",
        "triage",
        "gate",
        "auto_reply",
        "manual_review",
        "page_engineering",
        "nothing_to_do",
        "report",
    }
    assert tasks["gate"].downstream_task_ids == {
        "auto_reply",
        "manual_review",
        "page_engineering",
        "nothing_to_do",
    }
    assert tasks["plan_batches"].downstream_task_ids == {"triage"}
    assert tasks["triage"].downstream_task_ids == {"merge"}
    assert "gate" in tasks["merge"].downstream_task_ids
    assert tasks["report"].trigger_rule == "none_failed_min_one_success"
    assert tasks["triage"].pool == "llm_calls"
    assert tasks["triage"].retries >= 1 and tasks["triage"].retry_exponential_backoff
    # the report (after the gate) emits the day's asset event; its identity is not the output root
    assert tasks["merge"].outlets == []
    [asset] = tasks["report"].outlets
    assert (asset.name, asset.uri) == ("ticket_triage_day", "ticket_triage_day")


def test_params_for_ui_triggers(dag) -> None:
    params = dag.params
    for name in (
        "date",
        "max_tickets",
        "min_confidence",
        "dry_run",
        "batch_size",
        "source_root",
        "output_root",
    ):
        assert name in params
    assert params["min_confidence"] == 0.65 and params["dry_run"] is False and params["date"] is None


def test_date_param_help_matches_what_the_form_shows(dag) -> None:
    """format "date" renders a date picker in the browser's locale (mm/dd/yyyy in en-US): the help
    must not tell the user to type YYYY-MM-DD there, only for the API and the CLI."""
    param = dag.params.get_param("date")
    assert param.schema["format"] == "date"
    assert "picker" in param.description and "REST API" in param.description


def test_asset_identity_does_not_depend_on_the_output_root(tmp_path: Path) -> None:
    probe = (
        "import importlib.util, json\n"
        f"spec = importlib.util.spec_from_file_location('d', {str(DAGS / 'ticket_triage.py')!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "print(json.dumps([m.TRIAGED_DAY.name, m.TRIAGED_DAY.uri]))\n"
    )
    seen = set()
    for root in ("/srv/a", "s3://bucket/b"):
        env = {**os.environ, "TRIAGE_OUTPUT_ROOT": root}
        out = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
        )
        seen.add(out.stdout.strip().splitlines()[-1])
    assert len(seen) == 1, seen


def test_templates_never_use_ds_or_the_data_interval() -> None:
    """`{{ ds }}` is undefined for a run with no logical date; the day comes from params/logical_date."""
    sources = [DAGS / "ticket_triage.py", *(REPO / "plugins" / "llm_operators").rglob("*.py")]
    pattern = re.compile(r"\{\{[^}]*\b(ds|ds_nodash|ts|data_interval_start|data_interval_end)\b")
    offenders = [str(p) for p in sources if pattern.search(p.read_text())]
    assert offenders == []


def test_ruff_airflow_rules_are_clean() -> None:
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run(
        [str(ruff), "check", "--select", "AIR", str(DAGS), str(REPO / "plugins")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout


def test_every_templated_argument_is_a_template_field(dag) -> None:
    """A "{{ params.x }}" passed to a field Airflow does not render reaches the task as literal text."""
    for task in dag.tasks:
        kwargs = getattr(task, "partial_kwargs", None) or vars(task)
        fields = set(task.template_fields)
        # map_index_template is rendered by Airflow itself after the task ran
        literal = {k for k, v in kwargs.items() if isinstance(v, str) and "{{" in v} - {"map_index_template"}
        assert literal <= fields, f"{task.task_id}: {sorted(literal - fields)} are not template_fields"


def test_reply_mode_is_one_param_for_the_triage_and_the_gate(dag) -> None:
    """free_text in the gate without the judge in the triage would send every ticket to review."""
    assert dag.params["reply_mode"] == "template"
    assert dag.get_task("gate").reply_mode == "{{ params.reply_mode }}"
    assert dag.get_task("triage").partial_kwargs["reply_mode"] == "{{ params.reply_mode }}"
    assert dag.get_task("triage").partial_kwargs["judge_group"] == "{{ params.judge_group }}"
