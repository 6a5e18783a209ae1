"""One evaluation of a set of triaged days: read their outcomes, score, replay, write the report.

Shared by the CLI (`python -m llm_operators.cli evaluate`) and the `ticket_triage_eval` DAG's
operator, so both produce the same files. Reads only `outcomes.jsonl`: no LLM call, no Airflow.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from llm_operators.core.eval_report import write_report
from llm_operators.core.evaluation import Evaluation, evaluate
from llm_operators.core.gate import GateRules
from llm_operators.core.models import TicketOutcome
from llm_operators.core.outputs import DayOutputs, read_json, read_jsonl
from llm_operators.core.replay import DEFAULT_GRID, Replay, Targets, replay_grid


class EvaluationInputError(ValueError):
    """No day of the range has outcomes: nothing was triaged there (or the output root is wrong)."""


def days_between(start: date, end: date) -> list[str]:
    if end < start:
        raise EvaluationInputError(f"end {end} is before start {start}")
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


@dataclass
class EvaluationRequest:
    output_root: Any  # Path or ObjectStoragePath: where the triage wrote `<day>/outcomes.jsonl`
    days: Sequence[str]
    report_dir: Path | None = None  # None: no files, figures only
    targets: Targets = field(default_factory=Targets)
    escalate_grid: Sequence[float] = DEFAULT_GRID
    confidence_grid: Sequence[float] = DEFAULT_GRID
    replay: bool = True
    rules: GateRules | None = None


@dataclass
class EvaluationResult:
    evaluation: Evaluation
    replay: Replay | None
    missing_days: list[str]
    report: Path | None
    seconds: float
    llm_calls: int = 0  # an evaluation replays what is on record: it never asks a model
    # what a Langfuse dataset run needs (llm/langfuse_datasets.py): the outcomes read, and the DAG
    # run that triaged each day (its traces), None where the day's summary.json names none
    outcomes: list[TicketOutcome] = field(default_factory=list)
    run_ids: dict[str, str | None] = field(default_factory=dict)


def read_outcomes(output_root: Any, days: Sequence[str]) -> tuple[list[TicketOutcome], list[str]]:
    outcomes: list[TicketOutcome] = []
    missing: list[str] = []
    for day in days:
        path = DayOutputs(output_root, day).outcomes
        if not path.exists():
            missing.append(day)
            continue
        outcomes.extend(read_jsonl(path, TicketOutcome))
    return outcomes, missing


def triage_run_ids(output_root: Any, days: Sequence[str]) -> dict[str, str | None]:
    """The run id the report task wrote into each day's summary.json (the run whose traces hold the
    day's tickets); None for a day without one (an every-rung evaluation triage writes no summary)."""
    run_ids: dict[str, str | None] = {}
    for day in days:
        path = DayOutputs(output_root, day).summary
        run_id = read_json(path).get("run_id") if path.exists() else None
        run_ids[day] = str(run_id) if run_id else None
    return run_ids


def run_evaluation(request: EvaluationRequest) -> EvaluationResult:
    started = time.perf_counter()
    outcomes, missing = read_outcomes(request.output_root, request.days)
    if not outcomes and missing:
        raise EvaluationInputError(
            f"no outcomes.jsonl under {request.output_root} for {', '.join(missing)}: triage those days first"
        )
    ev = evaluate(outcomes, request.rules)
    rep = (
        replay_grid(
            outcomes,
            escalate_grid=request.escalate_grid,
            confidence_grid=request.confidence_grid,
            rules=request.rules,
            targets=request.targets,
        )
        if request.replay
        else None
    )
    report = write_report(request.report_dir, ev, rep) if request.report_dir is not None else None
    return EvaluationResult(
        ev,
        rep,
        missing,
        report,
        time.perf_counter() - started,
        outcomes=outcomes,
        run_ids=triage_run_ids(request.output_root, [d for d in request.days if d not in missing]),
    )
