"""Command line.

- `python -m llm_operators.cli summary --output-root output 2025-10-01 ...` reads the `summary.json`
  files the DAG wrote and prints per-day and total tables (the demo's last step).
- `python -m llm_operators.cli review-outcome --run-id R --ticket T --outcome corrected [--comment ..]`
  records what the human reviewer decided as a Langfuse score on that ticket's trace (LANGFUSE_* env
  vars), next to the gate's `gate_decision`: the data for tuning thresholds and prompts.
- `python -m llm_operators.cli evaluate --output-root output [--json PATH] [--max-auto-error 0.02]
  [--min-p0p1-recall 0.99] 2025-10-01 [2025-10-02 | 2025-10-01..2025-10-31 ...]` scores the labelled
  tickets of triaged days, replays the thresholds and writes report.md with its PNGs (0 LLM calls).
  With LANGFUSE_* set it is also a Langfuse dataset run (`--langfuse-dataset`, `--langfuse-run-name`;
  `--no-langfuse` to skip): items = labelled tickets, run items = their traces, scores per field.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from llm_operators.core.outputs import DayOutputs, read_json
from llm_operators.core.report import TriageSummary, render_days_table, render_models_table


def _summary(args: argparse.Namespace) -> int:
    root = Path(args.output_root).resolve()
    summaries, missing = [], []
    for day in args.days:
        path = DayOutputs(root, day).summary
        if not path.exists():
            missing.append(str(path))
            continue
        data = read_json(path)
        summaries.append(
            TriageSummary.model_validate({k: v for k, v in data.items() if k in TriageSummary.model_fields})
        )
    if missing:
        print("missing summaries (did those runs fail?):\n  " + "\n  ".join(missing), file=sys.stderr)
    if not summaries:
        return 1
    offline = any(read_json(DayOutputs(root, s.day).summary).get("offline") for s in summaries)
    print(f"\nTicket triage{' (offline model: no key, no network)' if offline else ''}\n")
    print(render_days_table(summaries))
    print("\nBy model\n")
    print(render_models_table(summaries))
    print("\nFiles per day (outcomes.jsonl, outbox.jsonl, review.jsonl, report.md, summary.json):")
    for s in summaries:
        print(f"  {DayOutputs(root, s.day).dir}")
    return 1 if missing else 0


REVIEW_OUTCOMES = ("agreed", "corrected", "escalated", "spam")


def _review_outcome(args: argparse.Namespace) -> int:
    from llm_operators.llm.tracing import LangfuseSettings, Tracing

    settings = LangfuseSettings.from_env()
    if settings is None:
        print("LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY must be set", file=sys.stderr)
        return 2
    with Tracing(settings, run_id=args.run_id, dag_id=args.dag_id, day="") as tracing:
        tracing.score_review_outcome(args.ticket, args.outcome, args.comment)
        print(
            f"review_outcome={args.outcome} on trace {tracing.trace_id(args.ticket)} (ticket {args.ticket})"
        )
    return 0


def _days(specs: list[str]) -> list[str]:
    """Days as given, `A..B` expanding to every day from A to B (inclusive)."""
    from llm_operators.core.evaluation_run import days_between

    days: list[str] = []
    for spec in specs:
        first, _, last = spec.partition("..")
        try:
            start = date.fromisoformat(first)
            end = date.fromisoformat(last) if last else start
        except ValueError:
            raise SystemExit(
                f"evaluate: {spec!r} is not a day (YYYY-MM-DD) or a range (YYYY-MM-DD..YYYY-MM-DD)"
            ) from None
        days.extend(d for d in days_between(start, end) if d not in days)
    return days


def _grid(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected comma-separated numbers such as 0.5,0.6,0.7"
        ) from None
    if not values or any(not 0.0 <= v <= 1.0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: thresholds must lie in 0..1")
    return values


def _evaluate(args: argparse.Namespace) -> int:
    from llm_operators.core.eval_report import render_text
    from llm_operators.core.evaluation_run import EvaluationInputError, EvaluationRequest, run_evaluation
    from llm_operators.core.replay import DEFAULT_GRID, Targets
    from llm_operators.llm.langfuse_client import LangfuseSettings

    langfuse = None if args.no_langfuse else LangfuseSettings.from_env()
    if langfuse is None and args.langfuse_dataset and not args.no_langfuse:
        print(
            "evaluate: --langfuse-dataset needs LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY", file=sys.stderr
        )
        return 2
    root = Path(args.output_root).resolve()
    days = _days(args.days)
    report_dir = Path(args.report_dir) if args.report_dir else root / "evaluation" / f"{days[0]}_{days[-1]}"
    request = EvaluationRequest(
        output_root=root,
        days=days,
        report_dir=None if args.no_report else report_dir,
        targets=Targets(
            max_auto_error=args.max_auto_error,
            min_p0p1_recall=args.min_p0p1_recall,
            min_accuracy=args.min_accuracy,
            min_auto_reply_share=args.min_auto_reply_share,
        ),
        escalate_grid=args.escalate_grid or DEFAULT_GRID,
        confidence_grid=args.confidence_grid or DEFAULT_GRID,
        replay=not args.no_replay,
    )
    try:
        result = run_evaluation(request)
    except EvaluationInputError as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 1
    if result.missing_days:
        print(
            f"no outcomes for {len(result.missing_days)} day(s): {', '.join(result.missing_days)}",
            file=sys.stderr,
        )
    print(render_text(result.evaluation, result.replay))
    if result.report is not None:
        print(f"\nreport: {result.report}")
    if args.json:
        summary = result.evaluation.summary_json()
        if result.replay is not None:
            rec = result.replay.recommendation
            summary["recommendation"] = {
                "targets": rec.targets,
                "message": rec.message,
                "escalate_below": rec.point.escalate_below if rec.point else None,
                "min_confidence": rec.point.min_confidence if rec.point else None,
            }
        summary["llm_calls"] = result.llm_calls
    status = 0
    if langfuse is not None:
        published = _publish_dataset_run(args, langfuse, result)
        status = 0 if published is not None else 1
        if args.json:
            summary["langfuse"] = published
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return status


def _publish_dataset_run(args: argparse.Namespace, settings: Any, result: Any) -> dict[str, Any] | None:
    """The evaluation as a Langfuse dataset run; None (and the reason on stderr) when Langfuse refused.
    The report files are written already: nothing of the evaluation is lost."""
    from dataclasses import asdict

    from llm_operators.llm.langfuse_client import LangfuseConfigError
    from llm_operators.llm.langfuse_datasets import (
        DEFAULT_DATASET,
        DatasetRunSpec,
        LangfuseDatasetError,
        load_item_tags,
        publish_dataset_run,
    )

    try:
        spec = DatasetRunSpec(
            dataset=args.langfuse_dataset or DEFAULT_DATASET,
            run_name=args.langfuse_run_name,
            dag_id=args.triage_dag_id,
            run_id=args.triage_run_id,
            tags=load_item_tags(args.item_tags) if args.item_tags else {},
        )
        report = publish_dataset_run(settings, spec, result.outcomes, result.run_ids)
    except (LangfuseDatasetError, LangfuseConfigError, ValueError) as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return None
    print("\n" + report.summary())
    return asdict(report)


def _upload_prompt(args: argparse.Namespace) -> int:
    """The bundled triage rules as a new version of the Langfuse prompt (nothing if unchanged)."""
    from llm_operators.llm.langfuse_client import LangfuseSettings
    from llm_operators.llm.prompt_source import upload_bundled_prompt

    settings = LangfuseSettings.from_env()
    if settings is None:
        print("upload-prompt: LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY must be set", file=sys.stderr)
        return 2
    prompt, created = upload_bundled_prompt(settings, labels=tuple(args.label or ()), force=args.force)
    print(f"{'created' if created else 'unchanged'} {prompt.ref}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llm_operators.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    summary = sub.add_parser("summary", help="print the per-day and total summary of triaged days")
    summary.add_argument("--output-root", required=True)
    summary.add_argument("days", nargs="+", help="YYYY-MM-DD")
    review = sub.add_parser("review-outcome", help="score a human review on the ticket's Langfuse trace")
    review.add_argument("--run-id", required=True, help="the DAG run that triaged the ticket")
    review.add_argument("--dag-id", default="ticket_triage")
    review.add_argument("--ticket", required=True)
    review.add_argument("--outcome", required=True, choices=REVIEW_OUTCOMES)
    review.add_argument("--comment", default="")
    ev = sub.add_parser("evaluate", help="score triaged days against their labels and replay the thresholds")
    ev.add_argument("--output-root", required=True)
    ev.add_argument("--json", help="write the figures as JSON to this path")
    ev.add_argument(
        "--report-dir", help="where report.md and the PNGs go (default OUT/evaluation/FIRST_LAST)"
    )
    ev.add_argument("--no-report", action="store_true", help="print only, write no report files")
    ev.add_argument("--no-replay", action="store_true", help="skip the threshold replay")
    ev.add_argument("--max-auto-error", type=float, help="target: auto-reply error rate at most this (0..1)")
    ev.add_argument("--min-p0p1-recall", type=float, help="target: labelled P0/P1 paged at least this (0..1)")
    ev.add_argument("--min-accuracy", type=float, help="target: category+priority right at least this (0..1)")
    ev.add_argument("--min-auto-reply-share", type=float, help="target: share auto-replied at least this")
    ev.add_argument("--escalate-grid", type=_grid, help="escalate_below values, e.g. 0.5,0.6,0.7")
    ev.add_argument("--confidence-grid", type=_grid, help="min_confidence values, e.g. 0.5,0.6,0.7")
    ev.add_argument(
        "--langfuse-dataset", help="Langfuse dataset of the labelled tickets (default ticket-triage-labelled)"
    )
    ev.add_argument("--langfuse-run-name", help="dataset run name (default: prompt@version | final models)")
    ev.add_argument("--triage-dag-id", default="ticket_triage", help="the DAG whose traces the run links")
    ev.add_argument("--triage-run-id", help="link this run's traces for every day (default: summary.json's)")
    ev.add_argument("--item-tags", help="JSON {ticket id: [tags]} for item metadata (golden/tags.json)")
    ev.add_argument("--no-langfuse", action="store_true", help="no dataset run even with LANGFUSE_* set")
    ev.add_argument("days", nargs="+", help="YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD")
    upload = sub.add_parser("upload-prompt", help="the bundled triage rules as a new Langfuse prompt version")
    upload.add_argument("--label", action="append", help="label the new version (e.g. production)")
    upload.add_argument("--force", action="store_true", help="a new version even if the text is unchanged")
    args = parser.parse_args(argv)
    commands = {
        "summary": _summary,
        "review-outcome": _review_outcome,
        "evaluate": _evaluate,
        "upload-prompt": _upload_prompt,
    }
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
