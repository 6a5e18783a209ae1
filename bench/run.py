#!/usr/bin/env python
"""Benchmarks of the triage pipeline against the chaos provider (fixed latency) and the offline ladder.

    .venv/bin/python bench/run.py            # ~6 minutes on 2 cores
    .venv/bin/python bench/run.py --quick    # ~1 minute: smaller days, no 100k-ticket day

Figures are printed and written to bench/results/latest.json; nothing is asserted. Everything runs
on 127.0.0.1: the chaos provider in a child process, Redis on 127.0.0.1:6379 db 15 (benchmark 4).
See bench/README.md for what each benchmark measures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import _common as c

c.setup_imports()

from llm_operators.core.call_request import CallRequest  # noqa: E402
from llm_operators.core.config import offline_settings  # noqa: E402
from llm_operators.core.day_source import FileTicketSource  # noqa: E402
from llm_operators.core.ladder import Ladder, LadderPolicy  # noqa: E402
from llm_operators.core.outputs import DayOutputs  # noqa: E402
from llm_operators.core.triage_run import DayPlan, DayResult, triage_day  # noqa: E402

PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "tickets": 1500,  # benchmarks 1 and 2 (the day)
        "tickets_c1": 60,  # benchmark 1 at concurrency 1
        "concurrency": (1, 8, 32, 64),
        "naive_tickets": 100,  # benchmark 2 (sequential loop, extrapolated to the day)
        "calibration_calls": 200,
        "cost_days": None,  # benchmark 3: all 90 sample days
        "cache_tickets": 500,  # benchmark 4
        "parse_runs": 5,  # benchmark 5
        "rss_tickets": (10_000, 100_000),  # benchmark 6
        "rss_batches": True,  # and the first and last batch of the biggest day
        "tracing_tickets": 600,  # benchmark 8
        "eval_days": ("2025-09-01", "2025-11-29"),  # benchmark 9
        "batch_tickets": 500,  # benchmark 10
    },
    "quick": {
        "tickets": 250,
        "tickets_c1": 20,
        "concurrency": (1, 8, 32, 64),
        "naive_tickets": 20,
        "calibration_calls": 60,
        "cost_days": 15,
        "cache_tickets": 100,
        "parse_runs": 3,
        "rss_tickets": (10_000,),
        "rss_batches": False,
        "tracing_tickets": 150,
        "eval_days": ("2025-10-01", "2025-10-07"),
        "batch_tickets": 150,
    },
}
LATENCY_MS = 100.0


def default_batch_size() -> int:
    """DEFAULT_BATCH_SIZE of the DAG's mapped triage tasks (read from the source: no Airflow import)."""
    import re

    text = (c.PLUGINS / "llm_operators" / "operators" / "batches.py").read_text()
    found = re.search(r"^DEFAULT_BATCH_SIZE\s*=\s*([\d_]+)", text, re.MULTILINE)
    return int(found.group(1)) if found else 2000


CACHE_REDIS = {"host": "127.0.0.1", "port": 6379, "db": 15}
CACHE_KWARGS = {
    "type": "redis",
    "host": "127.0.0.1",
    "port": "6379",
    "db": 15,
    "namespace": "bench",
    "ttl": 3600,
}


def section(number: str, title: str, command: str, params: dict[str, Any]) -> None:
    print(f"\n== {number}. {title}", flush=True)
    print(f"   command: {command}")
    print("   params:  " + ", ".join(f"{k}={v}" for k, v in params.items()), flush=True)


def ladder_for(caller: Any, rungs: list[str] | tuple[str, ...]) -> Ladder:
    return Ladder(LadderPolicy(rungs=list(rungs)), caller)


def run_day(
    root: Path, out: Path, caller: Any, rungs: Any, concurrency: int, day: Any = c.DAY, run_id: str = ""
) -> DayResult:
    plan = DayPlan(
        source=FileTicketSource(root),
        outputs=DayOutputs(out, day.isoformat()),
        day=day,
        concurrency=concurrency,
        run_id=run_id,
        progress_every_s=3600,
    )
    return triage_day(plan, ladder_for(caller, rungs))


def head_day(src: Path, dst_root: Path, count: int) -> Path:
    """The first `count` tickets of a generated day, as their own source root."""
    dst_root.mkdir(parents=True, exist_ok=True)
    name = f"{c.DAY.isoformat()}.jsonl"
    with (src / name).open() as fin, (dst_root / name).open("w") as fout:
        for n, line in enumerate(fin):
            if n >= count:
                break
            fout.write(line)
    return dst_root


# -- 0. CPU per Router call ----------------------------------------------------------------------


