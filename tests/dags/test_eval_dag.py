"""The evaluation DAG: parses without the heavy libraries, is wired thin, and its operators run the
core (the evaluation on outcomes on record; the every-rung triage through the offline models)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"


@pytest.fixture(scope="module")
def dag(dagbag):
    return dagbag.dags["ticket_triage_eval"]


def test_parse_imports_neither_litellm_nor_the_metric_libraries() -> None:
    probe = (
        "import sys, importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('e', {str(DAGS / 'ticket_triage_eval.py')!r})\n"
        "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
        "print(*(m in sys.modules for m in ('litellm', 'sklearn', 'matplotlib')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["False", "False", "False"]


def test_wiring_and_params(dag) -> None:
    assert set(dag.task_ids) == {"triage_every_rung", "evaluate"}
    evaluate = dag.get_task("evaluate")
    assert evaluate.upstream_task_ids == {"triage_every_rung"}
    assert evaluate.trigger_rule == "none_failed"  # a skipped every-rung triage does not skip it
    assert {"start", "end", "output_root", "ask_every_rung", "max_auto_error", "min_p0p1_recall"} <= set(
        dag.params
    )
    assert dag.params["ask_every_rung"] is False


def _outcomes_day(root: Path, day: str = "2025-10-01") -> None:
    from llm_operators.core.models import GateDecision, OutcomeStatus, Ticket, TicketLabels, TicketOutcome

    (root / day).mkdir(parents=True)
    labels = TicketLabels(category="billing", priority="P1", needs_human=False, pii=False)
    o = TicketOutcome(
        ticket_id="T-1",
        day=day,
        status=OutcomeStatus.UNRESOLVED,
        ticket=Ticket(id="T-1", created_at=f"{day}T09:00:00+00:00", subject="s", body="b", labels=labels),
        error="empty body: nothing to triage",
        gate=GateDecision(route="manual_review", reasons=["unresolved"]),
    )
    (root / day / "outcomes.jsonl").write_text(o.model_dump_json() + "\n")


def test_evaluate_operator_writes_the_report_and_returns_small_figures(tmp_path: Path) -> None:
    from llm_operators.operators.evaluation import EvaluationOperator

    _outcomes_day(tmp_path)
    op = EvaluationOperator(
        task_id="evaluate",
        start="2025-10-01",
        end="2025-10-01",
        output_root=str(tmp_path),
        max_auto_error=0.02,
    )
    out = op.execute({})
    assert (out["tickets"], out["labelled"], out["unresolved_labelled"]) == (1, 1, 1)
    assert out["gate"]["p0_p1_labelled"] == 1 and out["gate"]["p0_p1_paged_recall"] == 0.0
    assert out["llm_calls"] == 0 and Path(out["report"]).exists()
    assert len(json.dumps(out)) < 10_000  # XCom stays small


def test_evaluate_operator_fails_on_a_range_never_triaged(tmp_path: Path) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from llm_operators.operators.evaluation import EvaluationOperator

    op = EvaluationOperator(
        task_id="evaluate", start="2025-10-02", end="2025-10-01", output_root=str(tmp_path)
    )
    with pytest.raises(AirflowFailException, match="before start"):
        op.execute({})


def test_every_rung_triage_is_skipped_unless_asked(tmp_path: Path) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    from llm_operators.operators.evaluation import EvaluationTriageOperator

    op = EvaluationTriageOperator(
        task_id="t", enabled=False, start="2025-10-01", end="2025-10-01", source_root="x", output_root="y"
    )
    with pytest.raises(AirflowSkipException):
        op.execute({})


def test_every_rung_triage_asks_every_rung_and_keeps_the_live_view(tmp_path: Path, monkeypatch) -> None:
    from llm_operators.core.models import TicketOutcome
    from llm_operators.core.outputs import read_jsonl
    from llm_operators.operators.evaluation import EvaluationTriageOperator

    monkeypatch.setenv(
        "AIRFLOW_CONN_LITELLM_DEFAULT", json.dumps({"conn_type": "litellm", "extra": {"offline": True}})
    )
    op = EvaluationTriageOperator(
        task_id="t",
        enabled=True,
        start="2025-10-01",
        end="2025-10-01",
        source_root=str(REPO / "include" / "sample_data" / "tickets"),
        output_root=str(tmp_path),
    )
    totals = op.execute({})
    outcomes = list(read_jsonl(tmp_path / "2025-10-01" / "outcomes.jsonl", TicketOutcome))
    assert totals["tickets"] == len(outcomes) == 13
    # every ticket with a body was asked both rungs, yet its final answer is the live ladder's
    assert all({c.rung for c in o.calls if c.purpose == "triage"} == {0, 1} for o in outcomes)
    assert any(o.final_rung == 0 for o in outcomes) and all(o.gate is not None for o in outcomes)
    assert not (tmp_path / "2025-10-01" / "outbox.jsonl").exists()  # nothing sent to anyone


def test_params_name_the_langfuse_dataset_and_run(dag) -> None:
    assert dag.params["langfuse_dataset"] == "ticket-triage-labelled"
    assert dag.params["langfuse_run_name"] == ""
    evaluate = dag.get_task("evaluate")
    assert {"langfuse_dataset", "langfuse_run_name"} <= set(evaluate.template_fields)


def test_evaluate_operator_with_langfuse_makes_the_dataset_run(tmp_path: Path, monkeypatch) -> None:
    import uuid

    from fakes import FakeLangfuseOTLP

    from llm_operators.llm.tracing import Tracing
    from llm_operators.operators.evaluation import EvaluationOperator

    _outcomes_day(tmp_path)
    (tmp_path / "2025-10-01" / "summary.json").write_text(json.dumps({"run_id": "manual__7"}))
    with FakeLangfuseOTLP(public_key=f"pk-lf-{uuid.uuid4().hex[:8]}") as fake:
        monkeypatch.setenv("LANGFUSE_HOST", fake.url)
        monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", fake.public_key)
        monkeypatch.setenv("LANGFUSE_SECRET_KEY", fake.secret_key)
        op = EvaluationOperator(
            task_id="evaluate",
            start="2025-10-01",
            end="2025-10-01",
            output_root=str(tmp_path),
            langfuse_conn_id=None,  # no connection: the LANGFUSE_* env vars
            langfuse_dataset="dag-eval",
            langfuse_run_name=None,  # a native render of an empty param
        )
        out = op.execute({})
        assert not fake.errors
        (item,) = fake.dataset_items
        (run_item,) = fake.dataset_run_items
        scores = {s["name"]: s["value"] for s in fake.scores}
    trace = Tracing(None, run_id="manual__7", dag_id="ticket_triage", day="").trace_id("T-1")
    assert item["id"] == "T-1" and item["datasetName"] == "dag-eval"
    assert run_item["traceId"] == trace and run_item["datasetRunName"] == "prompt-unknown | no-model"
    assert scores == dict.fromkeys(scores, 0) and len(scores) == 5  # unresolved: wrong on every field
    assert out["langfuse"]["run_items_linked"] == 1 and out["langfuse"]["scores_sent"] == 5
