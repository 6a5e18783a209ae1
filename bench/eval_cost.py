"""What an evaluation costs: the every-rung triage it may need, and the replay itself (0 LLM calls).

    .venv/bin/python bench/eval_cost.py [--start 2025-09-01] [--end 2025-11-29] [--out DIR]
        [--source include/sample_data/tickets] [--max-auto-error 0.02] [--min-p0p1-recall 0.99]

1. Triages the range with every rung asked (core/eval_triage.py) through the LiteLLM Router and the
   offline models (the `litellm` connection from AIRFLOW_CONN_LITELLM_DEFAULT, offline if unset),
   into `<out>/eval_triage`, and prints its calls and cost next to what the live thresholds spend.
2. Runs the evaluation and the threshold replay in a fresh process and prints its wall time, peak
   memory and whether litellm was even imported there (it must not be: the replay asks no model).
Prints figures; asserts nothing. The report (report.md, PNGs) lands in `<out>/eval_triage/evaluation/`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault(
    "AIRFLOW_CONN_LITELLM_DEFAULT", json.dumps({"conn_type": "litellm", "extra": {"offline": True}})
)

_EVALUATE = """
import json, resource, sys, time
sys.path.insert(0, {plugins!r})
from pathlib import Path
from llm_operators.core.evaluation_run import EvaluationRequest, days_between, run_evaluation
from llm_operators.core.replay import Targets
from datetime import date
started = time.perf_counter()
r = run_evaluation(EvaluationRequest(
    output_root=Path({root!r}), days=days_between(date.fromisoformat({start!r}), date.fromisoformat({end!r})),
    report_dir=Path({report!r}), targets=Targets(max_auto_error={err}, min_p0p1_recall={rec})))
print(json.dumps({{
    "seconds": round(time.perf_counter() - started, 2),
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    "litellm_imported": "litellm" in sys.modules,
    "tickets": r.evaluation.tickets, "grid_points": len(r.replay.grid) if r.replay else 0,
    "recommendation": r.replay.recommendation.message if r.replay else None,
    "summary": r.evaluation.summary_json(),
}}))
"""


def triage_every_rung(source: Path, out: Path, start: date, end: date) -> dict[str, float]:
    from llm_operators.core.day_source import FileTicketSource
    from llm_operators.core.eval_triage import ASK_EVERY_RUNG, triage_for_evaluation
    from llm_operators.core.evaluation_run import days_between
    from llm_operators.core.gate import GateRules
    from llm_operators.core.ladder import Ladder, LadderPolicy
    from llm_operators.core.models import TicketOutcome
    from llm_operators.core.outputs import DayOutputs, read_jsonl
    from llm_operators.core.replay import replay_ladder
    from llm_operators.core.rung_answers import rung_answers
    from llm_operators.core.triage_run import DayPlan
    from llm_operators.hooks.litellm import LiteLLMHook

    hook = LiteLLMHook("litellm_default")
    settings = hook.settings
    router = hook.get_conn()
    ladder = Ladder(LadderPolicy(rungs=settings.ladder, escalate_below=ASK_EVERY_RUNG), caller=router.call)
    started = time.perf_counter()
    calls = tickets = 0
    cost = live_cost = 0.0
    try:
        for day in days_between(start, end):
            outputs = DayOutputs(out, day)
            plan = DayPlan(
                source=FileTicketSource(source), outputs=outputs, day=date.fromisoformat(day), concurrency=16
            )
            r = triage_for_evaluation(
                plan, ladder, live_escalate_below=settings.escalate_below, rules=GateRules()
            )
            calls += r.calls
            tickets += r.tickets
            cost += r.cost_usd
            for o in read_jsonl(outputs.outcomes, TicketOutcome):
                live_cost += replay_ladder(
                    rung_answers(o), len(settings.ladder), settings.escalate_below
                ).cost_usd
    finally:
        router.close()
    return {
        "tickets": tickets,
        "calls": calls,
        "cost_usd": round(cost, 6),
        "live_cost_usd": round(live_cost, 6),
        "seconds": round(time.perf_counter() - started, 2),
        "offline": hook.offline,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--start", default="2025-09-01")
    parser.add_argument("--end", default="2025-11-29")
    parser.add_argument("--source", default=str(ROOT / "include" / "sample_data" / "tickets"))
    parser.add_argument("--out", default="")
    parser.add_argument("--max-auto-error", type=float, default=0.02)
    parser.add_argument("--min-p0p1-recall", type=float, default=0.99)
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="eval_cost_")) / "eval_triage"
    start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)

    t = triage_every_rung(Path(args.source), out, start, end)
    code = _EVALUATE.format(
        plugins=str(ROOT / "plugins"),
        root=str(out),
        start=args.start,
        end=args.end,
        report=str(out / "evaluation" / f"{args.start}_{args.end}"),
        err=args.max_auto_error,
        rec=args.min_p0p1_recall,
    )
    ev = json.loads(
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    )

    print(f"\nEvaluation cost, {args.start}..{args.end} ({t['tickets']} tickets, offline={t['offline']})\n")
    print("| step | LLM calls | cost $ | wall s | notes |")
    print("|---|---:|---:|---:|---|")
    print(
        f"| triage, every rung asked | {t['calls']} | {t['cost_usd']:.4f} | {t['seconds']} | "
        f"the live thresholds would have spent ${t['live_cost_usd']:.4f} |"
    )
    print(
        f"| evaluate + replay {ev['grid_points']} threshold points | 0 | 0 | {ev['seconds']} | "
        f"litellm imported: {ev['litellm_imported']}; peak RSS {ev['peak_rss_mb']} MB |"
    )
    print(
        f"\n{ev['recommendation']}\nreport: {out / 'evaluation' / f'{args.start}_{args.end}' / 'report.md'}"
    )
    print(json.dumps(ev["summary"], indent=2))


if __name__ == "__main__":
    main()
