"""`TriageOperator`: triage one UTC day of tickets and return a small summary through XCom."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseOperator, Context

from llm_operators.core.ladder import Budget, Ladder, LadderPolicy
from llm_operators.core.prompts import PROMPT_VERSION
from llm_operators.core.report import render_days_table, render_models_table
from llm_operators.core.run_day import resolve_run_day
from llm_operators.core.triage_run import DayPlan, triage_day
from llm_operators.hooks.litellm import LiteLLMHook
from llm_operators.operators._shared import day_outputs, storage_path, tracing_for


class TriageOperator(BaseOperator):
    """Reads `<source_root>/<day>.jsonl`, climbs the model ladder per ticket, writes `outcomes.jsonl`.

    The day is `run_date` (templated, e.g. from `params.date`) if set, else the UTC date of the
    logical date, else the last complete UTC day. Returns the day's `TriageSummary` plus the output
    directory: paths and counts, never tickets.
    """

    template_fields: Sequence[str] = (
        "source_root",
        "output_root",
        "run_date",
        "max_tickets",
        "escalate_below",
        "concurrency",
        "max_cost_usd",
    )
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        source_root: str,
        output_root: str,
        run_date: str | None = None,
        max_tickets: int | None = None,
        escalate_below: float | None = None,
        concurrency: int | None = None,
        max_cost_usd: float | None = None,
        max_unresolved_share: float = 0.5,
        litellm_conn_id: str = LiteLLMHook.default_conn_name,
        redis_conn_id: str | None = "redis_default",
        langfuse_conn_id: str | None = "langfuse_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_root = source_root
        self.output_root = output_root
        self.run_date = run_date
        self.max_tickets = max_tickets
        self.escalate_below = escalate_below
        self.concurrency = concurrency
        self.max_cost_usd = max_cost_usd
        self.max_unresolved_share = max_unresolved_share
        self.litellm_conn_id = litellm_conn_id
        self.redis_conn_id = redis_conn_id
        self.langfuse_conn_id = langfuse_conn_id

    def _overrides(self) -> dict[str, Any]:
        """Task arguments/params beat the connection's defaults; None means 'not set here'."""
        pairs = {
            "escalate_below": self.escalate_below,
            "concurrency": self.concurrency,
            "max_cost_usd": self.max_cost_usd,
        }
        return {k: v for k, v in pairs.items() if v not in (None, "", "None")}

    def execute(self, context: Context) -> dict[str, Any]:
        run_day = resolve_run_day(self.run_date, context.get("logical_date"), datetime.now(UTC))
        self.log.info("%s", run_day.describe())
        day = run_day.day.isoformat()

        hook = LiteLLMHook(
            self.litellm_conn_id, redis_conn_id=self.redis_conn_id, settings_overrides=self._overrides()
        )
        settings = hook.settings
        router = hook.get_conn()
        dag_run = context.get("dag_run")
        run_id = getattr(dag_run, "run_id", None) or "manual"
        tracing = tracing_for(self.langfuse_conn_id, run_id=run_id, dag_id=self.dag_id, day=day)
        tracing.install()
        ladder = Ladder(
            LadderPolicy(
                rungs=settings.ladder,
                escalate_below=settings.escalate_below,
                repair_attempts=settings.repair_attempts,
                max_body_chars=settings.max_body_chars,
                redact_pii_for_llm=settings.redact_pii_for_llm,
            ),
            caller=tracing.wrap_caller(router.call),
            budget=Budget(limit_usd=settings.max_cost_usd),
        )
        fingerprint = hashlib.sha256(
            json.dumps([PROMPT_VERSION, settings.model_dump(mode="json")], sort_keys=True).encode()
        ).hexdigest()[:16]
        outputs = day_outputs(self.output_root, day)
        plan = DayPlan(
            source_root=storage_path(self.source_root),
            outputs=outputs,
            day=run_day.day,
            concurrency=settings.concurrency,
            max_tickets=int(self.max_tickets) if self.max_tickets not in (None, "", "None") else None,
            max_unresolved_share=self.max_unresolved_share,
            fingerprint=fingerprint,
            trace_metadata=lambda t: {
                "session_id": run_id,
                "trace_name": f"ticket {t.id}",
                "ticket_id": t.id,
            },
        )
        self.log.info(
            "ladder %s, escalate below %.2f, concurrency %d, source %s",
            " -> ".join(settings.ladder),
            settings.escalate_below,
            settings.concurrency,
            self.source_root,
        )
        try:
            result = triage_day(plan, ladder)
        finally:
            router.close()
            tracing.shutdown()  # flushes: a short task must not lose its batched spans
        summary = result.summary
        if result.resumed:
            self.log.info(
                "resumed from checkpoint: %d tickets already triaged before this attempt", result.resumed
            )
        self.log.info(
            "triage of %s done:\n%s\n\n%s", day, render_days_table([summary]), render_models_table([summary])
        )
        self.log.info("outcomes: %s", outputs.outcomes)
        payload = {
            **summary.model_dump(mode="json"),
            "output_dir": str(outputs.dir),
            "run_id": run_id,
            "offline": hook.offline,
        }
        for outlet in self.outlets:  # the per-day totals, visible on the asset's events in the UI
            context["outlet_events"][outlet].extra = {
                k: payload[k]
                for k in (
                    "day",
                    "tickets",
                    "escalated",
                    "unresolved",
                    "calls",
                    "cache_hits",
                    "cost_usd",
                    "cache_savings_usd",
                    "by_model",
                    "output_dir",
                )
            }
        return payload
