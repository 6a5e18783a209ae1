"""What goes out to people: the Slack digest, the on-call page, Jira fields, the customer reply.

Pure functions from review items to payloads, PII always redacted: Slack and Jira are read by many
people, and a customer's card number has no business in either.
"""

from __future__ import annotations

from collections import Counter

from llm_operators.core.gate import reason_key
from llm_operators.core.models import Priority, ReviewItem, TicketOutcome
from llm_operators.core.pii import redact

JIRA_PRIORITY = {Priority.P0: "Highest", Priority.P1: "High", Priority.P2: "Medium", Priority.P3: "Low"}
MAX_DIGEST_LINES = 40


def ticket_label(ticket_id: str) -> str:
    """Jira labels cannot hold spaces; this label is how a lost ledger still finds the issue."""
    return "ticket-" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in ticket_id)


def review_digest(day: str, run_id: str, items: list[ReviewItem], jira_keys: dict[str, str]) -> str:
    reasons = Counter(reason_key(r) for item in items for r in set(item.reasons))
    lines = [
        f"*Ticket triage {day}*: {len(items)} ticket(s) need a human (run `{run_id}`)",
        "Reasons: " + ", ".join(f"{r} ({n})" for r, n in reasons.most_common()),
    ]
    for item in items[:MAX_DIGEST_LINES]:
        key = jira_keys.get(item.key)
        lines.append(
            f"- `{item.ticket_id or item.key}` [{item.priority or '?'}] {redact(item.subject)[:80]}"
            f" - {redact('; '.join(item.reasons))[:160]}" + (f" ({key})" if key else "")
        )
    if len(items) > MAX_DIGEST_LINES:
        lines.append(f"... and {len(items) - MAX_DIGEST_LINES} more in review.jsonl")
    return "\n".join(lines)


def oncall_message(day: str, item: ReviewItem | TicketOutcome, jira_key: str | None) -> str:
    outcome = item.outcome if isinstance(item, ReviewItem) else item
    assert outcome is not None and outcome.result is not None
    r = outcome.result
    return (
        f":rotating_light: *{r.priority}* {r.category} ticket `{outcome.ticket_id}` ({day}): "
        f"{redact(outcome.ticket.subject)[:120]}\n> {redact(r.rationale)[:300]}"
        + (f"\nJira: {jira_key}" if jira_key else "")
    )


def jira_fields(item: ReviewItem, project: str, issue_type: str, extra_labels: list[str]) -> dict:
    outcome = item.outcome
    summary = f"[{item.priority or 'triage'}] {redact(item.subject)}"[:250]
    parts = [f"Reasons for manual review: {redact('; '.join(item.reasons))}"]
    if outcome is not None:
        parts.append(
            f"Ticket {outcome.ticket_id} ({outcome.ticket.channel or 'unknown channel'}, "
            f"created {outcome.ticket.created_at.isoformat()})"
        )
        parts.append(redact(outcome.ticket.body)[:20000])
        if outcome.result is not None:
            r = outcome.result
            parts.append(
                f"Model triage: {r.category}, {r.priority}, sentiment {r.sentiment}, confidence "
                f"{r.confidence:.2f}, by {outcome.final_model}.\nRationale: {redact(r.rationale)}\n"
                f"Suggested reply (not sent): {redact(r.suggested_reply)}"
            )
    elif item.rejected is not None:
        parts.append(f"Unreadable line: {redact(item.rejected.describe())}\n{redact(item.rejected.raw)}")
    fields = {
        "project": {"key": project},
        "summary": summary,
        "description": "\n\n".join(parts),
        "issuetype": {"name": issue_type},
        "labels": ["ticket-triage", ticket_label(item.key), *extra_labels],
    }
    if item.priority is not None:
        fields["priority"] = {"name": JIRA_PRIORITY[item.priority]}
    return fields
