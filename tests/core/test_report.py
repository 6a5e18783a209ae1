"""Run summaries and their tables, on hand-built outcomes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from llm_operators.core.models import (
    CallRecord,
    CallStatus,
    GateDecision,
    OutcomeStatus,
    Ticket,
    TicketOutcome,
    TriageResult,
)
from llm_operators.core.report import (
    day_digest,
    render_days_table,
    render_markdown,
    render_models_table,
    render_rungs_table,
    summarise,
)


def call(tid: str, rung: int, **changes: object) -> CallRecord:
    data = {
        "ticket_id": tid,
        "rung": rung,
        "model_group": ["fast", "careful"][rung],
        "deployment": ["openai/gpt-4o-mini", "anthropic/claude-sonnet"][rung],
        "status": CallStatus.OK,
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "cost_usd": 0.001 if rung == 0 else 0.01,
    }
    data.update(changes)
    return CallRecord(**data)


def outcome(tid: str, calls: list[CallRecord], gate: GateDecision | None, **changes: object) -> TicketOutcome:
    ticket = Ticket(id=tid, created_at=datetime(2025, 10, 1, tzinfo=UTC), subject="s", body="b")
    res = TriageResult(
        category="billing",
        priority="P2",
        sentiment="neutral",
        pii_detected=False,
        needs_human=False,
        suggested_reply="reply",
        confidence=0.9,
    )
    data: dict = {
        "ticket_id": tid,
        "day": "2025-10-01",
        "status": OutcomeStatus.TRIAGED,
        "ticket": ticket,
        "result": res,
        "final_rung": max((c.rung for c in calls), default=0),
        "calls": calls,
        "gate": gate,
    }
    data.update(changes)
    return TicketOutcome(**data)


AUTO = GateDecision(route="auto_reply")


def review(*reasons: str, page: bool = False) -> GateDecision:
    return GateDecision(route="manual_review", reasons=list(reasons), page_engineering=page)


def day_outcomes() -> list[TicketOutcome]:
    return [
        # stopped on the cheap rung
        outcome("T-1", [call("T-1", 0)], AUTO),
        # cached on the cheap rung: not paid for, counted as a saving
        outcome("T-2", [call("T-2", 0, cache_hit=True, cost_usd=0.002)], AUTO),
        # escalated after an invalid answer; careful answered through a fallback deployment
        outcome(
            "T-3",
            [
                call("T-3", 0, status=CallStatus.INVALID),
                call("T-3", 1, fallback_used=True, deployment="openai/gpt-4o"),
            ],
            review("low confidence 0.50 < 0.65", "PII detected (email)", page=True),
            escalated=True,
        ),
        # unresolved: both rungs failed, budget spent
        outcome(
            "T-4",
            [
                call("T-4", 0, status=CallStatus.ERROR, prompt_tokens=0, completion_tokens=0, cost_usd=0),
                call("T-4", 1, status=CallStatus.SKIPPED, prompt_tokens=0, completion_tokens=0, cost_usd=0),
            ],
            review("unresolved: every deployment failed"),
            status=OutcomeStatus.UNRESOLVED,
            result=None,
            escalated=True,
            budget_exhausted=True,
        ),
        outcome("T-5", [call("T-5", 0)], review("low confidence 0.10 < 0.65")),
    ]


def test_summarise_counts():
    s = summarise("2025-10-01", day_outcomes(), rejected_lines=2)
    assert (s.tickets, s.triaged, s.unresolved, s.escalated, s.rejected_lines) == (5, 4, 1, 2, 2)
    assert s.stopped_at_rung == {"0": 3, "1": 1, "unresolved": 1}
    assert (s.calls, s.cache_hits, s.invalid_answers, s.failed_calls) == (7, 1, 1, 1)
    assert s.budget_exhausted == 1
    assert s.fallbacks == {"openai/gpt-4o": 1}
    assert s.escalation_rate == pytest.approx(0.4)
    assert s.cache_hit_rate == pytest.approx(1 / 7)


def test_summarise_cost_excludes_cache_hits_and_counts_savings():
    s = summarise("2025-10-01", day_outcomes())
    # paid: T-1 0.001, T-3 0.001 + 0.01, T-5 0.001; cached T-2 0.002 is a saving
    assert s.cost_usd == pytest.approx(0.013)
    assert s.cache_savings_usd == pytest.approx(0.002)
    assert (s.prompt_tokens, s.completion_tokens) == (500, 100)
    assert s.cost_usd == pytest.approx(sum(o.cost_usd for o in day_outcomes()))


def test_summarise_by_model_and_rung():
    s = summarise("2025-10-01", day_outcomes())
    assert list(s.by_model) == sorted(s.by_model)
    mini = s.by_model["openai/gpt-4o-mini"]
    assert (mini.calls, mini.cache_hits, mini.prompt_tokens, mini.completion_tokens) == (5, 1, 400, 80)
    assert mini.cost_usd == pytest.approx(0.003)
    assert s.by_model["openai/gpt-4o"].cost_usd == pytest.approx(0.01)
    assert s.by_model["anthropic/claude-sonnet"].calls == 1  # the skipped call
    assert s.by_rung["0"].calls == 5 and s.by_rung["1"].calls == 2
    assert s.by_rung["0"].cost_usd + s.by_rung["1"].cost_usd == pytest.approx(s.cost_usd)


def test_summarise_gate_split_and_reasons():
    g = summarise("2025-10-01", day_outcomes()).gate
    assert g is not None
    assert (g.auto_reply, g.manual_review, g.page_engineering) == (2, 3, 1)
    assert g.reasons == {"low confidence": 2, "PII detected": 1, "unresolved": 1}


def test_summarise_without_gate_or_outcomes():
    s = summarise("2025-10-02", [])
    assert (s.tickets, s.calls, s.cost_usd, s.gate) == (0, 0, 0.0, None)
    assert s.escalation_rate == 0.0 and s.cache_hit_rate == 0.0
    assert summarise("d", [outcome("T-1", [call("T-1", 0)], None)]).gate is None


def _row(table: str, first: str) -> list[str]:
    line = next(line for line in table.splitlines() if line.startswith(first))
    return line.split()


def test_days_table_total_equals_the_sums():
    d1 = summarise("2025-10-01", day_outcomes())
    d2 = summarise("2025-10-02", day_outcomes()[:2])
    table = render_days_table([d1, d2])
    assert _row(table, "2025-10-01") == ["2025-10-01", "5", "2", "3", "1", "2", "1", "600", "$0.0130", "14%"]
    assert _row(table, "2025-10-02") == ["2025-10-02", "2", "2", "0", "0", "0", "0", "240", "$0.0010", "50%"]
    total = _row(table, "TOTAL")
    day_rows = [_row(table, "2025-10-01"), _row(table, "2025-10-02")]
    for col in range(1, 8):
        assert int(total[col]) == sum(int(r[col]) for r in day_rows)
    assert total[8] == "$0.0140"
    assert total[9] == f"{2 / 9:.0%}"  # 2 cache hits in 9 calls


def test_days_table_single_day_has_no_total():
    table = render_days_table([summarise("2025-10-01", day_outcomes())])
    assert "TOTAL" not in table
    assert len(table.splitlines()) == 3


def test_models_table_lists_every_deployment():
    table = render_models_table([summarise("2025-10-01", day_outcomes())])
    assert _row(table, "openai/gpt-4o-mini") == ["openai/gpt-4o-mini", "5", "1", "400", "80", "$0.0030"]
    assert _row(table, "openai/gpt-4o ") == ["openai/gpt-4o", "1", "0", "100", "20", "$0.0100"]


def test_markdown_contains_the_numbers():
    s = summarise("2025-10-01", day_outcomes(), rejected_lines=2)
    md = render_markdown(s, {"outcomes": "/out/2025-10-01/outcomes.jsonl"})
    assert md.startswith("# Ticket triage report, 2025-10-01")
    assert "| 5 | 2 | 3 | 1 | 2 | 1 | 2 |" in md
    assert "**Cost** $0.0130 for 600 tokens in 7 calls" in md
    assert "cache hits 1 (14%), saving $0.0020" in md
    assert "Escalation rate 40%" in md
    assert "stopped at rung 0: 3, rung 1: 1, rung unresolved: 1" in md
    assert "Fallbacks: openai/gpt-4o: 1" in md
    assert "Budget-limited tickets: 1" in md
    assert re.search(r"^\| low confidence \| 2 \|$", md, re.MULTILINE)
    assert "- outcomes: `/out/2025-10-01/outcomes.jsonl`" in md


def test_costs_are_rounded_not_float_noise():
    noisy = [outcome(f"T-{i}", [call(f"T-{i}", 0, cost_usd=0.0000928560)], AUTO) for i in range(100)]
    assert repr(sum(0.0000928560 for _ in range(100))) == "0.009285599999999998"  # what a bare sum gives
    s = summarise("2025-10-01", noisy)
    assert s.cost_usd == 0.0092856 and repr(s.cost_usd) == "0.0092856"
    assert repr(s.by_rung["0"].cost_usd) == "0.0092856"


def test_day_digest_is_day_first_with_the_gate_split_rates_and_rungs():
    s = summarise("2025-10-01", day_outcomes(), rejected_lines=2)
    d = day_digest(s, location="s3://b/out/2025-10-01", run_id="r1")
    assert list(d)[:5] == ["day", "tickets", "auto_reply", "manual_review", "paged"]
    assert (d["day"], d["tickets"], d["auto_reply"], d["manual_review"], d["paged"]) == (
        "2025-10-01",
        5,
        2,
        3,
        1,
    )
    assert d["escalation_rate"] == 0.4 and d["cost_usd"] == 0.013 and d["tokens"] == {"in": 500, "out": 100}
    assert d["by_rung"]["1"] == {
        "calls": 2,
        "cache_hits": 0,
        "tokens": {"in": 100, "out": 20},
        "cost_usd": 0.01,
    }
    assert d["fallbacks"] == {"openai/gpt-4o": 1} and d["stopped_at_rung"] == {
        "0": 3,
        "1": 1,
        "unresolved": 1,
    }
    assert d["review_reasons"] == {"low confidence": 2, "PII detected": 1, "unresolved": 1}
    assert (d["location"], d["run_id"]) == ("s3://b/out/2025-10-01", "r1")


def test_day_digest_before_the_gate_has_no_split():
    d = day_digest(summarise("2025-10-01", [outcome("T-1", [call("T-1", 0)], None)]))
    assert not {"auto_reply", "manual_review", "paged", "review_reasons"} & set(d)


def test_days_table_before_the_gate_prints_no_gate_columns():
    """The triage and merge logs run before the gate: no auto/review/page column reading 0."""
    s = summarise("2025-10-01", [outcome("T-1", [call("T-1", 0)], None)])
    table = render_days_table([s])
    assert "auto" not in table and "review" not in table and "page" not in table
    assert _row(table, "2025-10-01") == ["2025-10-01", "1", "0", "0", "120", "$0.0010", "0%"]
    # across days where only some were gated, the others show "-" rather than 0
    mixed = render_days_table([summarise("2025-10-02", day_outcomes()), s])
    assert _row(mixed, "2025-10-01")[2:5] == ["-", "-", "-"]


def test_rungs_table_shows_where_tickets_stopped_and_the_escalation_rate():
    table = render_rungs_table(summarise("2025-10-01", day_outcomes()))
    assert _row(table, "0") == ["0", "3", "5", "1", "480", "$0.0030"]
    assert _row(table, "unresolved")[:3] == ["unresolved", "1", "0"]
    assert "escalation rate 40%; fallbacks: openai/gpt-4o: 1" in table
