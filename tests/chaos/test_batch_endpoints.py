"""The chaos server serves the OpenAI Files and Batches API (chaos/batch_api.py mounted in front of its
own routes), driven through LiteLLM's own files/batches client (`BatchClient`), over loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported: no network
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "True")

import pytest

from chaos_provider import ChaosConfig, ChaosServer
from chaos_provider.__main__ import build_batch_behaviour, build_parser
from chaos_provider.batch_api import BatchBehaviour
from llm_operators.core.config import LiteLLMSettings
from llm_operators.llm.batch_client import BatchClient, BatchLine, BatchPoll, BatchRef


@pytest.fixture
def chaos():
    with ChaosServer(ChaosConfig(models={"cheap": {"result": {"confidence": 0.42}}})) as server:
        yield server


def settings_for(server: ChaosServer) -> LiteLLMSettings:
    return LiteLLMSettings.parse(
        {
            "model_list": [
                {
                    "model_name": "cheap",
                    "litellm_params": {
                        "model": "openai/cheap",
                        "api_base": server.openai_base,
                        "api_key": "sk-test",
                    },
                }
            ],
            "ladder": ["cheap"],
        },
        "test",
    )


def lines(n: int) -> list[BatchLine]:
    return [
        BatchLine(custom_id=f"k{i}", messages=[{"role": "user", "content": f"ticket {i}"}]) for i in range(n)
    ]


async def wait_terminal(client: BatchClient, ref: BatchRef) -> BatchPoll:
    for _ in range(200):
        poll = await client.poll(ref)
        if poll.terminal:
            return poll
        await asyncio.sleep(0.05)
    raise AssertionError("batch never finished")


def round_trip(server: ChaosServer, n: int) -> tuple[BatchRef, BatchPoll, dict[str, Any]]:
    client = BatchClient(settings_for(server))

    async def run() -> tuple[BatchRef, BatchPoll, dict[str, Any]]:
        ref = await client.submit("cheap", lines(n))
        poll = await wait_terminal(client, ref)
        return ref, poll, await client.results(ref, poll, [f"k{i}" for i in range(n)])

    return asyncio.run(run())


def test_a_batch_round_trip_through_litellm_answers_like_the_live_endpoint(chaos: ChaosServer) -> None:
    ref, poll, results = round_trip(chaos, 3)
    assert poll.status == "completed" and (poll.completed, poll.failed, poll.total) == (3, 0, 3)
    assert ref.deployment == "openai/cheap" and chaos.batch_api.created == [ref.batch_id]
    for i in range(3):
        answer = json.loads(results[f"k{i}"].content)
        assert answer["confidence"] == 0.42  # the model's configured answer, as live
        assert results[f"k{i}"].prompt_tokens > 0 and results[f"k{i}"].completion_tokens > 0
    # the batch routes are not LLM requests: nothing in the live request log or stats
    assert chaos.stats()["total_requests"] == 0


def test_batch_lines_use_the_content_function_of_the_moment(chaos: ChaosServer) -> None:
    chaos.content_fn = lambda model, messages: json.dumps({"model": model, "echo": messages[-1]["content"]})
    _, _, results = round_trip(chaos, 2)
    assert [json.loads(results[k].content) for k in ("k0", "k1")] == [
        {"model": "cheap", "echo": "ticket 0"},
        {"model": "cheap", "echo": "ticket 1"},
    ]


def test_the_batch_flags_configure_the_mounted_api() -> None:
    args = build_parser().parse_args(["--batch-delay-s", "30", "--batch-expire-after-s", "5"])
    assert build_batch_behaviour(args) == BatchBehaviour(completion_delay_s=30, expire_after_s=5)
    assert build_batch_behaviour(build_parser().parse_args([])) == BatchBehaviour()


def test_an_expired_batch_keeps_part_of_its_lines(chaos: ChaosServer) -> None:
    chaos.batch_api.configure(BatchBehaviour(completion_delay_s=60, expire_after_s=0.2))
    _, poll, results = round_trip(chaos, 4)
    assert poll.status == "expired" and poll.completed == 2
    assert sorted(k for k, r in results.items() if r.error is None) == ["k0", "k1"]
    assert all("expired" in (results[k].error or "") for k in ("k2", "k3"))
