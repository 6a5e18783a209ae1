"""`QualityGateOperator`: split a day's outcomes into auto-reply and manual review, and branch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseBranchOperator, Context

from llm_operators.core.gate import GateRules, decide
from llm_operators.core.models import RejectedLine, ReviewItem, TicketOutcome
from llm_operators.core.outputs import read_jsonl
from llm_operators.operators.observability import tracing_for
from llm_operators.operators.storage import day_outputs


class QualityGateOperator(BaseBranchOperator):
    """Writes `approved.jsonl` and `review.jsonl` (with reasons) and follows the branches with work.

    Returns the task ids to run: `auto_reply_task_id` if any ticket passed, `review_task_id` if any
    needs a human (rejected lines included), `page_task_id` if any is P0/P1, or `empty_task_id` for a
    day with nothing to do. The other branches are skipped.
    """

    template_fields: Sequence[str] = (
        "triage_summary",
        "output_root",
        "min_confidence",
        "reply_mode",
        "rules",
    )

    def __init__(
        self,
        *,
        triage_summary: dict[str, Any] | Any,
        output_root: str,
        min_confidence: float | None = None,
        reply_mode: str | None = None,
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
        self.reply_mode = reply_mode  # must match the triage's: free_text needs the judge's verdict
        self.rules = rules or {}
        self.auto_reply_task_id = auto_reply_task_id
        self.review_task_id = review_task_id
        self.page_task_id = page_task_id
        self.empty_task_id = empty_task_id
        self.langfuse_conn_id = langfuse_conn_id

    def gate_rules(self) -> GateRules:
        data = dict(self.rules)
        if self.min_confidence is not None:
            data["min_confidence"] = float(self.min_confidence)
        if self.reply_mode is not None:
            data["reply_mode"] = self.reply_mode
        return GateRules.parse(data, f"task {self.task_id!r}")

    def choose_branch(self, context: Context) -> list[str]:
        rules = self.gate_rules()
        day = self.triage_summary["day"]
        outputs = day_outputs(self.output_root, day)
        run_id = self.triage_summary.get("run_id") or context.get("run_id") or "manual"
        decided_tmp = outputs.path("outcomes.gated.jsonl")
        counts = {"auto_reply": 0, "manual_review": 0, "rejected": 0, "paged": 0}
        # One streaming pass (a 100k-ticket day must not sit in this task's memory): each outcome is
        # decided, scored in Langfuse, and written to the outcomes and to its set as it is read.
        with (
            tracing_for(self.langfuse_conn_id, run_id=run_id, dag_id=self.dag_id, day=day) as tracing,
            decided_tmp.open("w") as all_out,
            outputs.approved.open("w") as approved,
            outputs.review.open("w") as review,
        ):
            for outcome in read_jsonl(outputs.outcomes, TicketOutcome):
                gate = outcome.gate = decide(outcome, rules)
                all_out.write(outcome.model_dump_json() + "\n")
                counts[gate.route] += 1
                counts["paged"] += gate.page_engineering
                tracing.score_gate(outcome.ticket_id, gate.route, gate.reasons, gate.page_engineering)
                if gate.route == "auto_reply":
                    approved.write(outcome.model_dump_json() + "\n")
                    continue
                item = ReviewItem(
                    day=day,
                    ticket_id=outcome.ticket_id,
                    reasons=gate.reasons,
                    priority=outcome.result.priority if outcome.result else None,
                    page_engineering=gate.page_engineering,
                    outcome=outcome,
                )
                review.write(item.model_dump_json() + "\n")
                self.log.info("review %s: %s", item.key, "; ".join(item.reasons))
            for rejected in read_jsonl(outputs.rejected, RejectedLine):
                item = ReviewItem(
                    day=day,
                    ticket_id=rejected.ticket_id,
                    reasons=[f"rejected line: {rejected.describe()}"],
                    rejected=rejected,
                )
                review.write(item.model_dump_json() + "\n")
                counts["rejected"] += 1
                self.log.info("review %s: %s", item.key, item.reasons[0])
        decided_tmp.replace(outputs.outcomes)  # the same outcomes, now with their gate decision
        in_review = counts["manual_review"] + counts["rejected"]
        self.log.info(
            "gate (min confidence %.2f) for %s: %d auto-reply, %d manual review (%d rejected lines), "
            "%d paging engineering",
            rules.min_confidence,
            day,
            counts["auto_reply"],
            in_review,
            counts["rejected"],
            counts["paged"],
        )
        branches = []
        if counts["auto_reply"]:
            branches.append(self.auto_reply_task_id)
        if in_review:
            branches.append(self.review_task_id)
        if counts["paged"]:
            branches.append(self.page_task_id)
        return branches or [self.empty_task_id]
