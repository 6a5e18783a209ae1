"""Cost per 1,000 tickets and wall time, live vs batch, on the same generated day and the same answers.

Both modes run the real operators (`TriageOperator`, `BatchTriageOperator`) against one loopback
provider that serves live chat completions and the OpenAI Batch API with the same answer function
(the offline engine, `careful` for the strong rung). Deployments are priced like gpt-4o-mini /
gpt-4o; batch lines are billed at the batch price (here the connection's 50 % discount). The batch
run's wait is driven by hand (execute -> trigger -> resume), like the triggerer would.

    .venv/bin/python bench/batch_cost.py --tickets 500 --completion-delay-s 1

Wall time of batch mode here is the local cost of rounds plus the simulated provider delay per round;
in production it is dominated by the provider's turnaround (minutes to 24 h per round).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _common import GENERATOR, PRICES, PY, REPO, setup_imports

setup_imports()
sys.path.insert(0, str(REPO / "tests"))  # the loopback batch provider and the model list used by the tests

DAY = "2025-10-01"


def answer(model: str, messages: list[dict[str, Any]]) -> str:
    from llm_operators.core.offline_engine import triage_text
    from llm_operators.core.prompts import extract_ticket_text

    return json.dumps(triage_text(extract_ticket_text(messages), "careful" if model == "careful" else "fast"))


def connection(base: str) -> str:
    from batch_models import model_list

    extra = {
        "model_list": model_list(base, PRICES),  # cheap -> openai/fast, strong -> openai/careful
        "ladder": ["cheap", "strong"],
        "router_settings": {"num_retries": 0},
        "concurrency": 32,
        "cache_namespace": f"bench-batch-{uuid.uuid4().hex[:8]}",
    }
    return json.dumps({"conn_type": "litellm", "password": "sk-bench", "extra": extra})


def run_live(source: Path, out: Path) -> tuple[dict[str, Any], float]:
    from llm_operators.operators.triage import TriageOperator

    op = TriageOperator(
        task_id="live",
        source_root=str(source),
        output_root=str(out),
        run_date=DAY,
        litellm_conn_id="bench_live",
        redis_conn_id=None,
        langfuse_conn_id=None,
    )
    t0 = time.perf_counter()
    payload = op.execute({"logical_date": None, "dag_run": None, "outlet_events": {}})
    return payload, time.perf_counter() - t0


def run_batch(source: Path, out: Path, min_round_size: int) -> tuple[dict[str, Any], float]:
    from airflow.sdk.exceptions import TaskDeferred

    from llm_operators.operators.batch_triage import BatchTriageOperator

    def op() -> BatchTriageOperator:
        return BatchTriageOperator(
            task_id="batch",
            source_root=str(source),
            output_root=str(out),
            run_date=DAY,
            litellm_conn_id="bench_batch",
            redis_conn_id=None,
            batch_settings={"min_round_size": min_round_size, "poll_interval_s": 0.2},
        )

    async def event(trigger: Any) -> dict[str, Any]:
        async for e in trigger.run():
            return e.payload
        raise RuntimeError("trigger ended without an event")

    t0 = time.perf_counter()
    try:
        return op().execute({"logical_date": None, "dag_run": None}), time.perf_counter() - t0
    except TaskDeferred as deferred:
        trigger = deferred.trigger
    while True:
        payload = asyncio.run(event(trigger))
        try:
            return op().resume({"logical_date": None, "dag_run": None}, payload), time.perf_counter() - t0
        except TaskDeferred as deferred:
            trigger = deferred.trigger


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tickets", type=int, default=300)
    parser.add_argument("--completion-delay-s", type=float, default=1.0, help="simulated provider turnaround")
    parser.add_argument("--min-round-size", type=int, default=20)
    args = parser.parse_args()

    from fakes.batch_provider import FakeBatchProvider

    from chaos_provider.batch_api import BatchBehaviour

    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeBatchProvider(answer, BatchBehaviour(completion_delay_s=args.completion_delay_s)) as provider,
    ):
        source = Path(tmp) / "tickets"
        subprocess.run(
            [
                PY,
                str(GENERATOR),
                "--out",
                str(source),
                "--start",
                DAY,
                "--days",
                "1",
                "--per-day",
                str(args.tickets),
            ],
            check=True,
            capture_output=True,
        )
        os.environ["AIRFLOW_CONN_BENCH_LIVE"] = connection(provider.openai_base)
        os.environ["AIRFLOW_CONN_BENCH_BATCH"] = connection(provider.openai_base)
        live, live_s = run_live(source, Path(tmp) / "live")
        live_http = len(provider.requests)
        provider.clear()
        batch, batch_s = run_batch(source, Path(tmp) / "batch", args.min_round_size)
        batch_live_calls = len(provider.live_requests())

    rows = [
        ("mode", "live", "batch"),
        ("tickets", live["tickets"], batch["tickets"]),
        ("cost", f"${live['cost_usd']:.4f}", f"${batch['cost_usd']:.4f}"),
        (
            "cost / 1,000 tickets",
            f"${live['cost_usd'] * 1000 / max(1, live['tickets']):.4f}",
            f"${batch['cost_usd'] * 1000 / max(1, batch['tickets']):.4f}",
        ),
        ("provider HTTP requests", live_http, "-"),
        ("provider batches (rounds)", "-", f"{len(batch['provider_batches'])} ({batch['rounds']})"),
        ("live calls in batch mode", "-", batch_live_calls),
        (
            "wall time",
            f"{live_s:.1f} s",
            f"{batch_s:.1f} s (incl. {args.completion_delay_s:.1f} s/round provider)",
        ),
    ]
    width = max(len(str(r[0])) for r in rows)
    for name, a, b in rows:
        print(f"{name:<{width}}  {a!s:>14}  {b!s}")
    saving = 1 - batch["cost_usd"] / live["cost_usd"] if live["cost_usd"] else 0.0
    print(f"\nbatch mode costs {saving:.0%} less than live on the same day and answers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