def bench_router_cpu(ctx: dict[str, Any]) -> dict[str, Any]:
    import asyncio

    from llm_operators.core.prompts import build_messages, response_format
    from llm_operators.core.ticket_source import read_day
    from llm_operators.llm.cache import uninstall_cache
    from llm_operators.llm.router_client import TriageRouter

    chaos: c.ChaosProcess = ctx["chaos"]
    n = ctx["p"]["calibration_calls"]
    rounds = 4
    per_round = n // rounds
    section(
        "0",
        "CPU per LLM call in this process (sequential, provider latency 0)",
        ctx["command"],
        {
            "calls per variant": per_round * rounds,
            "interleaved": f"{rounds} rounds of {per_round} calls per variant (load drift hits all alike)",
            "model group": "cheap (priced in litellm_params)",
            "warm-up calls": 20,
            "cache": "none",
        },
    )
    tickets = [t for t in read_day(ctx["day_root"], c.DAY) if hasattr(t, "body")][:per_round]
    messages = [build_messages(t) for t in tickets]
    root = head_day(ctx["day_root"], ctx["tmp"] / "day_cpu", per_round)
    uninstall_cache()
    chaos.set_latency(0)
    out: dict[str, Any] = {}
    rows = []
    try:
        with TriageRouter(c.chaos_settings(chaos.openai_base, ("cheap",))) as router:

            async def triage_router_call(i: int) -> None:
                await router.call(
                    CallRequest(ticket_id=f"cal-{i}", rung=0, group="cheap", messages=messages[i % per_round])
                )

            async def router_acompletion(i: int) -> None:
                await router.router.acompletion(model="cheap", messages=messages[i % per_round])

            async def loop(fn: Callable[[int], Any], count: int) -> None:
                for i in range(count):
                    await fn(i)

            def pipeline(tag: str) -> int:
                """triage_day over the same tickets, one rung, one ticket at a time: the whole pipeline."""
                return run_day(root, ctx["tmp"] / f"out-cpu-{tag}", router.call, ("cheap",), 1).summary.calls

            def calls_of(fn: Callable[[int], Any]) -> Callable[[str], int]:
                def run(tag: str) -> int:
                    asyncio.run(loop(fn, per_round))
                    return per_round

                return run

            variants: dict[str, Callable[[str], int]] = {
                "triage_router_call": calls_of(triage_router_call),
                "router_acompletion": calls_of(router_acompletion),
                "triage_day": pipeline,
            }
            for fn in variants.values():  # warm-up: lazy imports, first connections
                fn("warm")
            totals = {key: {"cpu": 0.0, "wall": 0.0, "provider": 0.0, "calls": 0} for key in variants}
            for r in range(rounds):
                for key, fn in variants.items():
                    chaos_cpu = chaos.cpu_seconds()
                    with c.Clock() as clock:
                        calls = fn(str(r))
                    t = totals[key]
                    t["cpu"] += clock.cpu
                    t["wall"] += clock.wall
                    t["provider"] += chaos.cpu_seconds() - chaos_cpu
                    t["calls"] += calls
        labels = {
            "triage_router_call": "TriageRouter.call (what the ladder uses)",
            "router_acompletion": "Router.acompletion, no response_format/metadata",
            "triage_day": "triage_day, one rung (the pipeline)",
        }
        for key, t in totals.items():
            cpu_ms, wall_ms = t["cpu"] / t["calls"] * 1000, t["wall"] / t["calls"] * 1000
            provider_ms = t["provider"] / t["calls"] * 1000
            out[key] = {
                "cpu_ms_per_call": round(cpu_ms, 2),
                "wall_ms_per_call": round(wall_ms, 2),
                "provider_cpu_ms_per_call": round(provider_ms, 2),
                "calls": t["calls"],
            }
            rows.append(
                [labels[key], f"{cpu_ms:.2f}", f"{wall_ms:.2f}", f"{1000 / cpu_ms:.0f}", f"{provider_ms:.2f}"]
            )
    finally:
        chaos.set_latency(LATENCY_MS)
    bare = out["router_acompletion"]["cpu_ms_per_call"]
    out["pipeline_over_bare"] = round(out["triage_day"]["cpu_ms_per_call"] / bare, 2)
    out["router_call_over_bare"] = round(out["triage_router_call"]["cpu_ms_per_call"] / bare, 2)
    with c.Clock() as clock:
        for _ in range(n):
            response_format()
    out["response_format_ms"] = round(clock.cpu / n * 1000, 3)
    rows.append(["prompts.response_format() alone", f"{out['response_format_ms']:.2f}", "", "", ""])
    print(
        c.table(
            ["what", "CPU ms/call", "wall ms/call", "one-core ceiling calls/s", "provider CPU ms/call"], rows
        )
    )
    print(
        f"   CPU per call, side by side in this run: triage_day {out['pipeline_over_bare']:.2f}x and "
        f"TriageRouter.call {out['router_call_over_bare']:.2f}x the bare Router.acompletion"
    )
    ctx["router_cpu_ms"] = out["triage_router_call"]["cpu_ms_per_call"]
    return {"calls": n, **out}


# -- 1. throughput -------------------------------------------------------------------------------


