"""Builders for outcomes as the triage task writes them, so tests start from realistic objects."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

from llm_operators.core.models import OutcomeStatus, Ticket, TicketOutcome, TriageResult

DAY = "2025-10-01"
CLEAN_REPLY = "Thanks for reporting this. Our engineers are investigating and will update you soon."


def make_outcome(
    ticket_id: str,
    *,
    confidence: float = 0.9,
    priority: str = "P2",
    needs_human: bool = False,
    subject: str = "Export fails",
    body: str = "The CSV export fails with error 500.",
    unresolved: bool = False,
) -> TicketOutcome:
    ticket = Ticket(
        id=ticket_id,
        created_at=f"{DAY}T10:00:00+00:00",
        subject=subject,
        body=body,
        customer="CUST-1",
        channel="email",
    )
    if unresolved:
        return TicketOutcome(
            ticket_id=ticket_id,
            day=DAY,
            status=OutcomeStatus.UNRESOLVED,
            ticket=ticket,
            error="rung 1 (strong): ServiceUnavailableError",
        )
    result = TriageResult(
        category="technical",
        priority=priority,
        sentiment="neutral",
        pii_detected=False,
        needs_human=needs_human,
        suggested_reply=CLEAN_REPLY,
        reply_template="troubleshooting_first_steps",
        confidence=confidence,
        rationale="technical keywords",
    )
    return TicketOutcome(
        ticket_id=ticket_id,
        day=DAY,
        status=OutcomeStatus.TRIAGED,
        ticket=ticket,
        result=result,
        final_rung=0,
        final_model="offline/fast",
    )


def generate_day(root: Path, day: date, tickets: int) -> list[str]:
    """One day of realistic tickets from the sample-data generator (the real CLI); returns the ids."""
    generator = Path(__file__).resolve().parents[1] / "include" / "sample_data" / "generate_tickets.py"
    subprocess.run(
        [
            sys.executable,
            str(generator),
            "--out",
            str(root),
            "--start",
            day.isoformat(),
            "--days",
            "1",
            "--per-day",
            str(tickets),
        ],
        check=True,
        capture_output=True,
    )
    path = root / f"{day.isoformat()}.jsonl"
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]
