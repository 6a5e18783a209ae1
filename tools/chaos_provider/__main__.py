"""Chaos LLM provider - rehearse an LLM outage locally.

Runs a fake LLM provider on 127.0.0.1 (never any other address) that speaks
OpenAI Chat Completions and Anthropic Messages and injects latency, HTTP errors,
hangs, outages and malformed triage answers.  Runs in the foreground until Ctrl-C
(or SIGTERM).  The first line printed is the URL (useful with --port 0).

Start it from the repository (``tools/`` must be importable; ``source scripts/env.sh`` puts it on
PYTHONPATH):

    PYTHONPATH=tools python -m chaos_provider --port 8999 \\
        --latency-ms 200 --error-rate 503=0.3 --error-rate 429=0.1 \\
        --timeout-rate 0.05 --malformed-rate 0.1 --malformed-kind not_json \\
        --outage-window 10:70

Point litellm at it (any model name works; the name selects the per-model behaviour):

    OpenAI-style:    model="openai/<name>",    api_base="http://127.0.0.1:8999/v1", api_key="sk-anything"
    Anthropic-style: model="anthropic/<name>", api_base="http://127.0.0.1:8999",    api_key="sk-anything"

  or in a litellm Router / proxy model_list:
    {"model_name": "primary", "litellm_params": {"model": "openai/primary",
     "api_base": "http://127.0.0.1:8999/v1", "api_key": "sk-anything"}}

  Note: the OpenAI SDK under litellm retries 5xx/429/timeouts twice by itself
  (honouring Retry-After) unless you pass max_retries=0; the Anthropic path does not.

Behaviour per request (per model, see ChaosConfig / ModelBehaviour in config.py):
  0. rate limit: --rpm N requests per --rate-window-s (default 60) sliding window, else 429 with
     Retry-After (a rejected request does not count)
  1. added latency: --latency-ms plus uniform [0, --jitter-ms]
  2. outage: --outage (always) or --outage-window START:END (seconds since start / last
     config change / reset) -> every request fails with --outage-status (default 503)
  3. one random draw: an injected error status (--error-rate STATUS=P, repeatable; 429 gets
     Retry-After) or a hang (--timeout-rate P; hangs --timeout-s seconds, then 504, unless the
     client gives up or the server stops first)
  4. otherwise success: a valid triage-result JSON (overridable per model via "result" or
     "reply" in --config), malformed with probability --malformed-rate as --malformed-kind:
     not_json, truncated_json, unknown_enum, confidence_out_of_range, missing_field,
     oversized, empty, wrong_types
  Faults are reproducible: each model has its own RNG seeded with --seed.

--config FILE is a JSON (or YAML) ChaosConfig, e.g.

    {"default": {"latency_ms": 50},
     "models": {"primary": {"outage_windows": [{"start_s": 10, "end_s": 70}]},
                "cheap":   {"result": {"confidence": 0.3}},
                "flaky":   {"error_rates": {"503": 0.2, "429": 0.1}, "seed": 7}}}

The behaviour flags override the config file's "default" behaviour (per-model entries are
left alone).

OpenAI Files and Batches API (what LiteLLM's create_file / create_batch / retrieve_batch /
file_content / cancel_batch send to an openai/<name> deployment on this server):
    POST /v1/files (multipart: purpose=batch, file=<jsonl>)   POST /v1/batches
    GET  /v1/batches/{id}   POST /v1/batches/{id}/cancel   GET /v1/files/{id}/content
  Each line is answered like a live request to its model (same content and usage, no faults).
  --batch-delay-s S: a batch stays in_progress S seconds, then completes (default 0);
  --batch-expire-after-s S (< the delay): it expires at that age instead, half its lines done.

Admin endpoints (drive a running server from another process):
    GET  /_chaos/stats     per-model request counts by outcome and status
    GET  /_chaos/requests  recent requests (?limit=N): model, path, body, headers (no auth), outcome
    GET  /_chaos/config    current ChaosConfig
    POST /_chaos/config    replace the ChaosConfig (JSON body); restarts outage-window clock
    POST /_chaos/reset     clear stats / request log, re-seed, restart outage-window clock

    curl -s http://127.0.0.1:8999/_chaos/stats
    curl -s -XPOST http://127.0.0.1:8999/_chaos/config -d '{"models": {"primary": {"outage": true}}}'
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from .batch_api import BatchBehaviour
from .config import MALFORMED_KINDS, ChaosConfig, ModelBehaviour
from .server import ChaosServer


def _error_rate(text: str) -> tuple[int, float]:
    status, sep, rate = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return int(status), float(rate)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected STATUS=RATE (e.g. 503=0.2), got {text!r}") from None


def _window(text: str) -> dict[str, float]:
    start, sep, end = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return {"start_s": float(start), "end_s": float(end)}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:END seconds (e.g. 10:70), got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m chaos_provider",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8999, help="port (0 = pick a free one; default 8999)")
    parser.add_argument("--config", help="JSON/YAML ChaosConfig file")
    parser.add_argument("--latency-ms", type=float)
    parser.add_argument("--jitter-ms", type=float)
    parser.add_argument(
        "--error-rate",
        type=_error_rate,
        action="append",
        metavar="STATUS=RATE",
        help="repeatable, e.g. 503=0.3",
    )
    parser.add_argument("--retry-after-s", type=int, help="Retry-After on 429 answers (default 1)")
    parser.add_argument(
        "--rpm", type=int, dest="rate_limit_requests", help="hard limit: requests per window, else 429"
    )
    parser.add_argument("--rate-window-s", type=float, dest="rate_limit_window_s", help="default 60")
    parser.add_argument("--timeout-rate", type=float)
    parser.add_argument("--timeout-s", type=float, help="how long a hang lasts before a 504 (default 30)")
    parser.add_argument("--outage", action="store_true", default=None, help="every request fails")
    parser.add_argument("--outage-status", type=int, help="status of outage answers (default 503)")
    parser.add_argument(
        "--outage-window", type=_window, action="append", metavar="START:END", help="repeatable, seconds"
    )
    parser.add_argument("--malformed-rate", type=float)
    parser.add_argument("--malformed-kind", choices=MALFORMED_KINDS)
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--batch-delay-s", type=float, help="a batch completes this long after its creation (default 0)"
    )
    parser.add_argument(
        "--batch-expire-after-s", type=float, help="a batch expires at this age instead (below the delay)"
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log every request to stderr")
    return parser


def build_config(args: argparse.Namespace) -> ChaosConfig:
    config = ChaosConfig.from_file(args.config) if args.config else ChaosConfig()
    overrides: dict[str, Any] = {}
    for flag, field in [
        ("latency_ms", "latency_ms"),
        ("jitter_ms", "jitter_ms"),
        ("retry_after_s", "retry_after_s"),
        ("rate_limit_requests", "rate_limit_requests"),
        ("rate_limit_window_s", "rate_limit_window_s"),
        ("timeout_rate", "timeout_rate"),
        ("timeout_s", "timeout_s"),
        ("outage", "outage"),
        ("outage_status", "outage_status"),
        ("malformed_rate", "malformed_rate"),
        ("malformed_kind", "malformed_kind"),
        ("seed", "seed"),
    ]:
        value = getattr(args, flag)
        if value is not None:
            overrides[field] = value
    if args.error_rate:
        overrides["error_rates"] = dict(args.error_rate)
    if args.outage_window:
        overrides["outage_windows"] = args.outage_window
    if not overrides:
        return config
    default = ModelBehaviour.model_validate({**config.default.model_dump(), **overrides})
    return ChaosConfig(default=default, models=config.models)


def build_batch_behaviour(args: argparse.Namespace) -> BatchBehaviour:
    settings: dict[str, Any] = {}
    if args.batch_delay_s is not None:
        settings["completion_delay_s"] = args.batch_delay_s
    if args.batch_expire_after_s is not None:
        settings["expire_after_s"] = args.batch_expire_after_s
    return BatchBehaviour.model_validate(settings)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = build_config(args)
        batch = build_batch_behaviour(args)
        server = ChaosServer(config, host=args.host, port=args.port, verbose=args.verbose)
        server.batch_api.configure(batch)
        server.start()
    except (ValidationError, ValueError, OSError) as exc:
        print(f"chaos: {exc}", file=sys.stderr)
        return 2

    # SIGTERM behaves like Ctrl-C: serve_forever() catches KeyboardInterrupt and stops cleanly.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    url = server.url
    print(f"Chaos LLM provider listening on {url}", flush=True)
    print(
        f"  litellm OpenAI-style:    model='openai/<any-name>', api_base='{server.openai_base}', "
        "api_key='sk-any'\n"
        f"  litellm Anthropic-style: model='anthropic/<any-name>', api_base='{server.anthropic_base}', "
        "api_key='sk-any'\n"
        f"  batches: {server.openai_base}/files and /batches "
        f"({batch.model_dump_json(include={'completion_delay_s', 'expire_after_s'})})\n"
        f"  stats:  curl -s {url}/_chaos/stats\n"
        f"  config: curl -s -XPOST {url}/_chaos/config -d @chaos.json\n"
        f"  default behaviour: {config.default.model_dump_json(exclude_defaults=True) or '{}'}\n"
        f"  per-model behaviours: {', '.join(sorted(config.models)) or '(none)'}\n"
        "  Ctrl-C to stop.",
        flush=True,
    )
    server.serve_forever()
    print("chaos: stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