def bench_throughput(ctx: dict[str, Any]) -> dict[str, Any]:
    from llm_operators.llm.cache import uninstall_cache
    from llm_operators.llm.router_client import TriageRouter

    p, chaos, tmp = ctx["p"], ctx["chaos"], ctx["tmp"]
    n, n1 = p["tickets"], p["tickets_c1"]
    root_c1 = head_day(ctx["day_root"], tmp / "day_c1", n1)
    section(
        "1",
        "Throughput of triage_day (ladder cheap -> strong, chaos provider, fixed latency)",
        ctx["command"],
        {
            "tickets": n,
            "tickets at concurrency 1": f"{n1} (the first {n1} of the day, to stay fast)",
            "latency_ms": LATENCY_MS,
            "concurrency": list(p["concurrency"]),
            "cache": "none",
            "day": ctx["day_cmd"],
        },
    )
    uninstall_cache()
    settings = c.chaos_settings(chaos.openai_base)
    with TriageRouter(settings) as router:  # warm-up: lazy imports, first connections
        run_day(head_day(ctx["day_root"], tmp / "warm", 20), tmp / "out-warm", router.call, c.LADDER, 8)
    rows, runs = [], []
    lat = LATENCY_MS / 1000
    for conc in p["concurrency"]:
        root = root_c1 if conc == 1 else ctx["day_root"]
        chaos.reset()
        chaos_cpu = chaos.cpu_seconds()
        with TriageRouter(settings) as router, c.Clock() as clock:
            result = run_day(root, tmp / f"out-c{conc}", router.call, c.LADDER, conc)
        provider_cpu = chaos.cpu_seconds() - chaos_cpu
        s = result.summary
        requests = chaos.requests_total()
        ideal = s.calls * lat / conc
        bound = s.tickets * lat / conc
        run = {
            "concurrency": conc,
            "tickets": s.tickets,
            "calls": s.calls,
            "provider_requests": requests,
            "wall_s": round(clock.wall, 2),
            "cpu_s": round(clock.cpu, 2),
            "cpu_busy_share": round(clock.cpu / clock.wall, 3),
            "provider_cpu_s": round(provider_cpu, 2),
            "tickets_per_s": round(s.tickets / clock.wall, 1),
            "calls_per_s": round(s.calls / clock.wall, 1),
            "bound_tickets_x_latency_over_c_s": round(bound, 2),
            "ideal_calls_x_latency_over_c_s": round(ideal, 2),
            "achieved_share_of_ideal": round(ideal / clock.wall, 3),
            "cpu_ms_per_call": round(clock.cpu / s.calls * 1000, 2),
            "cost_usd": round(s.cost_usd, 6),
            "stopped_at_rung": s.stopped_at_rung,
        }
        runs.append(run)
        rows.append(
            [
                conc,
                s.tickets,
                s.calls,
                f"{clock.wall:.1f}",
                f"{run['tickets_per_s']:.1f}",
                f"{run['calls_per_s']:.1f}",
                f"{bound:.1f}",
                f"{ideal:.1f}",
                c.pct(ideal / clock.wall),
                f"{run['cpu_ms_per_call']:.2f}",
                c.pct(clock.cpu / clock.wall),
                f"{provider_cpu:.1f}",
            ]
        )
        print(f"   concurrency {conc}: done in {clock.wall:.1f}s", flush=True)
    print(
        c.table(
            [
                "concurrency",
                "tickets",
                "calls",
                "wall s",
                "tickets/s",
                "calls/s",
                "tickets*lat/c s",
                "ideal calls*lat/c s",
                "share of ideal",
                "CPU ms/call",
                "CPU busy",
                "provider CPU s",
            ],
            rows,
        )
    )
    print(
        "   ideal = calls x latency / concurrency (an escalated ticket makes 2 sequential calls, so\n"
        "   tickets x latency / concurrency is below what any run can reach); share = ideal / wall.\n"
        "   CPU = this process only (user+sys / wall = CPU busy); the provider runs in its own process."
    )
    busy = [r for r in runs if r["concurrency"] > 1]
    if busy:
        cpu_ms = statistics.median(r["cpu_ms_per_call"] for r in busy)
        calls_per_ticket = busy[0]["calls"] / busy[0]["tickets"]
        ceiling = 1000 / cpu_ms
        print(
            f"   one event loop on one core at {cpu_ms:.1f} ms CPU per call tops out near {ceiling:.0f} "
            f"calls/s = {ceiling / calls_per_ticket:.0f} tickets/s ({calls_per_ticket:.2f} calls/ticket),\n"
            "   whatever the concurrency."
        )
    ctx["throughput"] = {r["concurrency"]: r for r in runs}
    return {"latency_ms": LATENCY_MS, "runs": runs}


# -- 2. naive sequential loop -------------------------------------------------------------------


def bench_naive(ctx: dict[str, Any]) -> dict[str, Any]:
    import litellm

    from llm_operators.core.prompts import build_messages
    from llm_operators.core.ticket_source import read_day
    from llm_operators.llm.cache import uninstall_cache

    p, chaos = ctx["p"], ctx["chaos"]
    n_naive, n = p["naive_tickets"], p["tickets"]
    section(
        "2",
        "Naive reference: sequential litellm.completion, one model, no ladder, no concurrency",
        ctx["command"],
        {
            "tickets": f"{n_naive} (the first of the day; extrapolated to {n})",
            "model": "openai/gpt-4o-mini on the chaos provider",
            "latency_ms": LATENCY_MS,
            "max_retries": 0,
        },
    )
    uninstall_cache()
    tickets = [t for t in read_day(ctx["day_root"], c.DAY) if hasattr(t, "body")][:n_naive]
    kwargs = {"api_base": chaos.openai_base, "api_key": "sk-bench", "max_retries": 0}
    litellm.completion(model="openai/gpt-4o-mini", messages=build_messages(tickets[0]), **kwargs)  # warm-up
    chaos.reset()
    parsed = 0
    with c.Clock() as clock:
        for ticket in tickets:
            response = litellm.completion(
                model="openai/gpt-4o-mini", messages=build_messages(ticket), **kwargs
            )
            json.loads(response.choices[0].message.content)
            parsed += 1
    tps = parsed / clock.wall
    pipeline = ctx.get("throughput", {}).get(32)
    rows = [
        [
            "naive loop",
            parsed,
            f"{clock.wall:.1f}",
            f"{tps:.2f}",
            f"{n / tps:.0f}",
            f"{clock.cpu / parsed * 1000:.2f}",
        ]
    ]
    out: dict[str, Any] = {
        "tickets": parsed,
        "provider_requests": chaos.requests_total(),
        "wall_s": round(clock.wall, 2),
        "tickets_per_s": round(tps, 2),
        "extrapolated_day_s": round(n / tps, 1),
        "cpu_ms_per_call": round(clock.cpu / parsed * 1000, 2),
    }
    if pipeline:
        rows.append(
            [
                "triage_day, concurrency 32 (benchmark 1)",
                pipeline["tickets"],
                f"{pipeline['wall_s']:.1f}",
                f"{pipeline['tickets_per_s']:.2f}",
                f"{pipeline['wall_s']:.0f}",
                f"{pipeline['cpu_ms_per_call']:.2f}",
            ]
        )
        out["pipeline_c32_tickets_per_s"] = pipeline["tickets_per_s"]
        out["speedup_tickets_per_s"] = round(pipeline["tickets_per_s"] / tps, 1)
    print(c.table(["run", "tickets", "wall s", "tickets/s", f"s for {n} tickets", "CPU ms/call"], rows))
    if pipeline:
        print(
            f"   triage_day at concurrency 32 triages {out['speedup_tickets_per_s']}x more tickets/s than "
            f"the naive loop, while making {pipeline['calls'] / pipeline['tickets']:.2f} calls per ticket "
            "(the ladder) against 1."
        )
    return out


