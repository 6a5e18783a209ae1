"""`TriageOperator`: triage one UTC day of tickets, or one mapped batch of it, through the ladder."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from airflow.sdk import Context

from llm_operators.core.batches import BatchSpec
from llm_operators.core.budget import LocalSpend, RedisSpend, RunBudget
from llm_operators.core.config import LiteLLMSettings
from llm_operators.core.fingerprint import ladder_fingerprint
from llm_operators.core.ladder import Ladder
from llm_operators.core.report import render_days_table, render_models_table
from llm_operators.core.triage_run import DayPlan, triage_day
from llm_operators.hooks.litellm import LiteLLMHook
from llm_operators.hooks.redis_settings import redis_settings
from llm_operators.llm.lazy_router import LazyRouter
from llm_operators.operators.connections import connection_exists
from llm_operators.operators.observability import prompt_source_for, tracing_for
from llm_operators.operators.triage_common import TRIAGE_TEMPLATE_FIELDS, TriageTaskBase, run_id_of


class TriageOperator(TriageTaskBase):
    """Reads `<source_root>/<day>.jsonl`, climbs the model ladder per ticket, writes `outcomes.jsonl`.

    With `batch` (a `BatchSpec` from `PlanBatchesOperator`, the argument dynamic task mapping expands
    over) it triages that window of the day into `<day>/batches/<index>/`. Without it, it triages the
    whole day, which is `run_date` (templated, e.g. from `params.date`) if set, else the UTC date of
    the logical date, else the last complete UTC day. Returns a `TriageSummary` plus the output
    directory: paths and counts, never tickets.

    The triage rules come from Langfuse prompt management when the Langfuse connection exists (else
    the bundled rules). `reply_mode` ("template" or "free_text", then a `judge_group` may name the
    judge's model group), `reply_templates` and `spotlight` choose what the models are shown and
    asked; the quality gate must be given the same `reply_mode` and `reply_templates`.
    """

    template_fields: Sequence[str] = (*TRIAGE_TEMPLATE_FIELDS, "concurrency")
    settings_override_fields = ("escalate_below", "concurrency", "max_cost_usd")
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        concurrency: int | None = None,
        max_unresolved_share: float = 0.5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.concurrency = concurrency
        self.max_unresolved_share = max_unresolved_share

    def _budget(self, settings: LiteLLMSettings, spec: BatchSpec | None, run_id: str, day: date) -> RunBudget:
        """The run's budget: one Redis counter for all its batches and attempts when Redis exists.

        Without Redis each batch gets its share (nothing else can add up the batches' spend), and a
        retry starts from what its checkpoint says earlier attempts spent (core/triage_run.py).
        """
        limit = settings.max_cost_usd
        if limit is not None and connection_exists(self.redis_conn_id):
            assert self.redis_conn_id is not None
            key = f"{settings.cache_namespace}:budget:{self.dag_id}:{run_id}:{day.isoformat()}"
            self.log.info("budget $%.4f for the whole run, counted in Redis (%s)", limit, key)
            return RunBudget(
                limit_usd=limit, counter=RedisSpend(redis_settings(self.redis_conn_id).client(), key)
            )
        if limit is not None and spec is not None:
            limit *= spec.share
            self.log.info("no Redis: budget split by batch, $%.4f for this one", limit)
        return RunBudget(limit_usd=limit, counter=LocalSpend())

    def execute(self, context: Context) -> dict[str, Any]:
        window = self._window(context)
        spec, day, outputs = window.spec, window.day, window.outputs
        if spec:
            self.log.info(
                "batch %d of %d of %s: items %d..%d",
                spec.index + 1,
                spec.of,
                day,
                spec.first,
                spec.first + spec.count - 1,
            )

        choices, catalogue = self._choices()
        prompt = prompt_source_for(self.langfuse_conn_id).resolve()
        hook = self._hook(LiteLLMHook, catalogue, prompt)
        settings = hook.settings
        policy = self._policy(settings, choices, catalogue, prompt)
        router = LazyRouter(hook.get_conn)  # not built at all if every ticket is reused
        run_id = run_id_of(context)
        tracing = tracing_for(
            self.langfuse_conn_id, run_id=run_id, dag_id=self.dag_id, day=day.isoformat(), prompt=prompt
        )
        tracing.install()
        ladder = Ladder(
            policy,
            caller=tracing.wrap_caller(router.call),
            budget=self._budget(settings, spec, run_id, day),
        )
        plan = DayPlan(
            source=self._source(),
            outputs=outputs,
            day=day,
            concurrency=settings.concurrency,
            max_tickets=None if spec else self.max_tickets,
            first=spec.first if spec else 0,
            count=spec.count if spec else None,
            max_unresolved_share=self.max_unresolved_share,
            # outcomes computed under other settings (ladder, prompt, reply mode) are not reused
            fingerprint=ladder_fingerprint(settings, policy),
            run_id=run_id,
            trace_metadata=lambda t: tracing.metadata_for(t.id),
            trace_done=lambda t: tracing.end_ticket(t.id),
        )
        self.log.info(
            "ladder %s, escalate below %.2f, concurrency %d, source %s, prompt %s, reply mode %s",
            " -> ".join(settings.ladder),
            settings.escalate_below,
            settings.concurrency,
            self.source_root if self.ticket_source == "files" else f"jira {self.jira_project}",
            prompt.ref,
            policy.reply_mode,
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
        if result.reused:
            self.log.info(
                "%d tickets reused from an earlier run under the same fingerprint%s",
                result.reused,
                "" if router.built else "; no LLM client built",
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
            "batch": spec.model_dump() if spec else None,
        }
        self._publish(context, payload)
        return payload
