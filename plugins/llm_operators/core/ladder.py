"""The escalation ladder: ask the cheapest model first, climb only when the answer is not good enough.

Per rung: one call; an invalid answer gets `repair_attempts` chances to fix itself on the same rung
(cheaper than the next rung, and usually enough for a formatting slip); a valid answer below the
confidence threshold climbs; a valid confident answer stops. When no rung gives a valid answer the
ticket is `unresolved`, never lost: the gate sends it to a human with the reason. The ladder talks to
models only through the `Caller` protocol (core/call_request.py), so it is tested without litellm or
the network.

Each call's record keeps its validated answer (replaying thresholds needs every rung's, not only the
final one). In `free_text` reply mode the judge (core/judge.py) is asked after the ladder, on the
final answer's reply only, and its verdict is what the gate later requires.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llm_operators.core.call_request import Caller, CallRequest
from llm_operators.core.injection import detect_injection
from llm_operators.core.judge import judge_reply
from llm_operators.core.models import (
    CallRecord,
    CallStatus,
    OutcomeStatus,
    ReplyMode,
    SafetyFlags,
    Ticket,
    TicketOutcome,
    TriageResult,
)
from llm_operators.core.pii import pii_kinds, redact
from llm_operators.core.prompts import (
    SYSTEM_PROMPT,
    InvalidAnswer,
    build_messages,
    parse_answer,
    repair_messages,
)
from llm_operators.core.reply_templates import Catalogue, catalogue_for
from llm_operators.core.spotlight import DEFAULT_MODE, SpotlightMode


@dataclass
class Budget:
    """Spend of one run across all its tickets; escalations stop once `limit_usd` is reached."""

    limit_usd: float | None = None
    spent_usd: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @property
    def exhausted(self) -> bool:
        return self.limit_usd is not None and self.spent_usd >= self.limit_usd

    async def add(self, record: CallRecord) -> None:
        if record.cache_hit:
            return  # a cache hit costs nothing, whatever the record of the original call says
        async with self._lock:
            self.spent_usd += record.cost_usd


@dataclass
class LadderPolicy:
    rungs: Sequence[str]
    escalate_below: float = 0.7
    repair_attempts: int = 1
    max_body_chars: int = 6000
    redact_pii_for_llm: bool = True
    catalogue: Catalogue | None = None  # None: $TRIAGE_REPLY_TEMPLATES, else the bundled templates
    spotlight: SpotlightMode = DEFAULT_MODE
    reply_mode: ReplyMode = "template"
    judge_group: str | None = None  # model group of the judge (free_text mode); None: the top rung
    # The triage rules from prompt management (Langfuse); None: the bundled rules. Name and version
    # are recorded on every outcome, so an answer can always be traced to the words that asked it.
    rules: str | None = None
    prompt_name: str | None = None
    prompt_version: str | None = None


class Ladder:
    def __init__(self, policy: LadderPolicy, caller: Caller, budget: Budget | None = None) -> None:
        if not policy.rungs:
            raise ValueError("a ladder needs at least one rung")
        self.policy = policy
        self.caller = caller
        self.budget = budget or Budget()
        self.catalogue = policy.catalogue or catalogue_for()

    async def triage(self, ticket: Ticket, day: str, metadata: dict[str, Any] | None = None) -> TicketOutcome:
        # the original HTML too: instructions hidden in markup are still instructions
        text = f"{ticket.subject}\n{ticket.body}\n{ticket.body_html or ''}"
        findings = detect_injection(text)
        flags = SafetyFlags(
            pii_kinds=sorted(k.value for k in pii_kinds(text)),
            injection_rules=[f.rule for f in findings],
            injection_excerpts=[f.excerpt for f in findings],
        )
        outcome = TicketOutcome(
            ticket_id=ticket.id,
            day=day,
            status=OutcomeStatus.UNRESOLVED,
            ticket=ticket,
            safety=flags,
            templates_version=self.catalogue.version,
            prompt_name=self.policy.prompt_name,
            prompt_version=self.policy.prompt_version,
        )
        if not ticket.body.strip():
            outcome.error = "empty body: nothing to triage"
            return outcome

        redacted = self.policy.redact_pii_for_llm and flags.pii_kinds
        messages = build_messages(
            ticket,
            subject=redact(ticket.subject) if redacted else None,
            body=redact(ticket.body) if redacted else None,
            max_body_chars=self.policy.max_body_chars,
            catalogue=self.catalogue,
            mode=self.policy.spotlight,
            rules=self.policy.rules or SYSTEM_PROMPT,
        )

        best: tuple[int, str, TriageResult] | None = None
        errors: list[str] = []
        for rung, group in enumerate(self.policy.rungs):
            if rung > 0 and self.budget.exhausted:
                outcome.budget_exhausted = True
                errors.append(
                    f"budget of ${self.budget.limit_usd:.4f} spent: no escalation past rung {rung - 1}"
                )
                break
            result = await self._ask_rung(outcome, rung, group, messages, metadata, errors)
            if result is None:
                continue
            if best is None or result.confidence >= best[2].confidence:
                best = (rung, group, result)
            if result.confidence >= self.policy.escalate_below:
                break
        if best is not None:
            outcome.status = OutcomeStatus.TRIAGED
            outcome.final_rung, _, outcome.result = best
            outcome.final_model = next(
                (
                    c.deployment
                    for c in reversed(outcome.calls)
                    if c.rung == best[0] and c.status == CallStatus.OK
                ),
                best[1],
            )
        else:
            outcome.error = "; ".join(errors) or "no rung answered"
        outcome.escalated = any(c.rung > 0 for c in outcome.calls)
        if self.policy.reply_mode == "free_text" and outcome.result is not None:
            await self._judge(outcome, outcome.result.suggested_reply, metadata)
        return outcome

    async def _judge(self, outcome: TicketOutcome, reply: str, metadata: dict[str, Any] | None) -> None:
        """The judge's call is recorded with the ticket's calls (cost, tokens) as rung len(rungs)."""
        if not reply.strip() or self.budget.exhausted:
            return  # no verdict: the gate keeps the reply from the customer
        verdict, record = await judge_reply(
            reply,
            self.caller,
            ticket_id=outcome.ticket_id,
            rung=len(self.policy.rungs),
            group=self.policy.judge_group or self.policy.rungs[-1],
            metadata=metadata,
            mode=self.policy.spotlight,
        )
        await self.budget.add(record)
        outcome.calls.append(record)
        outcome.judge = verdict

    async def _ask_rung(
        self,
        outcome: TicketOutcome,
        rung: int,
        group: str,
        messages: list[dict[str, str]],
        metadata: dict[str, Any] | None,
        errors: list[str],
    ) -> TriageResult | None:
        attempt_messages = messages
        for attempt in range(1 + self.policy.repair_attempts):
            content, record = await self.caller(
                CallRequest(
                    ticket_id=outcome.ticket_id,
                    rung=rung,
                    group=group,
                    messages=attempt_messages,
                    repair=attempt > 0,
                    metadata=metadata,
                )
            )
            await self.budget.add(record)
            outcome.calls.append(record)
            if record.status == CallStatus.ERROR:
                errors.append(f"rung {rung} ({group}): {record.error}")
                return None  # the Router already retried and fell back; repairing an outage is pointless
            try:
                record.answer = parse_answer(content, self.catalogue)
                return record.answer
            except InvalidAnswer as exc:
                record.status = CallStatus.INVALID
                record.error = str(exc)
                errors.append(f"rung {rung} ({group}) invalid answer: {exc}")
                attempt_messages = repair_messages(messages, content or "", str(exc))
                if self.budget.exhausted:
                    return None
        return None