# -- 3. cost of the ladder ----------------------------------------------------------------------


def bench_ladder_cost(ctx: dict[str, Any]) -> dict[str, Any]:
    from llm_operators.llm.cache import uninstall_cache
    from llm_operators.llm.router_client import TriageRouter

    p, tmp = ctx["p"], ctx["tmp"]
    files = sorted(c.SAMPLE_TICKETS.glob("*.jsonl"))
    if p["cost_days"]:
        files = files[: p["cost_days"]]
    days = [datetime.strptime(f.stem, "%Y-%m-%d").date() for f in files]
    settings = offline_settings()
    section(
        "3",
        "Cost: the ladder (fast -> careful) vs always the top rung (careful), offline models via the Router",
        ctx["command"],
        {
            "days": f"{len(days)} ({days[0]} .. {days[-1]}) of {c.rel(c.SAMPLE_TICKETS)}",
            "prices": "fast = gpt-4o-mini ($0.15/$0.60 per M tokens), careful = gpt-4o ($2.50/$10.00)",
            "escalate_below": 0.7,
            "repair_attempts": 1,
            "concurrency": 16,
        },
    )
    uninstall_cache()
    out: dict[str, Any] = {"days": len(days)}
    with TriageRouter(settings) as router:
        for label, rungs in (("ladder", settings.ladder), ("top_rung_only", settings.ladder[-1:])):
            tickets = calls = escalated = 0
            cost = 0.0
            stopped: Counter[str] = Counter()
            with c.Clock() as clock:
                for day in days:
                    s = run_day(c.SAMPLE_TICKETS, tmp / f"cost-{label}", router.call, rungs, 16, day).summary
                    tickets += s.tickets
                    calls += s.calls
                    escalated += s.escalated
                    cost += s.cost_usd
                    stopped.update(s.stopped_at_rung)
            out[label] = {
                "rungs": list(rungs),
                "tickets": tickets,
                "calls": calls,
                "escalated": escalated,
                "cost_usd": round(cost, 6),
                "stopped_at_rung": dict(sorted(stopped.items())),
                "wall_s": round(clock.wall, 1),
            }
    ladder, top = out["ladder"], out["top_rung_only"]
    out["saving_pct"] = (
        round((1 - ladder["cost_usd"] / top["cost_usd"]) * 100, 1) if top["cost_usd"] else None
    )
    rows = []
    for label in ("ladder", "top_rung_only"):
        r = out[label]
        names = dict(enumerate(r["rungs"]))
        shares = ", ".join(
            f"{names.get(int(k), k) if k.isdigit() else k} {c.pct(v / r['tickets'])}"
            for k, v in r["stopped_at_rung"].items()
        )
        rows.append(
            [
                " -> ".join(r["rungs"]),
                r["tickets"],
                r["calls"],
                c.usd(r["cost_usd"]),
                f"${r['cost_usd'] / r['tickets'] * 1000:.3f}",
                shares,
            ]
        )
    print(c.table(["rungs", "tickets", "calls", "total cost", "per 1k tickets", "tickets stopping"], rows))
    print(f"   the ladder costs {out['saving_pct']}% less than always asking the top rung")
    return out


# -- 4. re-run with the Redis cache -------------------------------------------------------------


