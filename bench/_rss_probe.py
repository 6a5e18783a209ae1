"""One `triage_day` in a fresh process, for its peak RSS (benchmark 6 of bench/run.py).

Prints one JSON line: the peak RSS after the imports (the baseline) and at the end of the run (VmHWM,
the kernel's high-water mark of this process), `ru_maxrss` before and after, the RSS still held at
the end, wall and CPU seconds, tickets and calls.

    .venv/bin/python bench/_rss_probe.py --source-root DIR --output-root DIR --day 2025-10-01

`--caller direct` (default) is the offline ladder without litellm: the offline models' answers,
token estimates and prices, called in-process, so 100k tickets take minutes rather than the
quarter of an hour the Router's ~8-10 ms of CPU per call would cost. `--caller router` goes through
`TriageRouter(offline_settings())` (the DAG's no-connection default) instead.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from llm_operators.core.call_request import CallRequest
from llm_operators.core.config import OFFLINE_PRICES, offline_settings
from llm_operators.core.day_source import FileTicketSource
from llm_operators.core.ladder import Ladder, LadderPolicy
from llm_operators.core.models import CallRecord, CallStatus
from llm_operators.core.offline_engine import triage_text
from llm_operators.core.outputs import DayOutputs
from llm_operators.core.prompts import extract_ticket_text
from llm_operators.core.triage_run import DayPlan, triage_day


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)  # as the offline provider estimates them


async def direct_offline_call(request: CallRequest) -> tuple[str | None, CallRecord]:
    """What `OfflineTriageLLM` answers through the Router, minus the Router."""
    ticket_id, rung, group, messages, repair = (
        request.ticket_id,
        request.rung,
        request.group,
        request.messages,
        request.repair,
    )
    started = datetime.now(UTC)
    content = json.dumps(
        triage_text(extract_ticket_text(messages), "careful" if group == "careful" else "fast")
    )
    prompt_tokens = _tokens("".join(str(m.get("content", "")) for m in messages))
    completion_tokens = _tokens(content)
    price_in, price_out = OFFLINE_PRICES[group]
    return content, CallRecord(
        ticket_id=ticket_id,
        rung=rung,
        model_group=group,
        deployment=f"offline/{group}",
        repair=repair,
        status=CallStatus.OK,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=prompt_tokens * price_in + completion_tokens * price_out,
        started_at=started,
    )


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    return float("nan")


def vm_hwm_mb() -> float:
    """Peak RSS of this process's own memory since exec (the kernel's high-water mark)."""
    return _status_mb("VmHWM")


def vm_rss_mb() -> float:
    return _status_mb("VmRSS")


def ru_maxrss_mb() -> float:
    """`getrusage(RUSAGE_SELF).ru_maxrss`. Linux carries the pre-exec peak over an exec, so in a
    child of a big process (bench/run.py has litellm loaded) it starts at the parent's RSS."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source-root", required=True, type=Path)
    parser.add_argument("--output-root", required=True, type=Path)
    parser.add_argument("--day", required=True, type=date.fromisoformat)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--caller", choices=("direct", "router"), default="direct")
    parser.add_argument("--first", type=int, default=0, help="a batch: the window [first, first + count)")
    parser.add_argument("--count", type=int, default=None)
    args = parser.parse_args()

    settings = offline_settings()
    router = None
    if args.caller == "router":
        from llm_operators.llm.cache import uninstall_cache
        from llm_operators.llm.router_client import TriageRouter

        uninstall_cache()
        router = TriageRouter(settings)
        caller: Any = router.call
    else:
        caller = direct_offline_call
    ladder = Ladder(LadderPolicy(rungs=settings.ladder), caller)
    outputs = DayOutputs(args.output_root, args.day.isoformat())
    window = {"first": args.first, "count": args.count} if args.count is not None else {}
    plan = DayPlan(
        source=FileTicketSource(args.source_root),
        outputs=outputs,
        day=args.day,
        concurrency=args.concurrency,
        **window,
    )

    baseline, baseline_maxrss = vm_hwm_mb(), ru_maxrss_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    result = triage_day(plan, ladder)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak, maxrss = vm_hwm_mb(), ru_maxrss_mb()
    if router is not None:
        router.close()
    summary = result.summary
    print(
        json.dumps(
            {
                "caller": args.caller,
                "tickets": summary.tickets,
                "calls": summary.calls,
                "wall_s": round(wall, 2),
                "cpu_s": round(cpu, 2),
                "baseline_rss_mb": round(baseline, 1),
                "peak_rss_mb": round(peak, 1),
                "end_rss_mb": round(vm_rss_mb(), 1),
                "ru_maxrss_before_mb": round(baseline_maxrss, 1),
                "ru_maxrss_mb": round(maxrss, 1),
                "outcomes_jsonl_mb": round(outputs.outcomes.stat().st_size / 2**20, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
