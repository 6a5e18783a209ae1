"""The chaos provider in its own process, answering like the offline models (used by bench/run.py).

A separate process, so the provider's HTTP parsing and answering use the machine's other core and
never steal the benchmarked event loop's CPU (or its GIL). Prints its URL on the first line, then
serves on 127.0.0.1 until stdin closes or SIGTERM.

    .venv/bin/python bench/_chaos_proc.py --latency-ms 100
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "plugins"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))  # the chaos provider

from chaos_provider import ChaosConfig, ChaosServer, ModelBehaviour
from llm_operators.core.offline_engine import triage_text
from llm_operators.core.prompts import extract_ticket_text


def content_fn(model: str, messages: list[dict[str, Any]]) -> str:
    """A realistic answer: the offline engine's, `careful` for the strong model, `fast` otherwise."""
    return json.dumps(triage_text(extract_ticket_text(messages), "careful" if "strong" in model else "fast"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    config = ChaosConfig(default=ModelBehaviour(latency_ms=args.latency_ms))
    server = ChaosServer(config, host="127.0.0.1", port=0, content_fn=content_fn, max_recorded=100)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def watch_stdin() -> None:  # the parent died or closed the pipe: stop too
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(server.url, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
