"""Command line: `python -m llm_operators.cli summary --output-root output 2025-10-01 ...`.

Reads the `summary.json` files the DAG wrote and prints per-day and total tables, for the demo and
for anyone who wants the numbers without opening the Airflow UI.
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llm_operators.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    summary = sub.add_parser("summary", help="print the per-day and total summary of triaged days")
    summary.add_argument("--output-root", required=True)
    summary.add_argument("days", nargs="+", help="YYYY-MM-DD")
    args = parser.parse_args(argv)
    return _summary(args)


if __name__ == "__main__":
    sys.exit(main())
