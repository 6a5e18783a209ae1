"""Shared plumbing of the benchmarks: paths, generated days, the chaos provider process, tables."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PLUGINS = REPO / "plugins"
TOOLS = REPO / "tools"
GENERATOR = REPO / "include" / "sample_data" / "generate_tickets.py"
SAMPLE_TICKETS = REPO / "include" / "sample_data" / "tickets"
RESULTS = BENCH / "results"
PY = sys.executable
DAY = date(2025, 10, 1)

# List prices per token: gpt-4o-mini for the cheap rung, gpt-4o for the strong one (the offline
# ladder's OFFLINE_PRICES are the same two pairs).
PRICES = {"cheap": (0.15e-6, 0.60e-6), "strong": (2.50e-6, 10.00e-6)}
LADDER = ("cheap", "strong")


def setup_imports() -> None:
    """`plugins/` and `tools/` (the chaos provider) importable, and litellm's cost map read from the
    package (no network at import)."""
    for path in (str(PLUGINS), str(TOOLS)):
        if path not in sys.path:
            sys.path.insert(0, path)
    from llm_operators.llm.environment import set_litellm_environment_defaults

    set_litellm_environment_defaults()


def rel(path: Path | str) -> str:
    """A path as the user would type it from the repository root."""
    try:
        return str(Path(path).absolute().relative_to(REPO))
    except ValueError:
        return str(path)


def cmdline(argv: Sequence[str]) -> str:
    return " ".join(shlex.quote(rel(a) if a.startswith(str(REPO)) else a) for a in argv)


def generate_day(root: Path, per_day: int, day: date = DAY) -> tuple[Path, str]:
    """Write `<root>/<day>.jsonl` with `per_day` tickets; returns the root and the command used."""
    argv = [PY, str(GENERATOR), "--per-day", str(per_day), "--days", "1"]
    argv += ["--out", str(root), "--start", day.isoformat()]
    subprocess.run(argv, check=True, capture_output=True)
    return root, cmdline(argv)


# -- the chaos provider, in its own process ----------------------------------------------------


class ChaosProcess:
    """`bench/_chaos_proc.py` on 127.0.0.1 with a fixed latency per request; admin over HTTP."""

    def __init__(self, latency_ms: float) -> None:
        self.latency_ms = latency_ms
        self.argv = [PY, str(BENCH / "_chaos_proc.py"), "--latency-ms", f"{latency_ms:g}"]
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> ChaosProcess:
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.__exit__()
            raise RuntimeError(f"chaos provider did not start (first line {self.url!r})")
        return self

    def __exit__(self, *exc: object) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()  # the server stops when its stdin closes
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    @property
    def openai_base(self) -> str:
        return self.url + "/v1"

    def _admin(self, method: str, route: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        request = urllib.request.Request(f"{self.url}/_chaos{route}", data=data, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stats(self) -> dict[str, Any]:
        return self._admin("GET", "/stats")

    def requests_total(self) -> int:
        return int(self.stats()["total_requests"])

    def reset(self) -> None:
        self._admin("POST", "/reset")

    def cpu_seconds(self) -> float:
        """CPU (user + system) the provider process has used so far, from /proc (0 if unreadable)."""
        if self.proc is None:
            return 0.0
        try:
            with open(f"/proc/{self.proc.pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def configure(self, config: dict[str, Any]) -> None:
        """Replace the provider's ChaosConfig (keeps the stats)."""
        self._admin("POST", "/config", config)

    def model_requests(self, model: str) -> int:
        return int(self.stats()["models"].get(model, {}).get("requests", 0))

    def set_latency(self, latency_ms: float) -> None:
        """Every model answers after `latency_ms` (replaces the config; keeps the stats)."""
        self._admin("POST", "/config", {"default": {"latency_ms": latency_ms}})
        self.latency_ms = latency_ms


def chaos_settings(openai_base: str, rungs: Sequence[str] = LADDER) -> Any:
    """Two hosted deployments on the chaos provider, priced like gpt-4o-mini and gpt-4o."""
    from llm_operators.core.config import LiteLLMSettings

    def hosted(name: str) -> dict[str, Any]:
        price_in, price_out = PRICES[name]
        params = {
            "model": f"openai/{name}",
            "api_base": openai_base,
            "api_key": "sk-bench",
            "max_retries": 0,
            "input_cost_per_token": price_in,
            "output_cost_per_token": price_out,
            "cache_creation_input_token_cost": 0.0,
            "cache_read_input_token_cost": 0.0,
        }
        return {"model_name": name, "litellm_params": params}

    return LiteLLMSettings.parse(
        {"model_list": [hosted(name) for name in PRICES], "ladder": list(rungs)}, "bench"
    )


# -- measuring ---------------------------------------------------------------------------------


class Clock:
    """Wall and CPU (this process) seconds of a block."""

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


# -- printing ----------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )

    rule = "  ".join("-" * w for w in widths)
    return "\n".join(row.rstrip() for row in [line(cells[0]), rule, *(line(r) for r in cells[1:])])


def usd(value: float) -> str:
    return f"${value:.4f}" if value < 10 else f"${value:,.2f}"


def pct(value: float) -> str:
    return f"{value * 100:.1f}%"
