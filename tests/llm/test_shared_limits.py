"""Two triage processes at once against a rate-limited chaos provider, sharing Redis (db 12).

The provider allows `LIMIT` requests per `WINDOW_S` (a minute shrunk so the test is short; the
product's window is 60 s). Each process alone would send its tickets as fast as concurrency allows.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from builders import generate_day
from chaos_models import hosted
from local_redis import redis_keys_under

from chaos_provider import ChaosServer

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("limits_worker.py")
REDIS_DB = 12
DAY = date(2025, 10, 1)
LIMIT = 8
WINDOW_S = 2.0


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"test-limits-{uuid.uuid4().hex[:8]}"
    with redis_keys_under(REDIS_DB, name):
        yield name


def settings_data(server: ChaosServer, namespace: str, **router_settings: Any) -> dict[str, Any]:
    return {
        "model_list": [
            hosted("cheap", "openai/cheap", server.openai_base, rpm=LIMIT),
            hosted("cheap-backup", "anthropic/claude-test", server.url),
        ],
        "ladder": ["cheap"],
        "cache_namespace": namespace,
        "router_settings": {
            "num_retries": 2,
            "retry_after": 0,
            "timeout": 5,
            "fallbacks": [{"cheap": ["cheap-backup"]}],
            "allowed_fails": 3,
            "cooldown_time": 30,
            **router_settings,
        },
    }


def run_workers(tmp_path: Path, data: dict[str, Any], days: list[date]) -> list[dict[str, Any]]:
    root = tmp_path / "tickets"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                str(REPO / "plugins"),
                json.dumps(data),
                str(root),
                str(tmp_path / f"out{n}"),
                day.isoformat(),
                str(REDIS_DB),
                str(WINDOW_S),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, day in enumerate(days)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def max_in_window(times: list[float], window_s: float) -> int:
    times = sorted(times)
    best = 0
    for i, start in enumerate(times):
        best = max(best, sum(1 for t in times[i:] if t < start + window_s))
    return best


def test_two_processes_share_one_rate_limit(tmp_path: Path, namespace: str) -> None:
    days = [DAY, DAY + timedelta(days=1)]
    tickets = 0
    for day in days:
        tickets += len(generate_day(tmp_path / "tickets", day, 14))
    config = {"models": {"cheap": {"rate_limit_requests": LIMIT, "rate_limit_window_s": WINDOW_S}}}
    with ChaosServer(config) as server:
        results = run_workers(tmp_path, settings_data(server, namespace), days)
        records = [r for r in server.requests if r["model"] == "cheap"]

    assert sum(r["triaged"] for r in results) == tickets
    assert [r["status"] for r in records if r["status"] != 200] == []  # no 429, nothing retried
    assert len(records) == tickets  # every ticket answered by cheap itself, none by the fallback
    assert max_in_window([r["timestamp"] for r in records], WINDOW_S) <= LIMIT
    # both processes were held: together they took at least the windows the limit implies
    span = max(r["timestamp"] for r in records) - min(r["timestamp"] for r in records)
    assert span >= (tickets // LIMIT - 1) * WINDOW_S


def test_a_group_that_failed_in_one_process_is_skipped_by_the_next(tmp_path: Path, namespace: str) -> None:
    days = [DAY, DAY + timedelta(days=1)]
    for day in days:
        generate_day(tmp_path / "tickets", day, 10)
    with ChaosServer({"models": {"cheap": {"outage": True}}}) as server:
        data = settings_data(server, namespace)
        run_workers(tmp_path, data, days[:1])
        first = server.stats()["models"]["cheap"]["requests"]
        run_workers(tmp_path, data, days[1:])  # another task, within the cooldown
        second = server.stats()["models"]["cheap"]["requests"] - first
        backup = server.stats()["models"]["claude-test"]["requests"]

    assert first <= 3  # allowed_fails
    assert second == 0  # the breaker opened in Redis: the other process went to the fallback directly
    assert backup == 20
