"""
### ticket_triage: one UTC day of support tickets, triaged by an LLM ladder, gated, and routed

**Which day a run processes**: the `date` param if given; else the UTC date of the run's logical
date (so `airflow dags test ticket_triage 2025-10-01` processes 2025-10-01, like the scheduled or
backfill run of that date); else, for a run with no logical date, the last complete UTC day before
the run. `plan_batches` says which in its log. A run fails at once, saying what to set, when its
day is not over yet (the Trigger form's default logical date is *now*: clear it, or set `date`) or
when the day has no tickets file (the message lists the days the source has). A run never ends
green having triaged nothing.

**Range**: the schedule (one full UTC day per run, `[D 00:00, D+1 00:00)`) starts at
`TRIAGE_START_DATE` and, with catchup, creates the runs up to `TRIAGE_END_DATE`; both default to
the sample data (2025-09-01 to 2025-11-29), so unpausing a fresh install triages the 90 sample days
and stops. `TRIAGE_END_DATE=none`: the schedule never ends (production). The end bounds only the
schedule: the DAG has no `end_date`, so a run triggered from the form, the REST API or
`airflow dags test` runs its tasks whatever its date.

**Where the day's result is**: the `report` task's XCom (`return_value`, day first) and the
`ticket_triage_day` asset event it emits (same digest: gate split, paged, escalation rate,
cost, tokens, by rung, fallbacks, and `location`, the day's output directory); `report.md` and
`summary.json` in that directory. Mapped `triage` tasks are labelled with their day and batch.

**Tasks**: `plan_batches` (the day's tickets in batches of `batch_size`) -> `triage` (mapped, one
task per batch: LLM ladder, per-ticket checkpoints) -> `merge` (`outcomes.jsonl`) -> `gate`
(branch: auto-reply / manual review / page engineering / nothing to do) -> `report`
(`summary.json`, `report.md`, the asset event). Outputs go to `<output_root>/<YYYY-MM-DD>/`.

**Connections**: `litellm_default` (model ladder; required: fill the model list and ladder, or
choose the offline models with the extra `{"offline": true}`), `redis_default` (LLM cache, shared
limits, side-effect ledger; real Slack/Jira/webhook actions need it), `jira_default`,
`slack_api_default` (absent = local review queue), `triage_reply_webhook` (customer replies; absent =
the outbox is the hand-off), `langfuse_default` (tracing, managed prompt).

**Environment** (read at parse time): `TRIAGE_LLM_MODE=batch` maps the batch-API triage
(`BatchTriageOperator`, deferrable: needs a triggerer) instead of the live one;
`TRIAGE_REVIEW_JIRA_PROJECT`/`_ISSUE_TYPE`, `TRIAGE_PAGE_JIRA_PROJECT`/`_ISSUE_TYPE`,
`TRIAGE_JIRA_PRIORITIES`, `TRIAGE_REVIEW_SLACK_CHANNEL`, `TRIAGE_ONCALL_SLACK_CHANNEL` (empty: SUP/Task,
ENG/Bug, `#triage-review`, `#eng-oncall`).
Logic lives in `plugins/llm_operators`; this file only wires tasks.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Asset, Param

from llm_operators.dag_params import fraction_param
from llm_operators.operators.auto_reply import AutoReplyOperator
from llm_operators.operators.batches import DEFAULT_BATCH_SIZE, MergeBatchesOperator, PlanBatchesOperator
from llm_operators.operators.gate import QualityGateOperator
from llm_operators.operators.manual_review import ManualReviewOperator, PageEngineeringOperator
from llm_operators.operators.report import TriageReportOperator
from llm_operators.operators.triage import TriageOperator
from llm_operators.schedule import DailyUtcUntil

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOURCE_ROOT = os.environ.get("TRIAGE_SOURCE_ROOT") or str(
    PROJECT_ROOT / "include" / "sample_data" / "tickets"
)
OUTPUT_ROOT = os.environ.get("TRIAGE_OUTPUT_ROOT") or str(PROJECT_ROOT / "output")
# Defaults are the sample range, so catchup on a fresh install runs exactly the 90 sample days.
START_DATE = datetime.fromisoformat(os.environ.get("TRIAGE_START_DATE") or "2025-09-01").replace(tzinfo=UTC)
# The schedule's last day. Empty or unset: the sample range's end. "none": no end (production).
# Deliberately not the DAG's end_date, which would also make manual runs after it run no task.
_end = os.environ.get("TRIAGE_END_DATE") or "2025-11-29"
SCHEDULE_LAST_DAY = None if _end.lower() == "none" else date.fromisoformat(_end)
LLM_POOL = os.environ.get("TRIAGE_LLM_POOL", "llm_calls")
RETRIES = int(os.environ.get("TRIAGE_TASK_RETRIES", "3"))  # tests set 0 to fail fast
# live: one request per LLM call; batch: the ladder in rounds on provider batch APIs (about half the
# price, results within hours). Read here, not from the connection: the DAG file never reads one.
LLM_MODE = os.environ.get("TRIAGE_LLM_MODE", "live").strip().lower() or "live"
if LLM_MODE not in ("live", "batch"):
    raise ValueError(f"TRIAGE_LLM_MODE={LLM_MODE!r}: expected 'live' or 'batch'")
if LLM_MODE == "batch":  # imported only when chosen: every parse pays for what the file imports
    from llm_operators.operators.batch_triage import BatchTriageOperator as TRIAGE_OPERATOR
else:
    TRIAGE_OPERATOR = TriageOperator


def _setting(name: str) -> str | None:
    """An optional deployment setting from the environment; empty means the operator's default."""
    return os.environ.get(name) or None


