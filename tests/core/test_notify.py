"""Slack digest, on-call page and Jira fields: redacted, counted, bounded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from llm_operators.core.models import (
    GateDecision,
    OutcomeStatus,
    Priority,
    RejectedLine,
    ReviewItem,
    Ticket,
    TicketOutcome,
    TriageResult,
)
from llm_operators.core.notify import (
    JIRA_PRIORITY,
    JIRA_SUMMARY_MAX_UTF16,
    JiraTarget,
    cut_utf16,
    jira_fields,
    oncall_message,
    page_log_line,
    review_digest,
    ticket_label,
    utf16_len,
)
from llm_operators.core.pii import redact

TRIAGE_TASK = JiraTarget(project="TRIAGE", issue_type="Task")


def item(
    tid: str,
    subject: str = "Login broken",
    reasons: tuple[str, ...] = ("low confidence 0.41 < 0.65",),
    priority: str | None = "P2",
    body: str = "I cannot log in.",
) -> ReviewItem:
    ticket = Ticket(
        id=tid, created_at=datetime(2025, 10, 1, 8, tzinfo=UTC), subject=subject, body=body, channel="web"
    )
    result = TriageResult(
        category="account",
        priority=priority or "P2",
        sentiment="negative",
        pii_detected=False,
        needs_human=True,
        suggested_reply="Thanks, write to me at agent@example.com",
        confidence=0.41,
        rationale="login problem for jane@example.com",
    )
    outcome = TicketOutcome(
        ticket_id=tid,
        day="2025-10-01",
        status=OutcomeStatus.TRIAGED,
        ticket=ticket,
        result=result,
        final_model="openai/gpt-4o-mini",
    )
    return ReviewItem(
        day="2025-10-01",
        ticket_id=tid,
        reasons=list(reasons),
        priority=Priority(priority) if priority else None,
        outcome=outcome,
    )


def rejected_item(line: int = 7) -> ReviewItem:
    rejected = RejectedLine(
        source="/data/2025-10-01.jsonl",
        line=line,
        field="subject",
        error="Field required",
        raw='{"id": "T-9", "body": "call +1 415-555-0134"}',
    )
    return ReviewItem(day="2025-10-01", ticket_id=None, reasons=["unreadable line"], rejected=rejected)


def test_digest_redacts_pii_in_subjects_and_reasons():
    items = [
        item("T-1", subject="Refund for jane.doe@example.com"),
        item("T-2", reasons=("PII: 4111 1111 1111 1111",)),
    ]
    digest = review_digest("2025-10-01", "run-1", items, {})
    assert "jane.doe@example.com" not in digest
    assert "4111 1111 1111 1111" not in digest
    assert "Refund for [EMAIL]" in digest
    assert "PII: [CARD]" in digest


def test_digest_counts_reasons_by_kind():
    items = [
        item("T-1", reasons=("low confidence 0.41 < 0.65", "PII detected (email)")),
        item("T-2", reasons=("low confidence 0.12 < 0.65",)),
        item("T-3", reasons=("model says needs_human",)),
    ]
    lines = review_digest("2025-10-01", "run-1", items, {"T-2": "TRIAGE-12"}).splitlines()
    assert lines[0] == "*Ticket triage 2025-10-01*: 3 ticket(s) need a human (run `run-1`)"
    assert lines[1] == "Reasons: low confidence (2), PII detected (1), model says needs_human (1)"
    assert lines[3].startswith("- `T-2` [P2] Login broken - low confidence 0.12 &lt; 0.65")  # Slack shows "<"
    assert lines[3].endswith("(TRIAGE-12)")
    assert "TRIAGE" not in lines[2]


def test_digest_truncates_after_40_lines():
    items = [item(f"T-{i}") for i in range(45)]
    lines = review_digest("2025-10-01", "run-1", items, {}).splitlines()
    assert len(lines) == 2 + 40 + 1
    assert lines[-1] == "... and 5 more in review.jsonl"
    assert "`T-39`" in lines[-2]
    assert all("`T-40`" not in line for line in lines)


def test_digest_of_a_rejected_line_uses_its_key():
    lines = review_digest("2025-10-01", "run-1", [rejected_item()], {}).splitlines()
    assert lines[2] == "- `/data/2025-10-01.jsonl:7` [?] rejected line 7 - unreadable line"


@pytest.mark.parametrize(
    ("priority", "jira"), [("P0", "Highest"), ("P1", "High"), ("P2", "Medium"), ("P3", "Low")]
)
def test_jira_priority_mapping(priority, jira):
    fields = jira_fields(item("T-1", priority=priority), TRIAGE_TASK, [])
    assert fields["priority"] == {"name": jira}
    assert JIRA_PRIORITY[Priority(priority)] == jira


def test_jira_fields_labels_and_redacted_description():
    it = item(
        "T 42/a",
        subject="Call me on +44 20 7946 0958",
        body="My card 4111 1111 1111 1111 and mail jane@example.com",
        reasons=("PII detected (card) for jane@example.com",),
    )
    fields = jira_fields(it, TRIAGE_TASK, ["triage-2025-10-01"])
    assert fields["project"] == {"key": "TRIAGE"}
    assert fields["issuetype"] == {"name": "Task"}
    assert fields["labels"] == ["ticket-triage", "ticket-T_42_a", "triage-2025-10-01"]
    assert all(" " not in label for label in fields["labels"])
    assert fields["summary"] == "[P2] Call me on [PHONE]"
    description = fields["description"]
    for secret in ("4111 1111 1111 1111", "jane@example.com", "agent@example.com", "7946 0958"):
        assert secret not in description
    assert "My card [CARD] and mail [EMAIL]" in description
    assert "Ticket T 42/a (web, created 2025-10-01T08:00:00+00:00)" in description
    assert "confidence 0.41, by openai/gpt-4o-mini" in description


def test_jira_fields_for_a_rejected_line():
    fields = jira_fields(rejected_item(), TRIAGE_TASK.model_copy(update={"issue_type": "Bug"}), [])
    assert "priority" not in fields
    assert fields["summary"] == "[triage] rejected line 7"
    assert fields["labels"][1] == "ticket-_data_2025-10-01_jsonl_7"
    assert "/data/2025-10-01.jsonl:7 field 'subject': Field required" in fields["description"]
    assert "415-555-0134" not in fields["description"]


@pytest.mark.parametrize(
    ("ticket_id", "label"),
    [("T-20251001-001", "ticket-T-20251001-001"), ("a b\tc", "ticket-a_b_c"), ("x/y:z", "ticket-x_y_z")],
)
def test_ticket_label_sanitises(ticket_id, label):
    assert ticket_label(ticket_id) == label


def test_oncall_message_is_redacted():
    it = item("T-1", subject="Outage, call +1 415-555-0134", priority="P0")
    message = oncall_message("2025-10-01", it, "TRIAGE-3")
    assert message.startswith(
        ":rotating_light: *P0* account ticket `T-1` (2025-10-01), paged for its priority: "
    )
    assert "Outage, call [PHONE]" in message
    assert "jane@example.com" not in message
    assert message.endswith("\nJira: TRIAGE-3")
    assert "Jira" not in oncall_message("2025-10-01", it.outcome, None)


def test_page_says_priority_is_the_reason_and_lists_review_reasons_apart():
    """Issue 12: "PAGE P1 T-1: PII detected (email)" read as if PII were why on-call was woken."""
    it = item("T-1", priority="P1", reasons=("PII detected (email)",))
    first, *rest = oncall_message("2025-10-01", it, None).splitlines()
    assert "paged for its priority" in first and "PII" not in first
    assert "Also held for review: PII detected (email)" in rest
    line = page_log_line(it)
    assert line == "PAGE T-1: paged for priority P1 (review reasons: PII detected (email))"


HOSTILE = "<!channel> <!here> <@U123> <https://evil.example|Reset your password> & <#C1>"


def test_slack_text_from_tickets_and_models_is_escaped():
    it = item("T-<!everyone>", subject=HOSTILE, reasons=(HOSTILE,), priority="P0")
    assert it.outcome is not None and it.outcome.result is not None
    it.outcome.result.rationale = HOSTILE
    for text in (
        review_digest("2025-10-01", "run-<!here>", [it], {it.key: "SUP-1"}),
        oncall_message("2025-10-01", it, "SUP-1"),
    ):
        assert "<!" not in text and "<@" not in text and "<http" not in text and "<#" not in text
        assert "&lt;!channel&gt;" in text and "&lt;https://evil.example|Reset your password&gt;" in text
        assert "&amp;" in text


def test_summary_is_one_line_within_255_utf16_units():
    subject = "Refund\nplease\r\n" + "😀" * 300  # each emoji is 2 UTF-16 units
    fields = jira_fields(item("T-1", subject=subject), TRIAGE_TASK, [])
    summary = fields["summary"]
    assert "\n" not in summary and "\r" not in summary
    assert summary.startswith("[P2] Refund please 😀")
    assert utf16_len(summary) <= JIRA_SUMMARY_MAX_UTF16 < 255
    assert len(summary) < utf16_len(summary)  # the limit is counted in UTF-16 units, not characters
    summary.encode("utf-8")  # no lone surrogate


@pytest.mark.parametrize("limit", range(1, 12))
def test_cut_utf16_never_splits_a_surrogate_pair(limit):
    text = "a😀b😀c😀d😀"
    cut = cut_utf16(text, limit)
    assert utf16_len(cut) <= limit
    assert "\ud83d" not in cut and all(ord(ch) < 0xD800 or ord(ch) > 0xDFFF for ch in cut)


def test_labels_stay_within_jira_limits():
    long_id = "T-" + "x" * 400
    fields = jira_fields(item(long_id), TRIAGE_TASK, ["triage 2025-10-01"])
    assert all(len(label) <= 255 and " " not in label for label in fields["labels"])
    assert ticket_label(long_id) != ticket_label(long_id + "y")  # cut labels stay distinct


def test_issue_type_project_and_priorities_are_settings():
    target = JiraTarget(
        project="OPS",
        issue_type="Incident",
        priorities={"P0": "Blocker", "P1": "Critical", "P2": "Major", "P3": "Minor"},
    )
    fields = jira_fields(item("T-1", priority="P1"), target, [])
    assert fields["project"] == {"key": "OPS"} and fields["issuetype"] == {"name": "Incident"}
    assert fields["priority"] == {"name": "Critical"}
    with pytest.raises(ValueError, match="missing for P3"):
        JiraTarget(project="OPS", issue_type="Task", priorities={"P0": "A", "P1": "B", "P2": "C"})
    with pytest.raises(ValueError, match="project key"):
        JiraTarget(project="ops team", issue_type="Task")


def test_redaction_still_comes_before_the_cut():
    assert redact("jane@example.com") == "[EMAIL]"


def test_jira_description_gives_the_reviewer_the_template_reply_and_draft_warnings():
    it = item("T-7")
    assert it.outcome is not None
    gate = GateDecision(
        route="manual_review",
        reasons=["model says needs_human"],
        reply="Hello, you can reset your password from the sign-in page.",
        template_id="password_reset",
        draft_warnings=["reply contains contact details (email or phone)"],
    )
    it = it.model_copy(update={"outcome": it.outcome.model_copy(update={"gate": gate})})
    description = jira_fields(it, TRIAGE_TASK, [])["description"]
    assert "Template reply (ready to send): Hello, you can reset your password" in description
    assert "Draft warnings: reply contains contact details (email or phone)" in description
    assert "Model's draft reply (not sent): Thanks, write to me at [EMAIL]" in description


def test_mail_without_a_subject_is_named_by_its_first_line_for_people():
    it = item("T-8", subject="", body="\n  Where is my parcel? It was due on Monday.\nThanks")
    assert it.subject == "Where is my parcel? It was due on Monday."
    assert jira_fields(it, TRIAGE_TASK, [])["summary"] == "[P2] Where is my parcel? It was due on Monday."
