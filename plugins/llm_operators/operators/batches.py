"""Scale-out inside a day: plan batches for dynamic task mapping, then merge the mapped results.

`plan_batches` -> `triage` (mapped over the batches; Celery/Kubernetes spread them over workers)
-> `merge` -> `gate`. A small day is one batch, so the shape is the same for every day.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context

from llm_operators.core.batches import BatchSpec, merge_batches, plan_batches
from llm_operators.core.models import TicketOutcome
from llm_operators.core.outputs import read_jsonl
from llm_operators.core.report import render_days_table, render_models_table, summarise
from llm_operators.core.run_day import FROM_LOGICAL_DATE
from llm_operators.operators.sources import open_ticket_source
from llm_operators.operators.storage import day_outputs, require_day_file, run_day_for

DEFAULT_BATCH_SIZE = 2000


class PlanBatchesOperator(BaseOperator):
    """Resolves the run's day, counts its items and returns one `BatchSpec` per mapped triage task."""

    template_fields: Sequence[str] = (
        "source_root",
        "run_date",
        "batch_size",
        "max_tickets",
        "ticket_source",
        "jira_project",
    )

    def __init__(
        self,
        *,
        source_root: str,
        run_date: str | None = None,
        batch_size: int | str = DEFAULT_BATCH_SIZE,
        max_tickets: int | str | None = None,
        ticket_source: str = "files",
        jira_conn_id: str | None = "jira_default",
        jira_project: str = "HELP",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_root = source_root
        self.ticket_source = ticket_source
        self.jira_conn_id = jira_conn_id
        self.jira_project = jira_project
        self.run_date = run_date
        self.batch_size = batch_size
        self.max_tickets = max_tickets

    def execute(self, context: Context) -> list[dict[str, Any]]:
        run_day = run_day_for(self.run_date, context, self.log)
        day = run_day.day
        if self.ticket_source == "files":
            run_type = str(getattr(context.get("dag_run"), "run_type", "") or "")
            scheduled = run_type.endswith(("scheduled", "backfill")) and run_day.source == FROM_LOGICAL_DATE
            require_day_file(self.source_root, run_day, scheduled=scheduled)
        source = open_ticket_source(
            self.ticket_source, self.source_root, self.jira_conn_id, self.jira_project
        )
        items = source.count(day)
        # params render natively (render_template_as_native_obj): an int, or None for an empty field
        batch_size = int(self.batch_size or DEFAULT_BATCH_SIZE)
        max_tickets = None if self.max_tickets is None else int(self.max_tickets)
        specs = plan_batches(day.isoformat(), items, batch_size, max_tickets)
        self.log.info("%s: %d lines -> %d batch(es) of up to %d", day, items, len(specs), batch_size)
        return [s.model_dump() for s in specs]


class MergeBatchesOperator(BaseOperator):
    """Streams the batches' outcomes into the day's files and returns the day's triage summary.

    The gate has not run yet, so neither the log nor the XCom has a gate split; the day's full
    result (and the asset event) comes from the report task.
    """

    template_fields: Sequence[str] = ("batches", "output_root")

    def __init__(self, *, batches: Any, output_root: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batches = batches  # the mapped triage tasks' summaries (each carries day and batch index)
        self.output_root = output_root

    def execute(self, context: Context) -> dict[str, Any]:
        summaries = list(self.batches)
        specs = [BatchSpec.model_validate(s["batch"]) for s in summaries]
        specs.sort(key=lambda s: s.index)
        day = specs[0].day
        outputs = day_outputs(self.output_root, day)
        tickets, rejected = merge_batches(outputs, specs)
        summary = summarise(day, read_jsonl(outputs.outcomes, TicketOutcome), rejected_lines=rejected)
        self.log.info(
            "merged %d batch(es) of %s: %d tickets, %d rejected lines (the gate decides next)\n%s\n\n%s",
            len(specs),
            day,
            tickets,
            rejected,
            render_days_table([summary]),
            render_models_table([summary]),
        )
        payload = {
            **summary.model_dump(mode="json"),
            "output_dir": str(outputs.dir),
            "run_id": summaries[0]["run_id"],
            "offline": all(s["offline"] for s in summaries),
            "batches": len(specs),
        }
        return payload
