"""Pydantic models at every boundary of the pipeline.

Tickets come in from files, results come back from models, outcomes go out to files and downstream
tasks. Each crossing is validated here so that a bad value is caught where it enters, with the field
named, instead of surfacing three tasks later as a KeyError.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Re-exported: most of the pipeline imports its types from here.
from llm_operators.core.taxonomy import Category, Priority, Sentiment
from llm_operators.core.ticket import RejectedLine, Ticket, TicketLabels

# The model may write a long reply, but an answer beyond this is a runaway generation, not a reply.
MAX_REPLY_CHARS = 4000
MAX_RATIONALE_CHARS = 1000
# "no approved template fits": the ticket goes to a human with the model's draft attached
NO_TEMPLATE = "none"

ReplyMode = Literal["template", "free_text"]

__all__ = [  # re-exports above, plus what this module defines
    "CallRecord",
    "CallStatus",
    "Category",
    "GateDecision",
    "JudgeVerdict",
    "OutcomeStatus",
    "Priority",
    "RejectedLine",
    "ReplyMode",
    "ReplySlots",
    "ReviewItem",
    "SafetyFlags",
    "Sentiment",
    "Ticket",
    "TicketLabels",
    "TicketOutcome",
    "TriageResult",
]


class ReplySlots(BaseModel):
    """The only values a model may put into an approved template; each is checked against the ticket
    by `reply_templates.check_slot` before anything is rendered."""

    model_config = ConfigDict(extra="forbid")

    order_number: str | None = Field(default=None, max_length=40)
    invoice_number: str | None = Field(default=None, max_length=40)


class TriageResult(BaseModel):
    """What a model must answer for one ticket. `extra="forbid"` so a drifting schema fails loudly.

    `reply_template` names an approved reply (the schema sent to the model lists the catalogue's ids
    as an enum); `suggested_reply` is the model's own draft, shown to reviewers, and sent to a
    customer only in `free_text` mode past the judge. The reply fields have defaults so that answers
    and outcomes written before templates existed still read (they pick no template: review).
    """

    model_config = ConfigDict(extra="forbid")

    category: Category
    priority: Priority
    sentiment: Sentiment
    pii_detected: bool
    needs_human: bool
    suggested_reply: str = Field(max_length=MAX_REPLY_CHARS)
    confidence: float = Field(ge=0.0, le=1.0)
    rationale: str = Field(default="", max_length=MAX_RATIONALE_CHARS)
    reply_template: str = Field(default=NO_TEMPLATE, max_length=64)
    reply_language: str = Field(default="en", pattern=r"^[a-z]{2}$")
    reply_slots: ReplySlots = Field(default_factory=ReplySlots)


class JudgeVerdict(BaseModel):
    """The judge's answer on one free-text reply (core/judge.py): approve, or name the broken rules."""

    model_config = ConfigDict(extra="forbid")

    approved: bool
    violations: list[str] = Field(default_factory=list, max_length=20)
    reason: str = Field(default="", max_length=MAX_RATIONALE_CHARS)


class CallStatus(StrEnum):
    OK = "ok"  # valid answer
    INVALID = "invalid"  # provider answered, answer failed validation
    ERROR = "error"  # no answer: every deployment (and fallback) failed
    SKIPPED = "skipped"  # not called: the run's budget was spent


class CallRecord(BaseModel):
    """One LLM request as the ladder saw it: what it cost, who answered, what came back."""

    model_config = ConfigDict(extra="forbid")

    ticket_id: str
    rung: int = Field(ge=0, description="0 = cheapest rung of the ladder")
    model_group: str = Field(description="Router model group asked (the rung's name)")
    deployment: str | None = Field(default=None, description="litellm model of the deployment that answered")
    api_base: str | None = None
    repair: bool = Field(default=False, description="a retry asking the model to fix its invalid answer")
    status: CallStatus
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    cache_hit: bool = False
    fallback_used: bool = False
    attempts: int = 1
    started_at: datetime | None = None
    purpose: Literal["triage", "judge"] = "triage"
    # The validated answer of this call, so thresholds can be replayed later without new LLM calls.
    answer: TriageResult | None = None
    verdict: JudgeVerdict | None = None


class OutcomeStatus(StrEnum):
    TRIAGED = "triaged"
    UNRESOLVED = "unresolved"  # no valid answer from any rung: always goes to a human


Route = Literal["auto_reply", "manual_review"]


class GateDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    route: Route
    reasons: list[str] = Field(default_factory=list)
    page_engineering: bool = False
    reply_mode: ReplyMode = "template"
    # Template mode: the rendered approved template (also for review, ready for a human to send);
    # free-text mode: the model's reply once the judge and checks passed. Only `customer_reply` of an
    # auto-reply route may send it.
    reply: str | None = Field(default=None, max_length=2 * MAX_REPLY_CHARS)
    template_id: str | None = None
    # what the reply checks find in the model's own draft: shown to reviewers (Slack, Jira)
    draft_warnings: list[str] = Field(default_factory=list)


class SafetyFlags(BaseModel):
    """What the deterministic detectors found in the ticket, independent of any model's opinion."""

    model_config = ConfigDict(extra="forbid")

    pii_kinds: list[str] = Field(default_factory=list)
    injection_rules: list[str] = Field(default_factory=list)
    injection_excerpts: list[str] = Field(default_factory=list)


class TicketOutcome(BaseModel):
    """Everything the run knows about one ticket; one line of `outcomes.jsonl`."""

    model_config = ConfigDict(extra="forbid")

    ticket_id: str
    day: str
    status: OutcomeStatus
    ticket: Ticket
    result: TriageResult | None = None
    final_rung: int | None = None
    final_model: str | None = None
    escalated: bool = False
    budget_exhausted: bool = False
    error: str | None = Field(default=None, description="why the ticket is unresolved")
    safety: SafetyFlags = Field(default_factory=SafetyFlags)
    calls: list[CallRecord] = Field(default_factory=list)
    gate: GateDecision | None = None
    templates_version: str | None = Field(default=None, description="reply catalogue the model chose from")
    prompt_name: str | None = Field(default=None, description="managed prompt the rules came from")
    prompt_version: str | None = Field(default=None, description="its version (or bundled-<hash>)")
    judge: JudgeVerdict | None = Field(default=None, description="free-text mode: the judge's verdict")

    @property
    def rung_answers(self) -> dict[int, TriageResult]:
        """The last valid answer of each rung asked (replaying thresholds needs every rung's)."""
        return {c.rung: c.answer for c in self.calls if c.purpose == "triage" and c.answer is not None}

    @property
    def cost_usd(self) -> float:
        return sum(c.cost_usd for c in self.calls if not c.cache_hit)


class ReviewItem(BaseModel):
    """One entry of `review.jsonl`: a ticket a human must handle, or a line that never became one."""

    model_config = ConfigDict(extra="forbid")

    day: str
    ticket_id: str | None
    reasons: list[str]
    priority: Priority | None = None
    page_engineering: bool = False
    outcome: TicketOutcome | None = None
    rejected: RejectedLine | None = None

    @property
    def subject(self) -> str:
        if self.outcome is not None:
            return self.outcome.ticket.title
        return f"rejected line {self.rejected.line}" if self.rejected else "?"

    @property
    def key(self) -> str:
        """Stable identity for the side-effect ledger, also for lines without a ticket id."""
        if self.ticket_id:
            return self.ticket_id
        assert self.rejected is not None
        return f"{self.rejected.source}:{self.rejected.line}"
