"""The two-rung ladder that the batch-mode tests and `bench/batch_cost.py` point at the fake batch provider.

`cheap` is served by `openai/fast` and `strong` by `openai/careful`: the provider's answer function reads
the model name to answer as the offline engine's fast or careful mode does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from llm_operators.core.judge import JUDGE_HEADER
from llm_operators.core.offline_engine import answer_messages, triage_text
from llm_operators.core.prompts import extract_ticket_text
from llm_operators.llm.batch_client import BatchClient, BatchLine, BatchPoll, BatchRef

# live price per (input, output) token of each group; a batch line costs the connection's discount of it
PRICES = {"cheap": (1e-6, 2e-6), "strong": (1e-5, 3e-5)}
MODELS = {"cheap": "fast", "strong": "careful"}


def model_list(base: str, prices: Mapping[str, tuple[float, float]] = PRICES) -> list[dict[str, Any]]:
    """`cheap` and `strong` at `base`, priced per token by `prices[group]`."""
    return [
        {
            "model_name": group,
            "litellm_params": {
                "model": f"openai/{model}",
                "api_base": base,
                "input_cost_per_token": prices[group][0],
                "output_cost_per_token": prices[group][1],
            },
        }
        for group, model in MODELS.items()
    ]


def answer_with_repairs(model: str, messages: list[dict[str, Any]]) -> str:
    """The offline engine's answer, but the cheap model botches its first try on some tickets, so that the
    repairs make a second round. The judge's prompt (free-text mode) gets the offline judge's verdict."""
    system = next((m.get("content") for m in messages if m.get("role") == "system"), "")
    if isinstance(system, str) and system.startswith(JUDGE_HEADER):
        return json.dumps(answer_messages(messages))
    text = extract_ticket_text(messages)
    is_repair = any(m.get("role") == "assistant" for m in messages)
    if model == "fast" and not is_repair and len(text) % 4 == 0:
        return "Sure! Looks like a billing thing."
    return json.dumps(triage_text(text, "careful" if model == "careful" else "fast"))


def lines(n: int) -> list[BatchLine]:
    """`n` one-message batch lines, custom ids k0, k1, ..."""
    return [
        BatchLine(custom_id=f"k{i}", messages=[{"role": "user", "content": f"ticket {i}"}]) for i in range(n)
    ]


async def wait_terminal(client: BatchClient, ref: BatchRef) -> BatchPoll:
    """Poll until the batch is finished (completed, failed, expired or cancelled)."""
    for _ in range(200):
        poll = await client.poll(ref)
        if poll.terminal:
            return poll
        await asyncio.sleep(0.05)
    raise AssertionError("batch never finished")
