"""The command line: the demo's summary table, and review outcomes scored on Langfuse traces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import FakeLangfuseOTLP

from llm_operators.cli import main
from llm_operators.llm.tracing import LangfuseSettings, Tracing


def test_summary_prints_days_total_and_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for day, tickets, cost in (("2025-10-01", 3, 0.5), ("2025-10-02", 4, 0.25)):
        (tmp_path / day).mkdir()
        (tmp_path / day / "summary.json").write_text(
            json.dumps(
                {
                    "day": day,
                    "tickets": tickets,
                    "cost_usd": cost,
                    "offline": True,
                    "by_model": {"offline/fast": {"calls": tickets, "cost_usd": cost}},
                }
            )
        )
    assert main(["summary", "--output-root", str(tmp_path), "2025-10-01", "2025-10-02"]) == 0
    out = capsys.readouterr().out
    total = next(line for line in out.splitlines() if line.startswith("TOTAL"))
    assert total.split()[1] == "7" and "$0.7500" in total
    assert "offline/fast" in out and "offline model" in out


def test_summary_of_a_missing_day_fails(tmp_path: Path) -> None:
    assert main(["summary", "--output-root", str(tmp_path), "2025-10-01"]) == 1


def test_review_outcome_lands_on_the_ticket_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeLangfuseOTLP(public_key="pk-lf-cli", secret_key="sk-lf-cli") as fake:
        for name, value in (
            ("LANGFUSE_HOST", fake.url),
            ("LANGFUSE_PUBLIC_KEY", "pk-lf-cli"),
            ("LANGFUSE_SECRET_KEY", "sk-lf-cli"),
        ):
            monkeypatch.setenv(name, value)
        code = main(
            [
                "review-outcome",
                "--run-id",
                "scheduled__2025-10-01T00:00:00+00:00",
                "--ticket",
                "T-7",
                "--outcome",
                "corrected",
                "--comment",
                "was billing, not technical",
            ]
        )
        assert code == 0
        (score,) = fake.wait_for_scores(1)
    expected = Tracing(
        LangfuseSettings.from_env(),
        run_id="scheduled__2025-10-01T00:00:00+00:00",
        dag_id="ticket_triage",
        day="",
    ).trace_id("T-7")
    assert (score["name"], score["value"], score["traceId"]) == ("review_outcome", "corrected", expected)
