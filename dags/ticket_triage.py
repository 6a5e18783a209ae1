"""
### ticket_triage: one UTC day of support tickets, triaged by an LLM ladder, gated, and routed

**Which day**: `params.date` if given, else the UTC date of the run's logical date (so
`airflow dags test ticket_triage 2025-10-01` processes 2025-10-01, like the scheduled or backfill run
of that date), else the last complete UTC day before the run (said in the triage log).

**Tasks**: `plan_batches` (the day's tickets in batches of `batch_size`) -> `triage` (mapped, one
task per batch: LLM ladder, per-ticket checkpoints) -> `merge` (`outcomes.jsonl`, asset event with
the day's totals) -> `gate` (branch: auto-reply / manual review / page engineering / nothing to do)
-> `report` (`summary.json`, `report.md`). Outputs go to `<output_root>/<YYYY-MM-DD>/`.

**Connections**: `litellm_default` (model ladder; absent = offline model), `redis_default` (LLM cache
and side-effect ledger), `jira_default`, `slack_api_default` (absent = local review queue).
Logic lives in `plugins/llm_operators`; this file only wires tasks.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, Param

from llm_operators.operators.auto_reply import AutoReplyOperator
from llm_operators.operators.batches import DEFAULT_BATCH_SIZE, MergeBatchesOperator, PlanBatchesOperator
from llm_operators.operators.gate import QualityGateOperator
from llm_operators.operators.manual_review import ManualReviewOperator, PageEngineeringOperator
from llm_operators.operators.report import TriageReportOperator
from llm_operators.operators.triage import TriageOperator

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOURCE_ROOT = os.environ.get("TRIAGE_SOURCE_ROOT") or str(
    PROJECT_ROOT / "include" / "sample_data" / "tickets"
)
OUTPUT_ROOT = os.environ.get("TRIAGE_OUTPUT_ROOT") or str(PROJECT_ROOT / "output")
# Defaults are the sample range, so catchup on a fresh install runs exactly the 90 sample days.
START_DATE = datetime.fromisoformat(os.environ.get("TRIAGE_START_DATE") or "2025-09-01").replace(tzinfo=UTC)
# Empty or unset: the sample range's end. "none": no end date (production keeps running).
_end = os.environ.get("TRIAGE_END_DATE") or "2025-11-29"
END_DATE = None if _end.lower() == "none" else datetime.fromisoformat(_end).replace(tzinfo=UTC)
LLM_POOL = os.environ.get("TRIAGE_LLM_POOL", "llm_calls")
RETRIES = int(os.environ.get("TRIAGE_TASK_RETRIES", "3"))  # tests set 0 to fail fast

TRIAGED_DAY = Asset(
    name="ticket_triage_outcomes", uri=f"file://{OUTPUT_ROOT}/outcomes", group="ticket_triage"
)

with DAG(
    dag_id="ticket_triage",
    description="Triage one UTC day of support tickets with an LLM ladder, gate, and route them",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),  # one full UTC day per run
    start_date=START_DATE,
    end_date=END_DATE,
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
            description="UTC day to process (YYYY-MM-DD); empty = the run's logical date",
        ),
        "max_tickets": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            description="Triage at most this many tickets of the day (a trial run)",
        ),
        "min_confidence": Param(
            0.65,
            type="number",
            minimum=0,
            maximum=1,
            description="Gate: below this confidence a ticket goes to manual review",
        ),
        "escalate_below": Param(
            None,
            type=["null", "number"],
            minimum=0,
            maximum=1,
            description="Ladder: climb to the next model below this confidence "
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
    triage = TriageOperator.partial(
        task_id="triage",
        source_root="{{ params.source_root }}",
        output_root="{{ params.output_root }}",
        escalate_below="{{ params.escalate_below }}",
        max_cost_usd="{{ params.max_cost_usd }}",
        ticket_source="{{ params.ticket_source }}",
        jira_project="{{ params.jira_project }}",
        pool=LLM_POOL,
    ).expand(batch=plan.output)
    merge = MergeBatchesOperator(
        task_id="merge", batches=triage.output, output_root="{{ params.output_root }}", outlets=[TRIAGED_DAY]
    )
    gate = QualityGateOperator(
        task_id="gate",
        triage_summary=merge.output,
        output_root="{{ params.output_root }}",
        min_confidence="{{ params.min_confidence }}",
    )
    common = {
        "triage_summary": merge.output,
        "output_root": "{{ params.output_root }}",
        "dry_run": "{{ params.dry_run }}",
    }
    branches = [
        AutoReplyOperator(task_id="auto_reply", **common),
        ManualReviewOperator(task_id="manual_review", **common),
        PageEngineeringOperator(task_id="page_engineering", **common),
        EmptyOperator(task_id="nothing_to_do"),
    ]
    report = TriageReportOperator(
        task_id="report",
        triage_summary=merge.output,
        output_root="{{ params.output_root }}",
        trigger_rule="none_failed_min_one_success",
    )
    gate >> branches >> report
