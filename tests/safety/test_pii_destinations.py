"""PII never reaches Slack or Jira, and the gate's PII verdict does not depend on the model.

Tickets full of personal data and secrets (in the subject, the body, the model's rationale, the gate
reasons and the suggested reply) are turned into the Slack digest, the on-call page and the Jira
fields; none of the values may appear in any of them. Then the same ticket goes through the ladder
with a model that claims `pii_detected: false`: the gate still says "PII detected", because that
verdict comes from the deterministic detector.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from llm_operators.core.call_request import CallRequest
from llm_operators.core.gate import GateRules, decide
from llm_operators.core.ladder import Ladder, LadderPolicy
from llm_operators.core.models import (
    CallRecord,
    CallStatus,
    OutcomeStatus,
    Priority,
    RejectedLine,
    ReviewItem,
    Ticket,
    TicketOutcome,
    TriageResult,
)
from llm_operators.core.notify import JiraTarget, jira_fields, oncall_message, review_digest

DAY = "2025-10-01"
PII = {
    "email": "jane.doe+vip@example.co.uk",
    "card": "4111 1111 1111 1111",
    "card without spaces": "5500005555555559",
    "iban": "GB82 WEST 1234 5698 7654 32",
    "ssn": "123-45-6789",
    "phone": "+1 415-555-0134",
    "toll-free phone": "1-888-555-0142",
    "api key": "sk-proj-Q3x9LmN4pT7vR2sW8yZ1aB6c",
    "anthropic key": "sk-ant-api03-Zk81Lq2Mm9Np4Rt7Vw3Yb6Cd8Ef",
}
# The same values with an invisible character inside: still personal data, still redacted.
HIDDEN = {
    "zero-width card": ("4000\u200b0000 0000 0002", "4000000000000002"),
    "zero-width email": ("max.\u200bmustermann@example.org", "max.mustermann@example.org"),
}
EVERYTHING = ", ".join(PII.values())
MARKERS = ("[EMAIL]", "[CARD]", "[IBAN]", "[SSN]", "[PHONE]", "[SECRET]")


def full_of_pii(ticket_id: str = "T-20251001-042", priority: str = "P1") -> ReviewItem:
    hidden = " ".join(value for value, _ in HIDDEN.values())
    ticket = Ticket(
        id=ticket_id,
        created_at=datetime(2025, 10, 1, 8, tzinfo=UTC),
        subject=f"Charged twice on {PII['card']}, reach me at {PII['email']} or {PII['phone']}",
        body=(
            f"Hi, my card {PII['card']} (and my old card {PII['card without spaces']}) was charged twice. "
            f"Refund to IBAN {PII['iban']}. SSN {PII['ssn']}. Call {PII['phone']} or "
            f"{PII['toll-free phone']}. Our keys {PII['api key']} and {PII['anthropic key']} leaked. "
            f"Old details: {hidden}"
        ),
        customer="CUST-77",
        channel="email",
    )
    result = TriageResult(
        category="billing",
        priority=priority,
        sentiment="angry",
        pii_detected=True,
        needs_human=True,
        suggested_reply=(
            f"We will call you at {PII['phone']} and refund card {PII['card']}. Key: {PII['api key']}"
        ),
        confidence=0.91,
        rationale=f"Customer {PII['email']} with card {PII['card']} and SSN {PII['ssn']}, IBAN {PII['iban']}",
    )
    outcome = TicketOutcome(
        ticket_id=ticket_id,
        day=DAY,
        status=OutcomeStatus.TRIAGED,
        ticket=ticket,
        result=result,
        final_model="openai/gpt-4o-mini",
    )
    reasons = [
        "PII detected (card, email, iban, phone, secret, ssn)",
        f"reply contains a link not on the allow-list (mailto:{PII['email']})",
        f"unresolved: rung 0 (fast) invalid answer: echoed {EVERYTHING}",
    ]
    return ReviewItem(
        day=DAY, ticket_id=ticket_id, reasons=reasons, priority=Priority(priority), outcome=outcome
    )


def rejected_with_pii() -> ReviewItem:
    raw = json.dumps({"id": "T-BAD", "subject": f"card {PII['card']}", "body": EVERYTHING, "created_at": 5})
    rejected = RejectedLine(
        source="/data/2025-10-01.jsonl",
        line=9,
        ticket_id="T-BAD",
        field="created_at",
        error=f"bad value near {PII['email']}",
        raw=raw,
    )
    return ReviewItem(
        day=DAY, ticket_id="T-BAD", reasons=[f"unreadable line: {PII['ssn']}"], rejected=rejected
    )


def payloads(item: ReviewItem) -> dict[str, str]:
    out = {
        "slack digest": review_digest(DAY, "run-1", [item], {item.key: "SUP-1"}),
        "jira fields": json.dumps(
            jira_fields(item, JiraTarget(project="SUP", issue_type="Task"), ["triage"]), ensure_ascii=False
        ),
    }
    if item.outcome is not None:
        out["on-call page (review item)"] = oncall_message(DAY, item, "SUP-1")
        out["on-call page (outcome)"] = oncall_message(DAY, item.outcome, None)
    return out


def leaks(text: str) -> list[str]:
    visible = text.replace("\u200b", "")
    found = [kind for kind, value in PII.items() if value in text or value.replace(" ", "") in visible]
    found += [kind for kind, (_, value) in HIDDEN.items() if value in visible]
    return found


@pytest.mark.parametrize("make", [full_of_pii, rejected_with_pii], ids=["triaged", "rejected line"])
def test_no_pii_in_slack_or_jira(make):
    item = make()
    for destination, text in payloads(item).items():
        assert leaks(text) == [], f"{destination} leaks {leaks(text)}:\n{text}"


def test_the_payloads_still_say_what_happened():
    """Not vacuous: the payloads carry the ticket, with placeholders where the values were."""
    out = payloads(full_of_pii())
    jira = out["jira fields"]
    for marker in MARKERS:
        assert marker in jira, marker
    assert "Charged twice on [CARD]" in jira and "SUP" in jira
    assert "[CARD]" in out["slack digest"] and "T-20251001-042" in out["slack digest"]
    assert "[EMAIL]" in out["on-call page (review item)"] and "[SSN]" in out["on-call page (outcome)"]


def test_truncated_fields_do_not_leak_half_a_value():
    """The digest cuts subjects at 80 characters: redaction must come first, or a value cut in half
    (no longer recognisable as PII) would go out."""
    item = full_of_pii()
    assert item.outcome is not None
    for pad in range(60, 85):
        subject = "x" * pad + f" {PII['email']} {PII['card']}"
        ticket = item.outcome.ticket.model_copy(update={"subject": subject})
        outcome = item.outcome.model_copy(update={"ticket": ticket})
        digest = review_digest(DAY, "run-1", [item.model_copy(update={"outcome": outcome})], {})
        assert "jane" not in digest and "4111" not in digest, pad


@pytest.mark.parametrize("kind", list(PII))
def test_each_kind_alone_is_redacted_everywhere(kind):
    value = PII[kind]
    ticket = Ticket(
        id="T-1",
        created_at=datetime(2025, 10, 1, 8, tzinfo=UTC),
        subject=f"About {value}",
        body=f"Here it is: {value}.",
    )
    result = TriageResult(
        category="billing",
        priority="P1",
        sentiment="neutral",
        pii_detected=False,
        needs_human=True,
        suggested_reply=f"Noted {value}, thanks.",
        confidence=0.5,
        rationale=f"mentions {value}",
    )
    outcome = TicketOutcome(
        ticket_id="T-1", day=DAY, status=OutcomeStatus.TRIAGED, ticket=ticket, result=result
    )
    item = ReviewItem(day=DAY, ticket_id="T-1", reasons=[f"because {value}"], priority="P1", outcome=outcome)
    for destination, text in payloads(item).items():
        assert value not in text, destination


# --- pii_detected comes from the detector, not from the model ----------------------------------------


class ModelSayingNoPii:
    def __init__(self) -> None:
        self.seen: list[str] = []

    async def __call__(self, request: CallRequest) -> tuple[str | None, CallRecord]:
        self.seen.extend(m["content"] for m in request.messages)
        answer = {
            "category": "billing",
            "priority": "P3",
            "sentiment": "neutral",
            "pii_detected": False,
            "needs_human": False,
            "suggested_reply": "Thanks for reaching out. Our billing team is reviewing the charge and will "
            "follow up shortly.",
            "reply_template": "charge_unrecognised",
            "confidence": 0.99,
            "rationale": "routine billing question",
        }
        record = CallRecord(
            ticket_id=request.ticket_id, rung=request.rung, model_group=request.group, status=CallStatus.OK
        )
        return json.dumps(answer), record


@pytest.mark.parametrize("redact", [True, False])
def test_gate_pii_verdict_comes_from_the_detector(redact):
    item = full_of_pii()
    assert item.outcome is not None
    model = ModelSayingNoPii()
    ladder = Ladder(LadderPolicy(rungs=["fast"], redact_pii_for_llm=redact), model)
    outcome = asyncio.run(ladder.triage(item.outcome.ticket, DAY))
    assert outcome.result is not None and outcome.result.pii_detected is False  # the model says none
    assert set(outcome.safety.pii_kinds) == {"card", "email", "iban", "phone", "secret", "ssn"}
    decision = decide(outcome, GateRules())
    assert decision.route == "manual_review"
    assert decision.reasons == ["PII detected (card, email, iban, phone, secret, ssn)"]
    # and only the review_pii switch (not the model) can turn that reason off
    assert decide(outcome, GateRules(review_pii=False)).route == "auto_reply"


def test_a_ticket_without_pii_is_not_held_for_pii():
    """The control: the same model on a clean ticket is auto-replied, so the reason above is real."""
    ticket = Ticket(
        id="T-2",
        created_at=datetime(2025, 10, 1, 8, tzinfo=UTC),
        subject="Charged twice",
        body="I was charged twice for invoice INV-2231 this month, could you check?",
    )
    outcome = asyncio.run(Ladder(LadderPolicy(rungs=["fast"]), ModelSayingNoPii()).triage(ticket, DAY))
    assert outcome.safety.pii_kinds == []
    assert decide(outcome, GateRules()).route == "auto_reply"