REVIEW_TARGETS = {
    "jira_project": _setting("TRIAGE_REVIEW_JIRA_PROJECT"),
    "jira_issue_type": _setting("TRIAGE_REVIEW_JIRA_ISSUE_TYPE"),
    "jira_priorities": _setting("TRIAGE_JIRA_PRIORITIES"),
    "slack_channel": _setting("TRIAGE_REVIEW_SLACK_CHANNEL"),
}
PAGE_TARGETS = {
    "jira_project": _setting("TRIAGE_PAGE_JIRA_PROJECT"),
    "jira_issue_type": _setting("TRIAGE_PAGE_JIRA_ISSUE_TYPE"),
    "jira_priorities": _setting("TRIAGE_JIRA_PRIORITIES"),
    "slack_channel": _setting("TRIAGE_ONCALL_SLACK_CHANNEL"),
}

# One identity wherever outputs are written (Airflow keeps one active asset per name, so a URI built
# from the output root breaks when the root changes); each event's extra says where its day's files are.
# A new name, not the former `ticket_triage_outcomes`: an existing metadata DB keeps that name active
# under its old file:// URI, and an outlet reusing the name would fail as an inactive asset.
TRIAGED_DAY = Asset(name="ticket_triage_day", group="ticket_triage")

with DAG(
    dag_id="ticket_triage",
    description="Triage one UTC day of support tickets with an LLM ladder, gate, and route them",
    doc_md=__doc__,
    schedule=DailyUtcUntil(SCHEDULE_LAST_DAY),  # one full UTC day per run; no DAG end_date (doc above)
    start_date=START_DATE,
    catchup=True,
    max_active_runs=4,
    render_template_as_native_obj=True,
    default_args={
        "owner": "support-platform",
        "retries": RETRIES,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
    },
    params={
        "date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Day to process (UTC)",
            description="Pick the UTC day to triage (the picker shows dates in your browser's format; the "
            "REST API and `airflow dags test -c` take YYYY-MM-DD). Empty: the day of the logical date, "
            "or the last complete UTC day for a run without one.",
        ),
        "max_tickets": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            description="Triage at most this many tickets of the day (a trial run)",
        ),
        "min_confidence": fraction_param(
            0.65, "Gate: below this confidence a ticket goes to manual review", optional=False
        ),
        "escalate_below": fraction_param(
            None,
            "Ladder: climb to the next model below this confidence "
            "(empty = the litellm connection's setting, default 0.7)",
        ),
        "max_cost_usd": Param(
            None,
            type=["null", "number"],
            minimum=0,
            description="Budget for the run; once spent, no more escalations",
        ),
        "batch_size": Param(
            int(os.environ.get("TRIAGE_BATCH_SIZE") or DEFAULT_BATCH_SIZE),
            type="integer",
            minimum=1,
            description="Tickets per mapped triage task (memory per task is bounded by this)",
        ),
        "reply_mode": Param(
            "template",
            enum=["template", "free_text"],
            description="template: customers only ever get an approved reply template, rendered by code; "
            "free_text: the model's own reply, sent only once a judge model approved it (riskier: see the "
            "README)",
        ),
        "judge_group": Param(
            None,
            type=["null", "string"],
            description="free_text: the model group of the judge (empty: the ladder's top rung)",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            description="Perform no external action (replies, Jira, Slack); log what would happen",
        ),
        "ticket_source": Param(
            os.environ.get("TRIAGE_TICKET_SOURCE", "files"),
            enum=["files", "jira"],
            description="files: <source_root>/<day>.jsonl; jira: issues created that day in jira_project",
        ),
        "jira_project": Param(
            os.environ.get("TRIAGE_JIRA_SOURCE_PROJECT", "HELP"),
            type="string",
            description="Jira Service Management project read when ticket_source=jira",
        ),
        "source_root": Param(SOURCE_ROOT, type="string", description="Ticket files root (path or URL)"),
        "output_root": Param(OUTPUT_ROOT, type="string", description="Outputs root (path or URL)"),
    },
    tags=["llm", "support"],
) as dag:
    plan = PlanBatchesOperator(
        task_id="plan_batches",
        source_root="{{ params.source_root }}",
        run_date="{{ params.date }}",
        batch_size="{{ params.batch_size }}",
        max_tickets="{{ params.max_tickets }}",
        ticket_source="{{ params.ticket_source }}",
        jira_project="{{ params.jira_project }}",
    )
    triage = TRIAGE_OPERATOR.partial(
        task_id="triage",
        source_root="{{ params.source_root }}",
        output_root="{{ params.output_root }}",
        escalate_below="{{ params.escalate_below }}",
        max_cost_usd="{{ params.max_cost_usd }}",
        ticket_source="{{ params.ticket_source }}",
        jira_project="{{ params.jira_project }}",
        reply_mode="{{ params.reply_mode }}",
        judge_group="{{ params.judge_group }}",
        pool=LLM_POOL,
        # the grid and the mapped-task list show "2025-10-01 batch 1/3" instead of a bare index
        map_index_template="{{ task.batch.day }} batch {{ task.batch.index + 1 }}/{{ task.batch.of }}",
    ).expand(batch=plan.output)
    merge = MergeBatchesOperator(
        task_id="merge", batches=triage.output, output_root="{{ params.output_root }}"
    )
    gate = QualityGateOperator(
        task_id="gate",
        triage_summary=merge.output,
        output_root="{{ params.output_root }}",
        min_confidence="{{ params.min_confidence }}",
        reply_mode="{{ params.reply_mode }}",  # the same as the triage's: free_text needs the judge
    )
    common = {
        "triage_summary": merge.output,
        "output_root": "{{ params.output_root }}",
        "dry_run": "{{ params.dry_run }}",
    }
    branches = [
        AutoReplyOperator(task_id="auto_reply", **common),
        ManualReviewOperator(task_id="manual_review", **common, **REVIEW_TARGETS),
        PageEngineeringOperator(task_id="page_engineering", **common, **PAGE_TARGETS),
        EmptyOperator(task_id="nothing_to_do"),
    ]
    report = TriageReportOperator(
        task_id="report",
        triage_summary=merge.output,
        output_root="{{ params.output_root }}",
        trigger_rule="none_failed_min_one_success",
        outlets=[TRIAGED_DAY],
    )
    gate >> branches >> report
