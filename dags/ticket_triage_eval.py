"""
### ticket_triage_eval: how good the triage is over a range of days, and which thresholds to use

Reads `outcomes.jsonl` of days `ticket_triage` already triaged and scores their labelled tickets
(per field accuracy and macro-F1, per rung and per final model, confusion matrices, calibration of
the confidence, the gate's auto-reply error and P0/P1 recall), replays `escalate_below` x
`min_confidence` over the recorded answers (0 new LLM calls) and recommends the cheapest point that
meets the targets in params. `report.md`, its PNGs and `evaluation.json` go to
`<output_root>/evaluation/<start>_<end>/`; the `evaluate` task's XCom has the figures.

With `ask_every_rung` on, the range is first triaged again into `eval_output_root` with every rung
asked for every ticket (no reply, Jira or Slack action), so every point of the replay is covered;
the evaluation then reads that root. With Langfuse configured (connection `langfuse_default` or
LANGFUSE_* env), the evaluation is also a dataset run in Langfuse (`langfuse_dataset`,
`langfuse_run_name`): labelled tickets as items, their triage traces linked, one score per field.
Same figures from the CLI:
`python -m llm_operators.cli evaluate --output-root OUT START..END`. See docs/evaluation.md.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from airflow.sdk import DAG, Param

from llm_operators.dag_params import fraction_param
from llm_operators.operators.evaluation import EvaluationOperator, EvaluationTriageOperator

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOURCE_ROOT = os.environ.get("TRIAGE_SOURCE_ROOT") or str(
    PROJECT_ROOT / "include" / "sample_data" / "tickets"
)
OUTPUT_ROOT = os.environ.get("TRIAGE_OUTPUT_ROOT") or str(PROJECT_ROOT / "output")

with DAG(
    dag_id="ticket_triage_eval",
    description="Evaluate triaged days against their labels and choose thresholds from the data",
    doc_md=__doc__,
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["ticket_triage", "evaluation"],
    params={
        "start": Param("2025-10-01", type="string", format="date", description="first day (UTC)"),
        "end": Param("2025-10-03", type="string", format="date", description="last day (UTC), inclusive"),
        "output_root": Param(OUTPUT_ROOT, type="string", description="where ticket_triage wrote the days"),
        "source_root": Param(SOURCE_ROOT, type="string", description="ticket files (ask_every_rung only)"),
        "ask_every_rung": Param(
            False, type="boolean", description="triage the range again, every rung asked"
        ),
        "eval_output_root": Param(
            str(Path(OUTPUT_ROOT) / "eval_triage"),
            type="string",
            description="outputs of ask_every_rung runs",
        ),
        "escalate_below": fraction_param(None, "live ladder threshold (empty: the litellm connection's)"),
        "min_confidence": fraction_param(0.65, "live gate threshold", optional=False),
        "max_auto_error": fraction_param(0.02, "target: auto-reply error rate at most"),
        "min_p0p1_recall": fraction_param(0.99, "target: labelled P0/P1 paged at least"),
        "min_accuracy": fraction_param(None, "target: category and priority right at least"),
        "langfuse_dataset": Param(
            "ticket-triage-labelled",
            type="string",
            minLength=1,
            description="Langfuse dataset of the labelled tickets (used when Langfuse is configured)",
        ),
        "langfuse_run_name": Param(
            "",
            type="string",
            description="Langfuse dataset run name (empty: prompt@version | final models)",
        ),
    },
    render_template_as_native_obj=True,
) as dag:
    triage_every_rung = EvaluationTriageOperator(
        task_id="triage_every_rung",
        enabled="{{ params.ask_every_rung }}",
        start="{{ params.start }}",
        end="{{ params.end }}",
        source_root="{{ params.source_root }}",
        output_root="{{ params.eval_output_root }}",
        escalate_below="{{ params.escalate_below }}",
        min_confidence="{{ params.min_confidence }}",
    )
    evaluate = EvaluationOperator(
        task_id="evaluate",
        trigger_rule="none_failed",  # runs after a skipped triage_every_rung too
        start="{{ params.start }}",
        end="{{ params.end }}",
        output_root="{{ params.eval_output_root if params.ask_every_rung else params.output_root }}",
        max_auto_error="{{ params.max_auto_error }}",
        min_p0p1_recall="{{ params.min_p0p1_recall }}",
        min_accuracy="{{ params.min_accuracy }}",
        langfuse_dataset="{{ params.langfuse_dataset }}",
        langfuse_run_name="{{ params.langfuse_run_name }}",
    )
    triage_every_rung >> evaluate
