"""What goes out to people: the Slack digest, the on-call page and the Jira fields of a review item.

Pure functions from review items to payloads. PII is always redacted (Slack and Jira are read by many
people, and a customer's card number has no business in either), and every piece of ticket or model
text is escaped for Slack's mrkdwn, so a subject such as `<!channel>` or `<https://x|Reset>` shows as
text instead of pinging a channel or hiding a link (docs/slack.md). Jira limits (one-line summary of
at most 255 UTF-16 units, labels without spaces of at most 255 characters) are kept here, so a create
is never rejected on every retry for its shape (docs/jira.md).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llm_operators.core.gate import reason_key
from llm_operators.core.models import Priority, ReviewItem, TicketOutcome
from llm_operators.core.pii import redact

DEFAULT_JIRA_PRIORITIES = {
    Priority.P0: "Highest",
    Priority.P1: "High",
    Priority.P2: "Medium",
    Priority.P3: "Low",
}
JIRA_PRIORITY = DEFAULT_JIRA_PRIORITIES  # the stock Jira priority scheme's names
MAX_DIGEST_LINES = 40
# Jira answers "Summary must be less than 255 characters" and counts in Java (UTF-16) units.
JIRA_SUMMARY_MAX_UTF16 = 254
JIRA_LABEL_MAX = 255
JIRA_DESCRIPTION_MAX = 30000  # Jira's text-field limit is 32767 characters
_WHITESPACE = re.compile(r"\s+")


class JiraTarget(BaseModel):
    """Where one kind of issue is filed: a setting (operator arguments from the DAG), not code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    project: str = Field(min_length=1)
    issue_type: str = Field(min_length=1)
    priorities: dict[Priority, str] = Field(default_factory=lambda: dict(DEFAULT_JIRA_PRIORITIES))

    @field_validator("project")
    @classmethod
    def _project_key(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", value.strip()):
            raise ValueError(f"Jira project key {value!r}: expected upper-case letters/digits, e.g. SUP")
        return value.strip()

    @field_validator("priorities")
    @classmethod
    def _every_priority(cls, value: dict[Priority, str]) -> dict[Priority, str]:
        missing = [p.value for p in Priority if not value.get(p)]
        if missing:
            raise ValueError(f"Jira priority names missing for {', '.join(missing)}")
        return value


def slack_escape(text: str) -> str:
    """Slack's control characters as entities, so text never becomes a mention, link or command."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _safe(text: str, limit: int) -> str:
    """Redact first (a value cut in half is no longer recognisable), then cut, then escape."""
    return slack_escape(redact(text)[:limit])


def one_line(text: str) -> str:
    """Any run of whitespace, newlines included, as one space."""
    return _WHITESPACE.sub(" ", text).strip()


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def cut_utf16(text: str, limit: int, ellipsis: str = "…") -> str:
    """`text` within `limit` UTF-16 units, cut at a code point (a surrogate pair is never split)."""
    if utf16_len(text) <= limit:
        return text
    budget = limit - utf16_len(ellipsis)
    used, out = 0, []
    for ch in text:
        size = 2 if ord(ch) > 0xFFFF else 1
        if used + size > budget:
            break
        out.append(ch)
        used += size
    return "".join(out).rstrip() + ellipsis


def jira_label(text: str) -> str:
    """A Jira label: no whitespace, at most 255 characters (a long one keeps a hash of the whole)."""
    label = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)
    if len(label) <= JIRA_LABEL_MAX:
        return label
    digest = hashlib.sha256(label.encode()).hexdigest()[:16]
    return label[: JIRA_LABEL_MAX - 17] + "-" + digest


def ticket_label(ticket_id: str) -> str:
    """The label a lost ledger still finds the issue by."""
    return jira_label("ticket-" + ticket_id)


def review_digest(day: str, run_id: str, items: list[ReviewItem], jira_keys: dict[str, str]) -> str:
    reasons = Counter(reason_key(r) for item in items for r in set(item.reasons))
    lines = [
        f"*Ticket triage {day}*: {len(items)} ticket(s) need a human (run `{slack_escape(run_id)}`)",
        "Reasons: " + ", ".join(f"{slack_escape(r)} ({n})" for r, n in reasons.most_common()),
    ]
    for item in items[:MAX_DIGEST_LINES]:
        key = jira_keys.get(item.key)
        lines.append(
            f"- `{_safe(item.ticket_id or item.key, 120)}` [{item.priority or '?'}] {_safe(item.subject, 80)}"
            f" - {_safe('; '.join(item.reasons), 160)}" + (f" ({slack_escape(key)})" if key else "")
        )
    if len(items) > MAX_DIGEST_LINES:
        lines.append(f"... and {len(items) - MAX_DIGEST_LINES} more in review.jsonl")
    return "\n".join(lines)


def oncall_message(day: str, item: ReviewItem | TicketOutcome, jira_key: str | None) -> str:
    """The page says why it pages (the priority); review reasons are listed apart, never as the cause."""
    outcome = item.outcome if isinstance(item, ReviewItem) else item
    assert outcome is not None and outcome.result is not None
    r = outcome.result
    reasons = item.reasons if isinstance(item, ReviewItem) else []
    lines = [
        f":rotating_light: *{r.priority}* {r.category} ticket `{_safe(outcome.ticket_id, 120)}` ({day}), "
        f"paged for its priority: {_safe(outcome.ticket.subject, 120)}",
        f"> {_safe(one_line(r.rationale), 300)}",
    ]
    if reasons:
        lines.append(f"Also held for review: {_safe('; '.join(reasons), 200)}")
    if jira_key:
        lines.append(f"Jira: {slack_escape(jira_key)}")
    return "\n".join(lines)


def page_log_line(item: ReviewItem) -> str:
    """The worker-log line of a page that could go nowhere else: priority first, reasons apart."""
    reasons = redact("; ".join(item.reasons)) or "none"
    return f"PAGE {item.key}: paged for priority {item.priority or '?'} (review reasons: {reasons})"


def jira_summary(item: ReviewItem) -> str:
    return cut_utf16(
        one_line(f"[{item.priority or 'triage'}] {redact(item.subject)}"), JIRA_SUMMARY_MAX_UTF16
    )


def jira_fields(item: ReviewItem, target: JiraTarget, extra_labels: list[str]) -> dict[str, Any]:
    """Create fields in Jira's v2 shape (description as text; the hook renders ADF for Cloud)."""
    outcome = item.outcome
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
                f"Model's draft reply (not sent): {redact(r.suggested_reply)}"
            )
        gate = outcome.gate
        if gate is not None and gate.reply:
            parts.append(f"Template reply (ready to send): {redact(gate.reply)}")
        if gate is not None and gate.draft_warnings:
            parts.append(f"Draft warnings: {redact('; '.join(gate.draft_warnings))}")
    elif item.rejected is not None:
        parts.append(f"Unreadable line: {redact(item.rejected.describe())}\n{redact(item.rejected.raw)}")
    labels = ["ticket-triage", ticket_label(item.key), *(jira_label(x) for x in extra_labels)]
    fields: dict[str, Any] = {
        "project": {"key": target.project},
        "summary": jira_summary(item),
        "description": "\n\n".join(parts)[:JIRA_DESCRIPTION_MAX],
        "issuetype": {"name": target.issue_type},
        "labels": list(dict.fromkeys(labels)),
    }
    if item.priority is not None:
        fields["priority"] = {"name": target.priorities[item.priority]}
    return fields
