"""The command line: the demo's summary table, and review outcomes scored on Langfuse traces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import FakeLangfuseOTLP
from labelled_outcomes import labels, outcome, result

from llm_operators.cli import main
from llm_operators.core.models import TicketOutcome
from llm_operators.llm.tracing import LangfuseSettings, Tracing


def _langfuse_env(monkeypatch: pytest.MonkeyPatch, fake: FakeLangfuseOTLP) -> None:
    for name, value in (
        ("LANGFUSE_HOST", fake.url),
        ("LANGFUSE_PUBLIC_KEY", fake.public_key),
        ("LANGFUSE_SECRET_KEY", fake.secret_key),
    ):
        monkeypatch.setenv(name, value)


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
        _langfuse_env(monkeypatch, fake)
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
        score, correct = sorted(fake.wait_for_scores(2), key=lambda s: s["name"] != "review_outcome")
    expected = Tracing(
        LangfuseSettings.from_env(),
        run_id="scheduled__2025-10-01T00:00:00+00:00",
        dag_id="ticket_triage",
        day="",
    ).trace_id("T-7")
    assert (score["name"], score["value"], score["traceId"]) == ("review_outcome", "corrected", expected)
    # the reviewer's verdict also scores the evaluation's triage_correct on the same trace
    assert (correct["name"], correct["value"], correct["traceId"]) == ("triage_correct", 0, expected)


# --- evaluate ---


def _labelled_outcome(
    tid: str, category: str, priority: str, label_priority: str, confidence: float, route: str
) -> TicketOutcome:
    # an approved reply template: the gate may send it
    answer = result(category, priority, confidence, reply_template="invoice_where_to_find")
    lab = labels(priority=label_priority)
    return outcome(tid, answer, lab, route=route, paged=priority in ("P0", "P1"), final_model="offline/fast")


def test_evaluate_writes_the_json_shape_and_a_report_with_its_plots(tmp_path: Path, capsys) -> None:
    day = tmp_path / "2025-10-01"
    day.mkdir()
    outcomes = [
        _labelled_outcome("T-1", "billing", "P2", "P2", 0.9, "auto_reply"),  # right
        _labelled_outcome("T-2", "billing", "P3", "P2", 0.8, "auto_reply"),  # wrong priority
        _labelled_outcome("T-3", "billing", "P1", "P1", 0.6, "manual_review"),  # P1 paged
        _labelled_outcome("T-4", "account", "P2", "P0", 0.5, "manual_review"),  # P0 missed
    ]
    (day / "outcomes.jsonl").write_text("".join(o.model_dump_json() + "\n" for o in outcomes))
    out_json = tmp_path / "eval.json"
    code = main(
        ["evaluate", "--output-root", str(tmp_path), "--json", str(out_json), "--max-auto-error", "0.02",
         "2025-10-01"]
    )  # fmt: skip
    assert code == 0
    data = json.loads(out_json.read_text())
    assert (data["tickets"], data["labelled"]) == (4, 4)
    assert set(data["fields"]) == {"category", "priority", "needs_human", "pii"}
    assert data["fields"]["category"]["accuracy"] == 0.75
    assert data["fields"]["priority"]["accuracy"] == 0.5
    assert set(data["calibration"]) >= {"ece", "brier"}
    assert data["gate"]["auto_replied"] == 2 and data["gate"]["auto_reply_error_rate"] == 0.5
    assert (data["gate"]["p0_p1_labelled"], data["gate"]["p0_p1_paged_recall"]) == (2, 0.5)
    assert data["llm_calls"] == 0
    # min_confidence 0.95 keeps every ticket from the customer: 0 % of nothing auto-replied is no evidence
    assert (
        data["recommendation"]["escalate_below"] is not None
        or "no point" in data["recommendation"]["message"]
    )
    report = tmp_path / "evaluation" / "2025-10-01_2025-10-01" / "report.md"
    text = report.read_text()
    for png in ("confusion_category.png", "confusion_priority.png", "reliability.png", "frontier.png"):
        assert f"]({png})" in text and (report.parent / png).stat().st_size > 1000
    assert "auto-reply error" in capsys.readouterr().out


def test_evaluate_of_days_never_triaged_fails_naming_them(tmp_path: Path, capsys) -> None:
    assert main(["evaluate", "--output-root", str(tmp_path), "2025-10-01..2025-10-02"]) == 1
    assert "2025-10-01, 2025-10-02" in capsys.readouterr().err


def test_evaluate_rejects_a_bad_day_and_a_bad_grid(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="not a day"):
        main(["evaluate", "--output-root", str(tmp_path), "yesterday"])
    with pytest.raises(SystemExit):
        main(["evaluate", "--output-root", str(tmp_path), "--escalate-grid", "0.5,1.5", "2025-10-01"])


def test_upload_prompt_creates_a_version_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from llm_operators.llm.prompt_source import DEFAULT_PROMPT_NAME

    with FakeLangfuseOTLP(public_key="pk-lf-up", secret_key="sk-lf-up") as fake:
        _langfuse_env(monkeypatch, fake)
        assert main(["upload-prompt", "--label", "production"]) == 0
        assert main(["upload-prompt", "--label", "production"]) == 0  # same text: no new version
        versions = fake.prompts[DEFAULT_PROMPT_NAME]
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("created ") and out[1].startswith("unchanged ")
    assert len(versions) == 1 and "production" in versions[0]["labels"]


def test_upload_prompt_without_keys_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("LANGFUSE_PUBLIC_KEY", raising=False)
    monkeypatch.delenv("LANGFUSE_SECRET_KEY", raising=False)
    assert main(["upload-prompt"]) == 2
    assert "LANGFUSE_PUBLIC_KEY" in capsys.readouterr().err


# --- evaluate as a Langfuse dataset run ---


def _triaged_day(root: Path, run_id: str | None) -> None:
    day = root / "2025-10-01"
    day.mkdir(parents=True)
    outcomes = [
        _labelled_outcome("T-1", "billing", "P2", "P2", 0.9, "auto_reply"),  # right
        _labelled_outcome("T-2", "billing", "P3", "P2", 0.8, "auto_reply"),  # wrong priority
    ]
    (day / "outcomes.jsonl").write_text("".join(o.model_dump_json() + "\n" for o in outcomes))
    if run_id is not None:  # the report task writes the run id into summary.json
        (day / "summary.json").write_text(json.dumps({"day": "2025-10-01", "run_id": run_id}))


def test_evaluate_with_langfuse_is_a_dataset_run_and_a_rerun_adds_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = "scheduled__2025-10-01T00:00:00+00:00"
    _triaged_day(tmp_path, run_id)
    args = ["evaluate", "--output-root", str(tmp_path), "--no-report", "--no-replay"]
    args += ["--langfuse-dataset", "cli-eval", "--langfuse-run-name", "rules@3", "--json"]
    with FakeLangfuseOTLP(public_key="pk-lf-cli-eval", secret_key="sk-lf-cli-eval") as fake:
        _langfuse_env(monkeypatch, fake)
        assert main([*args, str(tmp_path / "a.json"), "2025-10-01"]) == 0
        assert main([*args, str(tmp_path / "b.json"), "2025-10-01"]) == 0
        items, run_items, scores = fake.dataset_items, fake.dataset_run_items, fake.scores
        assert not fake.errors
    trace = {
        t: Tracing(None, run_id=run_id, dag_id="ticket_triage", day="").trace_id(t) for t in ("T-1", "T-2")
    }
    assert sorted(i["id"] for i in items) == ["T-1", "T-2"]
    assert {(r["datasetItemId"], r["traceId"], r["datasetRunName"]) for r in run_items} == {
        ("T-1", trace["T-1"], "rules@3"),
        ("T-2", trace["T-2"], "rules@3"),
    }
    assert len(run_items) == 2  # the second evaluate linked nothing again
    latest = {(s["traceId"], s["name"]): s["value"] for s in scores}
    assert latest[(trace["T-1"], "priority_correct")] == 1 and latest[(trace["T-2"], "priority_correct")] == 0
    assert latest[(trace["T-2"], "category_correct")] == 1 and latest[(trace["T-2"], "triage_correct")] == 0
    first = json.loads((tmp_path / "a.json").read_text())["langfuse"]
    second = json.loads((tmp_path / "b.json").read_text())["langfuse"]
    assert (first["items_created"], first["run_items_linked"], first["scores_sent"]) == (2, 2, 10)
    assert (second["items_unchanged"], second["run_items_existing"], second["run_items_linked"]) == (2, 2, 0)


def test_evaluate_refused_by_langfuse_exits_1_after_writing_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _triaged_day(tmp_path, "manual__1")
    with FakeLangfuseOTLP(public_key="pk-lf-cli-down", secret_key="sk-lf-cli-down") as fake:
        _langfuse_env(monkeypatch, fake)
        fake.fail_next(1, 400, "/api/public/dataset-run-items")
        code = main(["evaluate", "--output-root", str(tmp_path), "--no-replay", "2025-10-01"])
    assert code == 1
    assert "dataset-run-items: HTTP 400" in capsys.readouterr().err
    assert (tmp_path / "evaluation" / "2025-10-01_2025-10-01" / "report.md").exists()


def test_evaluate_without_langfuse_sends_nothing_and_never_imports_it(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    _triaged_day(tmp_path, "manual__1")
    probe = (
        "import sys\n"
        "from llm_operators.cli import main\n"
        f"code = main(['evaluate', '--output-root', {str(tmp_path)!r}, '--no-report', '--no-replay',"
        " '2025-10-01'])\n"
        "print(code, 'langfuse' in sys.modules, 'httpx' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANGFUSE_")}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True, timeout=120
    )
    assert out.stdout.split()[-3:] == ["0", "False", "False"]


def test_evaluate_asked_for_a_dataset_without_keys_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    _triaged_day(tmp_path, None)
    assert main(["evaluate", "--output-root", str(tmp_path), "--langfuse-dataset", "d", "2025-10-01"]) == 2
    assert "LANGFUSE_PUBLIC_KEY" in capsys.readouterr().err
