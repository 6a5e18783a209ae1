"""`TriageReportOperator`: the day's `summary.json` and `report.md`, after whichever branches ran.

It is the first task that knows the whole day (triage and gate), so it also returns the day's
digest as XCom and puts it, with where the files are, on its outlet assets' events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context

from llm_operators.core.models import TicketOutcome
from llm_operators.core.outputs import read_jsonl, write_json
from llm_operators.core.report import (
    day_digest,
    render_days_table,
    render_markdown,
    render_models_table,
    render_rungs_table,
    summarise,
)
from llm_operators.operators.storage import day_outputs

OUTPUT_FILES = ("outcomes.jsonl", "outbox.jsonl", "review.jsonl", "review_actions.jsonl", "rejected.jsonl")


class TriageReportOperator(BaseOperator):
    template_fields: Sequence[str] = ("triage_summary", "output_root")

    def __init__(self, *, triage_summary: Any, output_root: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.triage_summary = triage_summary
        self.output_root = output_root

    def execute(self, context: Context) -> dict[str, Any]:
        day = self.triage_summary["day"]
        outputs = day_outputs(self.output_root, day)
        summary = summarise(
            day,
            read_jsonl(outputs.outcomes, TicketOutcome),
            rejected_lines=self.triage_summary.get("rejected_lines", 0),
        )
        files = {name: str(outputs.path(name)) for name in OUTPUT_FILES if outputs.path(name).exists()}
        data = {
            **summary.model_dump(mode="json"),
            "run_id": context["run_id"],
            "offline": self.triage_summary.get("offline"),
            "files": files,
        }
        write_json(outputs.summary, data)
        with outputs.report.open("w") as fh:
            fh.write(render_markdown(summary, files))
        digest = day_digest(
            summary,
            offline=self.triage_summary.get("offline"),
            run_id=context["run_id"],
            location=str(outputs.dir),
            report=str(outputs.report),
        )
        # The asset's identity is fixed (not the output root); the event says where this day's files are.
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = digest
        self.log.info(
            "day %s:\n%s\n\n%s\n\n%s",
            day,
            render_days_table([summary]),
            render_rungs_table(summary),
            render_models_table([summary]),
        )
        self.log.info("report: %s  summary: %s", outputs.report, outputs.summary)
        return digest
