"""`QualityGateOperator`: split a day's outcomes into auto-reply and manual review, and branch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseBranchOperator, Context

from llm_operators.core.gate import GateRules, decide
from llm_operators.core.models import RejectedLine, ReviewItem, TicketOutcome
from llm_operators.core.outputs import read_jsonl, write_jsonl
from llm_operators.operators._shared import day_outputs, tracing_for


class QualityGateOperator(BaseBranchOperator):
    """Writes `approved.jsonl` and `review.jsonl` (with reasons) and follows the branches with work.

    Returns the task ids to run: `auto_reply_task_id` if any ticket passed, `review_task_id` if any
    needs a human (rejected lines included), `page_task_id` if any is P0/P1, or `empty_task_id` for a
    day with nothing to do. The other branches are skipped.
    """

    template_fields: Sequence[str] = ("triage_summary", "output_root", "min_confidence", "rules")

    def __init__(
        self,
        *,
        triage_summary: dict[str, Any] | Any,
        output_root: str,
        min_confidence: float | None = None,
        rules: dict[str, Any] | None = None,
        auto_reply_task_id: str = "auto_reply",
        review_task_id: str = "manual_review",
        page_task_id: str = "page_engineering",
        empty_task_id: str = "nothing_to_do",
        langfuse_conn_id: str | None = "langfuse_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.triage_summary = triage_summary
        self.output_root = output_root
        self.min_confidence = min_confidence
        self.rules = rules or {}
        self.auto_reply_task_id = auto_reply_task_id
        self.review_task_id = review_task_id
        self.page_task_id = page_task_id
        self.empty_task_id = empty_task_id
        self.langfuse_conn_id = langfuse_conn_id

    def gate_rules(self) -> GateRules:
        data = dict(self.rules)
        if self.min_confidence not in (None, "", "None"):
            data["min_confidence"] = float(self.min_confidence)
        return GateRules.parse(data, f"task {self.task_id!r}")

    def _score(self, context: Context, day: str, decided: list[TicketOutcome]) -> None:
        """Gate decisions as Langfuse scores on each ticket's trace (a no-op without Langfuse)."""
        run_id = self.triage_summary.get("run_id") or context.get("run_id") or "manual"
        with tracing_for(self.langfuse_conn_id, run_id=run_id, dag_id=self.dag_id, day=day) as tracing:
            if tracing.enabled:
                for o in decided:
                    if o.gate is not None:
                        tracing.score_gate(o.ticket_id, o.gate.route, o.gate.reasons, o.gate.page_engineering)

    def choose_branch(self, context: Context) -> list[str]:
        rules = self.gate_rules()
        day = self.triage_summary["day"]
        outputs = day_outputs(self.output_root, day)
        decided: list[TicketOutcome] = []
        for outcome in read_jsonl(outputs.outcomes, TicketOutcome):
            outcome.gate = decide(outcome, rules)
            decided.append(outcome)
        rejected = list(read_jsonl(outputs.rejected, RejectedLine))
        approved = [o for o in decided if o.gate and o.gate.route == "auto_reply"]
        review = [
            ReviewItem(
                day=day,
                ticket_id=o.ticket_id,
                reasons=o.gate.reasons,
                priority=o.result.priority if o.result else None,
                page_engineering=o.gate.page_engineering,
                outcome=o,
            )
            for o in decided
            if o.gate and o.gate.route == "manual_review"
        ] + [
            ReviewItem(
                day=day, ticket_id=r.ticket_id, reasons=[f"unreadable line: {r.describe()}"], rejected=r
            )
            for r in rejected
        ]
        self._score(context, day, decided)
        write_jsonl(outputs.outcomes, decided)  # the same outcomes, now with their gate decision
        write_jsonl(outputs.approved, approved)
        write_jsonl(outputs.review, review)
        paged = sum(bool(o.gate and o.gate.page_engineering) for o in decided)
        self.log.info(
            "gate (min confidence %.2f) for %s: %d auto-reply, %d manual review (%d rejected lines), "
            "%d paging engineering",
            rules.min_confidence,
            day,
            len(approved),
            len(review),
            len(rejected),
            paged,
        )
        for item in review:
            self.log.info("review %s: %s", item.key, "; ".join(item.reasons))
        branches = []
        if approved:
            branches.append(self.auto_reply_task_id)
        if review:
            branches.append(self.review_task_id)
        if paged:
            branches.append(self.page_task_id)
        return branches or [self.empty_task_id]
