#!/usr/bin/env python
"""CPU per LLM call with and without Langfuse tracing, in one run.

    .venv/bin/python bench/tracing_overhead.py [--tickets 600] [--concurrency 16]

The same day goes twice through `triage_day` with the offline ladder (the real `TriageRouter`, no
network): once untraced, once traced into the loopback Langfuse fake, which runs in a child process
so its own CPU is not counted. CPU is `time.process_time()` of this process (all threads, so the
SDK's exporter thread is included) from the first ticket to the end of `flush()`. Figures are printed,
nothing is asserted (timing targets live only in bench/).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import _common as c

c.setup_imports()
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from llm_operators.core.config import offline_settings  # noqa: E402
from llm_operators.core.day_source import FileTicketSource  # noqa: E402
from llm_operators.core.ladder import Ladder, LadderPolicy  # noqa: E402
from llm_operators.core.outputs import DayOutputs  # noqa: E402
from llm_operators.core.triage_run import DayPlan, triage_day  # noqa: E402
from llm_operators.llm.cache import uninstall_cache  # noqa: E402
from llm_operators.llm.langfuse_client import LangfuseSettings  # noqa: E402
from llm_operators.llm.prompt_source import ResolvedPrompt  # noqa: E402
from llm_operators.llm.router_client import TriageRouter  # noqa: E402
from llm_operators.llm.tracing import Tracing  # noqa: E402

FAKE = """
import sys, time
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[1].rsplit("/", 1)[0] + "/tools")  # the fakes' loopback_http
from fakes import FakeLangfuseOTLP
with FakeLangfuseOTLP(public_key=sys.argv[2], secret_key="sk-bench") as fake:
    print(fake.url, flush=True)
    sys.stdin.read()  # until the parent closes it
    generations = [s for s in fake.spans if s["attributes"].get("langfuse.observation.type") == "generation"]
    print(len(generations), len(fake.spans), flush=True)
"""


def run_day(
    root: Path, tickets_root: Path, day: str, tracing: Tracing | None, concurrency: int
) -> tuple[float, int]:
    uninstall_cache()
    settings = offline_settings()
    with TriageRouter(settings) as router:
        caller = tracing.wrap_caller(router.call) if tracing else router.call
        ladder = Ladder(LadderPolicy(rungs=settings.ladder), caller=caller)
        plan = DayPlan(
            source=FileTicketSource(tickets_root),
            outputs=DayOutputs(root, day),
            day=c.DAY,
            concurrency=concurrency,
            trace_metadata=(lambda t: tracing.metadata_for(t.id)) if tracing else None,
        )
        cpu = time.process_time()
        summary = triage_day(plan, ladder).summary
        if tracing:
            tracing.flush()
        return time.process_time() - cpu, summary.calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    public_key = f"pk-lf-bench-{uuid.uuid4().hex[:8]}"
    tests_dir = str(Path(__file__).resolve().parents[1] / "tests")
    fake = subprocess.Popen(
        [sys.executable, "-c", FAKE, tests_dir, public_key],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fake.stdout is not None and fake.stdin is not None
    url = fake.stdout.readline().strip()
    with tempfile.TemporaryDirectory() as tmp:
        tickets_root, _ = c.generate_day(Path(tmp) / "tickets", args.tickets)
        day = c.DAY.isoformat()
        run_day(Path(tmp) / "warm", tickets_root, day, None, args.concurrency)  # imports, first calls
        plain_cpu, plain_calls = run_day(Path(tmp) / "plain", tickets_root, day, None, args.concurrency)
        settings = LangfuseSettings(host=url, public_key=public_key, secret_key="sk-bench")
        prompt = ResolvedPrompt.bundled()
        with Tracing(settings, run_id="bench", dag_id="ticket_triage", day=day, prompt=prompt) as tracing:
            traced_cpu, traced_calls = run_day(
                Path(tmp) / "traced", tickets_root, day, tracing, args.concurrency
            )
    fake.stdin.close()
    generations, spans = (int(x) for x in fake.stdout.readline().split())
    fake.wait(timeout=30)

    plain_ms, traced_ms = 1000 * plain_cpu / plain_calls, 1000 * traced_cpu / traced_calls
    print(f"\nTracing overhead: {args.tickets} tickets, concurrency {args.concurrency}, offline ladder\n")
    print(
        c.table(
            ["run", "calls", "CPU s", "CPU ms/call", "spans at the fake"],
            [
                ["untraced", plain_calls, f"{plain_cpu:.2f}", f"{plain_ms:.2f}", "-"],
                ["traced (Langfuse fake)", traced_calls, f"{traced_cpu:.2f}", f"{traced_ms:.2f}", spans],
            ],
        )
    )
    print(f"\ntracing adds {traced_ms - plain_ms:.2f} ms of CPU per call ({traced_ms / plain_ms:.2f}x)")
    print(
        json.dumps(
            {
                "untraced_cpu_ms_per_call": round(plain_ms, 3),
                "traced_cpu_ms_per_call": round(traced_ms, 3),
                "generations_received": generations,
            }
        )
    )


if __name__ == "__main__":
    main()
