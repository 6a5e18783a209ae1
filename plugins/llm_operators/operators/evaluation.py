"""The `ticket_triage_eval` DAG's operators: thin shells over core/eval_triage.py and
core/evaluation_run.py (the CLI's `evaluate` runs the same core)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException


def _range(start: str, end: str) -> list[str]:
    from llm_operators.core.evaluation_run import EvaluationInputError, days_between

    try:
        return days_between(date.fromisoformat(str(start)), date.fromisoformat(str(end or start)))
    except (ValueError, EvaluationInputError) as exc:
        raise AirflowFailException(f"params start={start!r}, end={end!r}: {exc}") from None


def _optional_float(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def _optional_str(value: Any) -> str | None:
    """A templated string param: None (native rendering of an empty field) or "" mean unset."""
    return None if value in (None, "") else str(value)


class EvaluationTriageOperator(BaseOperator):
    """Triages the range again with every rung asked (no reply, Jira or Slack action), into its own
    output root, so the threshold replay covers every point. Skipped unless `enabled`."""

    template_fields: Sequence[str] = (
        "enabled",
        "start",
        "end",
        "source_root",
        "output_root",
        "escalate_below",
        "min_confidence",
    )

    def __init__(
        self,
        *,
        enabled: bool | str,
        start: str,
        end: str,
        source_root: str,
        output_root: str,
        escalate_below: float | str | None = None,
        min_confidence: float | str = 0.65,
        litellm_conn_id: str = "litellm_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.enabled = enabled
        self.start = start
        self.end = end
        self.source_root = source_root
        self.output_root = output_root
        self.escalate_below = escalate_below
        self.min_confidence = min_confidence
        self.litellm_conn_id = litellm_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        if str(self.enabled).lower() not in ("true", "1"):
            raise AirflowSkipException("ask_every_rung is off: evaluating the outcomes already on record")
        from llm_operators.core.day_source import FileTicketSource
        from llm_operators.core.eval_triage import ASK_EVERY_RUNG, triage_for_evaluation
        from llm_operators.core.gate import GateRules
        from llm_operators.core.ladder import Ladder
        from llm_operators.core.outputs import DayOutputs
        from llm_operators.core.triage_policy import settings_policy
        from llm_operators.core.triage_run import DayPlan
        from llm_operators.hooks.litellm import LiteLLMHook
        from llm_operators.operators.storage import storage_path

        hook = LiteLLMHook(self.litellm_conn_id)
        settings = hook.settings
        live_e = _optional_float(self.escalate_below) or settings.escalate_below
        rules = GateRules.parse({"min_confidence": float(self.min_confidence)}, "params.min_confidence")
        router = hook.get_conn()
        ladder = Ladder(
            settings_policy(settings, escalate_below=ASK_EVERY_RUNG),
            caller=router.call,
        )
        root = storage_path(self.output_root)
        totals = {"days": 0, "tickets": 0, "calls": 0, "cost_usd": 0.0}
        try:
            for day in _range(self.start, self.end):
                plan = DayPlan(
                    source=FileTicketSource(storage_path(self.source_root)),
                    outputs=DayOutputs(root, day),
                    day=date.fromisoformat(day),
                    concurrency=settings.concurrency,
                )
                r = triage_for_evaluation(plan, ladder, live_escalate_below=live_e, rules=rules)
                self.log.info(
                    "%s: %d tickets, every rung asked: %d calls, $%.4f", day, r.tickets, r.calls, r.cost_usd
                )
                totals["days"] += 1
                totals["tickets"] += r.tickets
                totals["calls"] += r.calls
                totals["cost_usd"] += r.cost_usd
        finally:
            router.close()
        return totals


class EvaluationOperator(BaseOperator):
    """Scores the range's labelled tickets, replays the thresholds, writes report.md and its PNGs;
    returns the `--json` figures and the recommendation (small: XCom)."""

    template_fields: Sequence[str] = (
        "start",
        "end",
        "output_root",
        "report_dir",
        "max_auto_error",
        "min_p0p1_recall",
        "min_accuracy",
        "langfuse_dataset",
        "langfuse_run_name",
    )

    def __init__(
        self,
        *,
        start: str,
        end: str,
        output_root: str,
        report_dir: str = "",
        max_auto_error: float | str | None = None,
        min_p0p1_recall: float | str | None = None,
        min_accuracy: float | str | None = None,
        langfuse_conn_id: str | None = "langfuse_default",
        langfuse_dataset: str = "",
        langfuse_run_name: str = "",
        triage_dag_id: str = "ticket_triage",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.start = start
        self.end = end
        self.output_root = output_root
        self.report_dir = report_dir
        self.max_auto_error = max_auto_error
        self.min_p0p1_recall = min_p0p1_recall
        self.min_accuracy = min_accuracy
        self.langfuse_conn_id = langfuse_conn_id
        self.langfuse_dataset = langfuse_dataset
        self.langfuse_run_name = langfuse_run_name
        self.triage_dag_id = triage_dag_id

    def execute(self, context: Context) -> dict[str, Any]:
        from llm_operators.core.eval_report import render_text
        from llm_operators.core.evaluation_run import EvaluationInputError, EvaluationRequest, run_evaluation
        from llm_operators.core.replay import Targets
        from llm_operators.operators.storage import storage_path

        days = _range(self.start, self.end)
        report_dir = Path(
            self.report_dir or Path(str(self.output_root)) / "evaluation" / f"{days[0]}_{days[-1]}"
        )
        request = EvaluationRequest(
            output_root=storage_path(self.output_root),
            days=days,
            report_dir=report_dir,
            targets=Targets(
                max_auto_error=_optional_float(self.max_auto_error),
                min_p0p1_recall=_optional_float(self.min_p0p1_recall),
                min_accuracy=_optional_float(self.min_accuracy),
            ),
        )
        try:
            result = run_evaluation(request)
        except EvaluationInputError as exc:
            raise AirflowFailException(str(exc)) from None
        if result.missing_days:
            self.log.warning("no outcomes for %s", ", ".join(result.missing_days))
        self.log.info("%s\n\nreport: %s", render_text(result.evaluation, result.replay), result.report)
        rec = result.replay.recommendation if result.replay else None
        dataset_run = self._publish_dataset_run(result)
        return {
            **result.evaluation.summary_json(),
            "recommendation": rec.model_dump(mode="json", exclude={"point"}) if rec else None,
            "recommended": (
                {"escalate_below": rec.point.escalate_below, "min_confidence": rec.point.min_confidence}
                if rec and rec.point
                else None
            ),
            "report": str(result.report),
            "llm_calls": result.llm_calls,
            "seconds": round(result.seconds, 2),
            "langfuse": dataset_run,
        }

    def _publish_dataset_run(self, result: Any) -> dict[str, Any] | None:
        """With Langfuse configured, the evaluation as a dataset run (llm/langfuse_datasets.py). A refusal
        fails the task after the report is written; a retry sends only what is missing."""
        from dataclasses import asdict

        from llm_operators.operators.observability import langfuse_settings_for

        settings = langfuse_settings_for(self.langfuse_conn_id)
        if settings is None:
            return None
        from llm_operators.llm.langfuse_datasets import (
            DEFAULT_DATASET,
            DatasetRunSpec,
            LangfuseDatasetError,
            publish_dataset_run,
        )

        spec = DatasetRunSpec(
            dataset=_optional_str(self.langfuse_dataset) or DEFAULT_DATASET,
            run_name=_optional_str(self.langfuse_run_name),
            dag_id=self.triage_dag_id,
        )
        try:
            report = publish_dataset_run(settings, spec, result.outcomes, result.run_ids)
        except LangfuseDatasetError as exc:
            raise AirflowException(f"{exc} (the report is written: {result.report})") from None
        self.log.info("%s", report.summary())
        return asdict(report)