def bench_cache(ctx: dict[str, Any]) -> dict[str, Any]:
    import redis

    from llm_operators.llm.cache import install_cache, uninstall_cache
    from llm_operators.llm.lazy_router import LazyRouter
    from llm_operators.llm.router_client import TriageRouter

    p, chaos, tmp = ctx["p"], ctx["chaos"], ctx["tmp"]
    n = p["cache_tickets"]
    root = head_day(ctx["day_root"], tmp / "day_cache", n)
    section(
        "4",
        "Re-run of a processed day: outcomes reused from the checkpoint, or answers from the Redis cache",
        ctx["command"],
        {
            "tickets": f"{n} (the first of the day)",
            "latency_ms": LATENCY_MS,
            "concurrency": 32,
            "cache": json.dumps(CACHE_KWARGS),
            "redis db": "15, flushed before and after",
            "router": "built on the first call, inside the clock (litellm itself is already imported)",
            "warm-up": "one sample day through the cache, then flushed",
        },
    )
    client = redis.Redis(**CACHE_REDIS, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        print(f"   SKIPPED: no Redis on 127.0.0.1:6379 ({exc})")
        return {"skipped": f"no Redis on 127.0.0.1:6379: {exc}"}
    settings = c.chaos_settings(chaos.openai_base)
    client.flushdb()
    install_cache(CACHE_KWARGS)
    runs = []
    try:
        warm_day = datetime.strptime(min(c.SAMPLE_TICKETS.glob("*.jsonl")).stem, "%Y-%m-%d").date()
        with TriageRouter(settings, cache_responses=True) as router:  # warm-up on another day's tickets
            run_day(c.SAMPLE_TICKETS, tmp / "out-cache-warm", router.call, c.LADDER, 8, warm_day)
        client.flushdb()
        plan = (
            ("first run", "out-cache", "run-1"),
            ("re-run, outcomes reused", "out-cache", "rerun-1"),
            ("re-run, answer cache only", "out-cache-2", "rerun-2"),
        )
        for label, out_dir, run_id in plan:
            chaos.reset()
            # a new Router per run, like a new task: only Redis and the checkpoint carry anything over
            router = LazyRouter(lambda: TriageRouter(settings, cache_responses=True))
            with c.Clock() as clock:
                s = run_day(root, tmp / out_dir, router.call, c.LADDER, 32, run_id=run_id).summary
            router.close()
            runs.append(
                {
                    "run": label,
                    "tickets": s.tickets,
                    "calls": s.calls,
                    "cache_hits": s.cache_hits,
                    "provider_requests": chaos.requests_total(),
                    "router_built": router.built,
                    "wall_s": round(clock.wall, 3),
                    "cpu_s": round(clock.cpu, 3),
                    "cpu_ms_per_call": round(clock.cpu / s.calls * 1000, 3),
                    "cost_usd": round(s.cost_usd, 6),
                    "cache_savings_usd": round(s.cache_savings_usd, 6),
                }
            )
    finally:
        uninstall_cache()
        client.flushdb()
        client.close()
    first = runs[0]
    for r in runs:
        r["share_of_first_wall"] = round(r["wall_s"] / first["wall_s"], 3)
    rows = [
        [
            r["run"],
            r["tickets"],
            r["calls"],
            r["cache_hits"],
            r["provider_requests"],
            "yes" if r["router_built"] else "no",
            f"{r['wall_s']:.2f}",
            c.pct(r["share_of_first_wall"]),
            f"{r['cpu_s']:.2f}",
            f"{r['cpu_ms_per_call']:.2f}",
            c.usd(r["cost_usd"]),
            c.usd(r["cache_savings_usd"]),
        ]
        for r in runs
    ]
    print(
        c.table(
            [
                "run",
                "tickets",
                "calls",
                "cache hits",
                "requests at provider",
                "Router built",
                "wall s",
                "of first",
                "CPU s",
                "CPU ms/call",
                "cost",
                "saved",
            ],
            rows,
        )
    )
    reused, cached = runs[1], runs[2]
    print(
        f"   re-run with outcomes reused: {reused['provider_requests']} requests, "
        f"{c.pct(reused['share_of_first_wall'])} of the first run's wall time; with the answer cache only: "
        f"{cached['provider_requests']} requests, {c.pct(cached['share_of_first_wall'])}"
    )
    return {
        "runs": runs,
        "rerun_zero_requests": reused["provider_requests"] == cached["provider_requests"] == 0,
    }


# -- 7. a dead or hanging primary ---------------------------------------------------------------


def bench_primary_down(ctx: dict[str, Any]) -> dict[str, Any]:
    from llm_operators.core.config import LiteLLMSettings
    from llm_operators.llm.cache import uninstall_cache
    from llm_operators.llm.router_client import TriageRouter

    p, chaos, tmp = ctx["p"], ctx["chaos"], ctx["tmp"]
    n = p["cache_tickets"]
    root = head_day(ctx["day_root"], tmp / "day_down", n)
    base = c.chaos_settings(chaos.openai_base).model_dump(mode="json")
    backup = {**base["model_list"][0], "model_name": "cheap-backup"}
    backup["litellm_params"] = {**backup["litellm_params"], "model": "openai/cheap-backup"}
    router_settings = {
        "fallbacks": [{"cheap": ["cheap-backup"]}],
        "num_retries": 2,
        "timeout": 5,
        "allowed_fails": 3,
        "cooldown_time": 30,
    }
    settings = LiteLLMSettings.parse(
        {**base, "model_list": [*base["model_list"], backup], "router_settings": router_settings}, "bench"
    )
    section(
        "7",
        "A dead or hanging primary: the circuit breaker sends tickets to the fallback",
        ctx["command"],
        {
            "tickets": f"{n} (the first of the day)",
            "latency_ms": LATENCY_MS,
            "concurrency": 32,
            "router_settings": json.dumps(router_settings),
            "hang": "the primary never answers; the Router gives up after timeout",
        },
    )
    uninstall_cache()
    scenarios = (
        ("healthy", {}),
        ("primary down (503)", {"cheap": {"latency_ms": LATENCY_MS, "outage": True}}),
        ("primary hangs", {"cheap": {"timeout_rate": 1.0, "timeout_s": 60}}),
    )
    runs = []
    try:
        # warm-up: the fallback deployment's first requests (client set-up) are not the breaker's cost
        chaos.configure({"default": {"latency_ms": LATENCY_MS}, "models": dict(scenarios[1][1])})
        with TriageRouter(settings) as router:
            run_day(head_day(root, tmp / "warm-down", 20), tmp / "out-down-warm", router.call, c.LADDER, 8)
        for label, models in scenarios:
            chaos.configure({"default": {"latency_ms": LATENCY_MS}, "models": models})
            chaos.reset()
            with TriageRouter(settings) as router, c.Clock() as clock:
                s = run_day(root, tmp / f"out-down-{len(runs)}", router.call, c.LADDER, 32).summary
            runs.append(
                {
                    "run": label,
                    "tickets": s.tickets,
                    "triaged": s.triaged,
                    "primary_requests": chaos.model_requests("cheap"),
                    "fallback_requests": chaos.model_requests("cheap-backup"),
                    "wall_s": round(clock.wall, 2),
                }
            )
    finally:
        chaos.set_latency(LATENCY_MS)
    healthy = runs[0]["wall_s"]
    for r in runs:
        r["wall_vs_healthy"] = round(r["wall_s"] / healthy, 2)
    rows = [
        [
            r["run"],
            r["tickets"],
            r["triaged"],
            r["primary_requests"],
            r["fallback_requests"],
            f"{r['wall_s']:.2f}",
            f"{r['wall_vs_healthy']:.2f}x",
        ]
        for r in runs
    ]
    print(
        c.table(
            ["day", "tickets", "triaged", "requests to primary", "to fallback", "wall s", "vs healthy"], rows
        )
    )
    print(
        "   without the breaker a dead primary got num_retries + 1 = 3 requests per ticket, and a hanging\n"
        "   one cost up to 3 x timeout = 15 s per ticket; a hang still costs one timeout while the first\n"
        "   requests (allowed_fails) find out"
    )
    return {"router_settings": router_settings, "runs": runs}


# -- 5. DAG parse time -------------------------------------------------------------------------

PARSE_PROBE = """\
import json, sys, time
t0 = time.perf_counter()
import airflow.sdk
t1 = time.perf_counter()
sys.path[:0] = [{plugins!r}, {dags!r}]
import importlib.util
spec = importlib.util.spec_from_file_location("ticket_triage", {dag!r})
module = importlib.util.module_from_spec(spec)
t2 = time.perf_counter()
spec.loader.exec_module(module)
t3 = time.perf_counter()
print(json.dumps({{"airflow_sdk_s": t1 - t0, "dag_exec_s": t3 - t2, "litellm": "litellm" in sys.modules,
                  "modules": len(sys.modules)}}))
"""


def bench_dag_parse(ctx: dict[str, Any]) -> dict[str, Any]:
    runs = ctx["p"]["parse_runs"]
    dag = c.REPO / "dags" / "ticket_triage.py"
    home = ctx["tmp"] / "airflow_home"
    home.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),  # a throw-away home: nothing of the project's airflow_home is touched
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "PYTHONPATH": os.pathsep.join([str(c.PLUGINS), str(c.REPO / "dags")]),
    }
    probe = PARSE_PROBE.format(plugins=str(c.PLUGINS), dags=str(dag.parent), dag=str(dag))
    plain = "import ticket_triage"
    section(
        "5",
        "DAG file parse time (fresh interpreters)",
        ctx["command"],
        {
            "runs": f"{runs} of each, after 1 unmeasured warm-up",
            "probe": "python -c '<import airflow.sdk; time exec of dags/ticket_triage.py>'",
            "full": f'PYTHONPATH=plugins:dags {c.rel(c.PY)} -c "{plain}"',
            "AIRFLOW_HOME": "a temporary directory",
        },
    )

    def once(code: str) -> tuple[float, str]:
        t = time.perf_counter()
        done = subprocess.run([c.PY, "-c", code], env=env, cwd=c.REPO, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if done.returncode:
            raise RuntimeError(f"python -c failed: {done.stderr[-2000:]}")
        return wall, done.stdout

    once(probe)
    probes = [json.loads(once(probe)[1].strip().splitlines()[-1]) for _ in range(runs)]
    fulls = [once(plain + "; import sys; print('litellm' in sys.modules)") for _ in range(runs)]
    out = {
        "runs": runs,
        "dag_exec_s": [round(x["dag_exec_s"], 3) for x in probes],
        "airflow_sdk_import_s": [round(x["airflow_sdk_s"], 3) for x in probes],
        "full_python_c_import_s": [round(w, 3) for w, _ in fulls],
        "median_dag_exec_s": round(statistics.median(x["dag_exec_s"] for x in probes), 3),
        "median_airflow_sdk_import_s": round(statistics.median(x["airflow_sdk_s"] for x in probes), 3),
        "median_full_python_c_import_s": round(statistics.median(w for w, _ in fulls), 3),
        "litellm_imported": any(x["litellm"] for x in probes) or any("True" in o for _, o in fulls),
        "modules_loaded": probes[-1]["modules"],
    }
    print(
        c.table(
            ["measure", "median s", "all runs s"],
            [
                ["DAG module exec (after airflow.sdk)", out["median_dag_exec_s"], out["dag_exec_s"]],
                ["import airflow.sdk", out["median_airflow_sdk_import_s"], out["airflow_sdk_import_s"]],
                [
                    f'full python -c "{plain}"',
                    out["median_full_python_c_import_s"],
                    out["full_python_c_import_s"],
                ],
            ],
        )
    )
    print(
        f"   litellm imported by the DAG file: {'YES' if out['litellm_imported'] else 'no'}; "
        f"{out['modules_loaded']} modules loaded"
    )
    return out


# -- 6. peak RSS -------------------------------------------------------------------------------


def checkpoint_append_ms(directory: Path, count: int = 300) -> float:
    """Mean cost of one `Checkpoint.append` (write + flush + fsync) of a real outcome, in ms."""
    from llm_operators.core.checkpoint import Checkpoint
    from llm_operators.core.models import OutcomeStatus, Ticket, TicketOutcome

    ticket = Ticket(
        id="T-1",
        created_at="2025-10-01T00:00:00Z",
        customer="C",
        channel="email",
        subject="Double charged",
        body="I was charged twice for my subscription this month. " * 8,
    )
    outcome = TicketOutcome(ticket_id="T-1", day="2025-10-01", status=OutcomeStatus.UNRESOLVED, ticket=ticket)
    checkpoint = Checkpoint(directory / "checkpoint.jsonl", "bench")
    t = time.perf_counter()
    for _ in range(count):
        checkpoint.append(outcome)
    elapsed = time.perf_counter() - t
    checkpoint.discard()
    return elapsed / count * 1000


def bench_rss(ctx: dict[str, Any]) -> dict[str, Any]:
    p, tmp = ctx["p"], ctx["tmp"]
    shm = Path("/dev/shm")
    out_parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else tmp
    probe = c.BENCH / "_rss_probe.py"
    batch = default_batch_size()
    section(
        "6",
        "Peak RSS of one triage_day in a fresh process (offline ladder, no network)",
        ctx["command"],
        {
            "tickets": list(p["rss_tickets"]),
            "caller": f"{ctx['rss_caller']} (see bench/_rss_probe.py)",
            "batches": f"first and last {batch}-ticket batch of the biggest day"
            if p["rss_batches"]
            else "no",
            "concurrency": 16,
            "outputs": f"{out_parent} ({'tmpfs: fsyncs cost ~nothing' if out_parent == shm else 'disk'})",
        },
    )
    batches_supported = p["rss_batches"] and "count" in DayPlan.__dataclass_fields__
    runs = []
    for count in p["rss_tickets"]:
        with tempfile.TemporaryDirectory(dir=tmp) as src:
            _, gen_cmd = c.generate_day(Path(src), count)
            windows: list[tuple[str, int | None, int | None]] = [("whole day", None, None)]
            if batches_supported and count == p["rss_tickets"][-1] and count > batch:
                windows += [("first batch", 0, batch), ("last batch", count - batch, batch)]
            for label, first, size in windows:
                with tempfile.TemporaryDirectory(dir=out_parent) as dst:
                    argv = [c.PY, str(probe), "--source-root", src, "--output-root", dst]
                    argv += ["--day", c.DAY.isoformat(), "--caller", ctx["rss_caller"]]
                    if size is not None:
                        argv += ["--first", str(first), "--count", str(size)]
                    done = subprocess.run(argv, cwd=c.REPO, capture_output=True, text=True)
                    if done.returncode:
                        raise RuntimeError(f"{c.cmdline(argv)} failed: {done.stderr[-2000:]}")
                run = json.loads(done.stdout.strip().splitlines()[-1])
                run["day_tickets"] = count
                run["window"] = label if size is None else f"{label} [{first}, {first + size})"
                run["growth_mb"] = round(run["peak_rss_mb"] - run["baseline_rss_mb"], 1)
                run["growth_kb_per_ticket"] = round(run["growth_mb"] * 1024 / max(1, run["tickets"]), 2)
                run["generator"] = gen_cmd
                runs.append(run)
                print(f"   {count}-ticket day, {run['window']}: done in {run['wall_s']:.1f}s", flush=True)
    rows = [
        [
            r["day_tickets"],
            r["window"],
            r["tickets"],
            r["calls"],
            f"{r['wall_s']:.1f}",
            f"{r['tickets'] / r['wall_s']:.0f}",
            f"{r['baseline_rss_mb']:.0f}",
            f"{r['peak_rss_mb']:.0f}",
            f"{r['growth_mb']:.0f}",
            f"{r['growth_kb_per_ticket']:.1f}",
            f"{r['end_rss_mb']:.0f}",
            f"{r['ru_maxrss_mb']:.0f}",
            f"{r['outcomes_jsonl_mb']:.0f}",
        ]
        for r in runs
    ]
    print(
        c.table(
            [
                "day",
                "window",
                "tickets",
                "calls",
                "wall s",
                "tickets/s",
                "peak after imports MB",
                "peak at end MB",
                "growth MB",
                "KB/ticket",
                "RSS at end MB",
                "ru_maxrss MB",
                "outcomes.jsonl MB",
            ],
            rows,
        )
    )
    router_ms = ctx.get("router_cpu_ms")
    if router_ms and ctx["rss_caller"] == "direct":
        biggest = max(runs, key=lambda r: r["tickets"])
        print(
            f"   through the LiteLLM Router ({router_ms:.1f} ms CPU per call, benchmark 0) the "
            f"{biggest['tickets']}-ticket day's {biggest['calls']} calls would need "
            f"~{biggest['calls'] * router_ms / 60000:.0f} more CPU-minutes on one event loop."
        )
    with tempfile.TemporaryDirectory(dir=tmp) as disk_dir:
        on_disk = checkpoint_append_ms(Path(disk_dir))
    on_tmpfs = None
    if out_parent == shm:
        with tempfile.TemporaryDirectory(dir=shm) as shm_dir:
            on_tmpfs = checkpoint_append_ms(Path(shm_dir))
    print(
        "   peak = VmHWM (the process's RSS high-water mark) after the imports and after triage_day;\n"
        "   growth = the difference. ru_maxrss is printed too, but Linux carries the parent's peak over\n"
        "   the child's exec, so it starts at bench/run.py's own RSS. triage_day keeps every outcome of\n"
        "   its window (the whole day, or one batch) in memory until it writes outcomes.jsonl; a batch\n"
        "   still parses every line before its window (read_day, then skipped)."
    )
    print(
        f"   Checkpoint.append (write + fsync per ticket): {on_disk:.2f} ms on {tmp} (disk)"
        + (f", {on_tmpfs:.3f} ms on /dev/shm" if on_tmpfs is not None else "")
    )
    return {
        "runs": runs,
        "outputs_on": str(out_parent),
        "checkpoint_append_ms_disk": round(on_disk, 3),
        "checkpoint_append_ms_tmpfs": round(on_tmpfs, 3) if on_tmpfs is not None else None,
    }


# -- benchmarks that are scripts of their own (each also runs alone; see its docstring) ----------


def _script(ctx: dict[str, Any], number: str, title: str, args: list[str]) -> dict[str, Any]:
    """Runs a bench script in a fresh process (its figures must not share this one's warm caches) and
    passes its printed figures through."""
    command = [c.PY, *args]
    section(number, title, " ".join([c.rel(c.PY), *args]), {})
    started = time.perf_counter()
    done = subprocess.run(command, cwd=c.BENCH.parent, capture_output=True, text=True, timeout=1800)
    print(done.stdout, flush=True)
    if done.returncode != 0:
        print(done.stderr[-3000:], flush=True)
        raise RuntimeError(f"{args[0]} exited {done.returncode}")
    printed = done.stdout.strip().splitlines()[-12:]
    return {"wall_s": round(time.perf_counter() - started, 1), "printed": printed}


def bench_tracing(ctx: dict[str, Any]) -> dict[str, Any]:
    tickets = str(ctx["p"]["tracing_tickets"])
    return _script(ctx, "8", "Langfuse tracing overhead", ["bench/tracing_overhead.py", "--tickets", tickets])


def bench_eval_cost(ctx: dict[str, Any]) -> dict[str, Any]:
    start, end = ctx["p"]["eval_days"]
    out = str(ctx["tmp"] / "eval")
    args = ["bench/eval_cost.py", "--start", start, "--end", end, "--out", out]
    return _script(ctx, "9", "What an evaluation costs (every-rung triage, then a 0-call replay)", args)


def bench_batch_cost(ctx: dict[str, Any]) -> dict[str, Any]:
    args = ["bench/batch_cost.py", "--tickets", str(ctx["p"]["batch_tickets"])]
    return _script(ctx, "10", "Live vs batch mode: cost per 1,000 tickets and wall time", args)


# -- driver -------------------------------------------------------------------------------------

BENCHMARKS: list[tuple[str, str, Callable[[dict[str, Any]], dict[str, Any]], bool]] = [
    # key, number, function, needs the chaos provider
    ("router_call_cpu", "0", bench_router_cpu, True),
    ("throughput", "1", bench_throughput, True),
    ("naive_loop", "2", bench_naive, True),
    ("ladder_cost", "3", bench_ladder_cost, False),
    ("cache_rerun", "4", bench_cache, True),
    ("dag_parse", "5", bench_dag_parse, False),
    ("peak_rss", "6", bench_rss, False),
    ("primary_down", "7", bench_primary_down, True),
    ("tracing_overhead", "8", bench_tracing, False),
    ("eval_cost", "9", bench_eval_cost, False),
    ("batch_cost", "10", bench_batch_cost, False),
]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="~1 minute: smaller days, no 100k-ticket day")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated benchmark numbers or keys, e.g. 1,2 or dag_parse (default: all)",
    )
    parser.add_argument(
        "--rss-caller",
        choices=("direct", "router"),
        default="direct",
        help="benchmark 6: offline answers called in-process (default) or through the LiteLLM Router",
    )
    parser.add_argument("--json", type=Path, default=c.RESULTS / "latest.json", help="where to write results")
    args = parser.parse_args()
    profile = "quick" if args.quick else "full"
    p = PROFILES[profile]
    wanted = {w.strip() for w in args.only.split(",") if w.strip()}
    selected = [b for b in BENCHMARKS if not wanted or b[0] in wanted or b[1] in wanted]
    command = " ".join([c.rel(c.PY), "bench/run.py", *sys.argv[1:]])

    started = datetime.now(UTC)
    from importlib.metadata import version

    import litellm  # noqa: F401  (imported once here, so no benchmark pays for it)

    meta = {
        "date": started.isoformat(timespec="seconds"),
        "command": command,
        "profile": profile,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "litellm": version("litellm"),
        "platform": platform.platform(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    print(f"ticket-triage benchmarks ({profile}) - {meta['date']}")
    print(f"command: {command}")
    print(
        f"host: {meta['cpus']} CPUs, Python {meta['python']}, litellm {meta['litellm']}, "
        f"load average {meta['loadavg_at_start']}"
    )
    results: dict[str, Any] = {}
    tmp = Path(tempfile.mkdtemp(prefix="triage-bench-"))
    ctx: dict[str, Any] = {"p": p, "tmp": tmp, "command": command, "rss_caller": args.rss_caller}
    try:
        needs_day = any(b[3] for b in selected)
        if needs_day:
            ctx["day_root"], ctx["day_cmd"] = c.generate_day(tmp / "day", p["tickets"])
        chaos = c.ChaosProcess(LATENCY_MS) if needs_day else None
        if chaos is not None:
            chaos.__enter__()
            ctx["chaos"] = chaos
            print(f"chaos provider: {c.cmdline(chaos.argv)} -> {chaos.url}")
        try:
            for key, number, fn, _ in selected:
                t = time.perf_counter()
                load = os.getloadavg()[0]
                try:
                    results[key] = fn(ctx)
                except Exception as exc:  # one failing benchmark must not hide the others' figures
                    traceback.print_exc()
                    print(f"   benchmark {number} FAILED: {exc}")
                    results[key] = {"error": f"{type(exc).__name__}: {exc}"}
                results[key]["benchmark_s"] = round(time.perf_counter() - t, 1)
                results[key]["loadavg_1m_before"] = round(load, 2)
        finally:
            if chaos is not None:
                chaos.__exit__()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    meta["total_s"] = round((datetime.now(UTC) - started).total_seconds(), 1)
    meta["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"meta": meta, "benchmarks": results}, indent=2, default=str) + "\n")
    print(f"\ntotal {meta['total_s']}s; results written to {c.rel(args.json)}")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
