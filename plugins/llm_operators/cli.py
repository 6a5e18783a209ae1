"""Command line.

- `python -m llm_operators.cli summary --output-root output 2025-10-01 ...` reads the `summary.json`
  files the DAG wrote and prints per-day and total tables (the demo's last step).
- `python -m llm_operators.cli review-outcome --run-id R --ticket T --outcome corrected [--comment ..]`
  records what the human reviewer decided as a Langfuse score on that ticket's trace (LANGFUSE_* env
  vars), next to the gate's `gate_decision`: the data for tuning thresholds and prompts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
    args = parser.parse_args(argv)
    return _summary(args) if args.command == "summary" else _review_outcome(args)


if __name__ == "__main__":
    sys.exit(main())
