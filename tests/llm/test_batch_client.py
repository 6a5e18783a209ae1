"""`BatchClient` over real HTTP through LiteLLM's own files/batches client, against the chaos Batch API
(`chaos/batch_api.py`) mounted on a loopback server that also answers live chat completions."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from fakes.batch_provider import FakeBatchProvider

from chaos_provider.batch_api import BatchBehaviour
from llm_operators.core.config import LiteLLMSettings
from llm_operators.llm.batch_client import BatchClient, BatchCreateError, BatchLine, BatchPoll, BatchRef


def content_fn(model: str, messages: list[dict[str, Any]]) -> str:
    return json.dumps({"model": model, "echo": messages[-1]["content"]})


def settings_for(base: str, **extra: Any) -> LiteLLMSettings:
    model_list = extra.pop(
        "model_list",
        [
            {
                "model_name": "cheap",
                "litellm_params": {
                    "model": "openai/fast",
                    "api_base": base,
                    "api_key": "sk-a",
                    "input_cost_per_token": 1e-6,
                    "output_cost_per_token": 2e-6,
                },
            },
            {
                "model_name": "cheap",
                "litellm_params": {"model": "openai/fast-2", "api_base": base, "api_key": "sk-a"},
            },
            {
                "model_name": "strong",
                "litellm_params": {"model": "openai/gpt-4o-mini", "api_base": base, "api_key": "sk-a"},
            },
            {"model_name": "local", "litellm_params": {"model": "offline/fast"}},
        ],
    )
    return LiteLLMSettings.parse({"model_list": model_list, "ladder": ["cheap", "strong"], **extra}, "test")


def lines(n: int) -> list[BatchLine]:
    return [
        BatchLine(custom_id=f"k{i}", messages=[{"role": "user", "content": f"ticket {i}"}]) for i in range(n)
    ]


async def wait_terminal(client: BatchClient, ref: BatchRef) -> BatchPoll:
    for _ in range(100):
        poll = await client.poll(ref)
        if poll.terminal:
            return poll
        await asyncio.sleep(0.05)
    raise AssertionError("batch never finished")


@pytest.fixture
def provider():
    with FakeBatchProvider(content_fn) as fake:
        yield fake


def test_a_batch_round_trip_answers_each_line_like_the_live_endpoint(provider: FakeBatchProvider) -> None:
    client = BatchClient(settings_for(provider.openai_base))

    async def run() -> tuple[BatchRef, BatchPoll, dict]:
        ref = await client.submit("cheap", lines(3), metadata={"round": "1"})
        poll = await wait_terminal(client, ref)
        return ref, poll, await client.results(ref, poll, ["k0", "k1", "k2"])

    ref, poll, results = asyncio.run(run())
    assert poll.status == "completed" and (poll.completed, poll.failed, poll.total) == (3, 0, 3)
    assert ref.deployment == "openai/fast" and ref.answered_group == "cheap" and ref.tried == []
    for i in range(3):
        body = {"model": "fast", "messages": [{"role": "user", "content": f"ticket {i}"}]}
        live = provider.batch_answer(body)[1]
        assert results[f"k{i}"].content == live["choices"][0]["message"]["content"]
        assert results[f"k{i}"].prompt_tokens == live["usage"]["prompt_tokens"] > 0
    upload = provider.requests_to("/v1/files", "POST")[0]
    assert upload.content_type == "multipart/form-data" and b'name="purpose"' in upload.body
    created = provider.requests_to("/v1/batches", "POST")[0].json()
    assert created["completion_window"] == "24h" and created["endpoint"] == "/v1/chat/completions"
    assert created["metadata"] == {"round": "1"}
    assert not provider.errors


def test_a_deployment_that_refuses_the_batch_hands_it_to_the_next(provider: FakeBatchProvider) -> None:
    provider.batch.configure(BatchBehaviour(create_outage_models=["fast"]))
    client = BatchClient(settings_for(provider.openai_base))
    ref = asyncio.run(client.submit("cheap", lines(2)))
    assert ref.deployment == "openai/fast-2" and ref.deployment_index == 1
    assert len(ref.tried) == 1 and ref.tried[0].startswith("openai/fast:") and "503" in ref.tried[0]
    # no hidden SDK retry: one refused create, one accepted, one batch at the provider
    assert provider.batch.create_attempts == 2 and len(provider.batch.created) == 1
    assert provider.batch.batch_models(ref.batch_id) == ["fast-2"]


def test_a_group_without_a_batch_capable_deployment_falls_back_to_its_fallback_group(provider) -> None:
    settings = settings_for(provider.openai_base, router_settings={"fallbacks": [{"local": ["strong"]}]})
    client = BatchClient(settings)
    ref = asyncio.run(
        client.submit("local", lines(1))
    )  # offline has no batch API: the fallback group takes it
    assert ref.group == "local" and ref.answered_group == "strong" and ref.deployment == "openai/gpt-4o-mini"
    with pytest.raises(BatchCreateError, match="no deployment on a provider with a batch API"):
        asyncio.run(BatchClient(settings_for(provider.openai_base)).submit("local", lines(1)))
    provider.batch.configure(BatchBehaviour(outage=True))
    with pytest.raises(BatchCreateError, match="no deployment of 'cheap' took the batch"):
        asyncio.run(client.submit("cheap", lines(1)))


def test_an_expired_batch_returns_what_finished_and_names_the_rest(provider: FakeBatchProvider) -> None:
    provider.batch.configure(BatchBehaviour(completion_delay_s=60, expire_after_s=1.0, expire_done_share=0.5))
    client = BatchClient(settings_for(provider.openai_base))

    async def run() -> tuple[BatchPoll, dict]:
        ref = await client.submit("cheap", lines(4))
        assert (await client.poll(ref)).status == "in_progress"
        await asyncio.sleep(1.05)
        poll = await wait_terminal(client, ref)
        return poll, await client.results(ref, poll, [f"k{i}" for i in range(4)])

    poll, results = asyncio.run(run())
    assert poll.status == "expired" and (poll.completed, poll.failed) == (2, 2)
    assert [k for k, r in sorted(results.items()) if r.ok] == ["k0", "k1"]
    assert results["k3"].error.startswith("batch_expired")


def test_a_cancelled_batch_has_no_result_for_unfinished_lines_and_they_are_reported(provider) -> None:
    provider.batch.configure(BatchBehaviour(completion_delay_s=3600))
    client = BatchClient(settings_for(provider.openai_base))

    async def run() -> tuple[BatchPoll, dict]:
        ref = await client.submit("cheap", lines(3))
        await client.cancel(ref)
        poll = await wait_terminal(client, ref)
        return poll, await client.results(ref, poll, ["k0", "k1", "k2"])

    poll, results = asyncio.run(run())
    # the provider writes no line for requests it never ran: absent from both files, still reported
    assert poll.status == "cancelled" and poll.output_file_id is None and poll.error_file_id is None
    assert all(r.error == "batch cancelled: no result" for r in results.values()) and len(results) == 3


def test_partly_failed_lines_come_back_as_errors(provider: FakeBatchProvider) -> None:
    provider.batch.configure(BatchBehaviour(line_failure_rate=0.5, seed=3))
    client = BatchClient(settings_for(provider.openai_base))

    async def run() -> tuple[BatchPoll, dict]:
        ref = await client.submit("cheap", lines(20))
        poll = await wait_terminal(client, ref)
        return poll, await client.results(ref, poll, [f"k{i}" for i in range(20)])

    poll, results = asyncio.run(run())
    failed = [r for r in results.values() if not r.ok]
    assert poll.status == "completed" and 0 < len(failed) < 20 and poll.failed == len(failed)
    assert all(r.error.startswith("500") for r in failed)


def test_the_fake_rejects_what_openai_rejects(provider: FakeBatchProvider) -> None:
    import httpx

    base = provider.openai_base
    headers = {"Authorization": "Bearer sk-a"}
    mixed = "".join(
        json.dumps(
            {
                "custom_id": f"c{m}",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {"model": m, "messages": []},
            }
        )
        + "\n"
        for m in ("a", "b")
    )
    up = httpx.post(
        f"{base}/files",
        headers=headers,
        files={"file": ("x.jsonl", mixed.encode())},
        data={"purpose": "batch"},
    )
    assert up.status_code == 200
    file_id = up.json()["id"]
    bad_window = httpx.post(
        f"{base}/batches",
        headers=headers,
        json={"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "1h"},
    )
    assert bad_window.status_code == 400
    batch = httpx.post(
        f"{base}/batches",
        headers=headers,
        json={"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h"},
    )
    got = httpx.get(f"{base}/batches/{batch.json()['id']}", headers=headers).json()
    assert got["status"] == "failed" and got["errors"]["data"][0]["code"] == "mismatched_model"
    not_multipart = httpx.post(f"{base}/files", headers=headers, json={"purpose": "batch"})
    assert not_multipart.status_code == 400
    done = httpx.post(f"{base}/batches/{batch.json()['id']}/cancel", headers=headers)
    assert done.status_code == 409  # a failed batch cannot be cancelled


def test_cost_is_litellms_batch_price_where_it_has_one_else_the_discounted_live_price(provider) -> None:
    client = BatchClient(settings_for(provider.openai_base), discount=0.4)
    known = BatchRef(
        batch_id="b",
        input_file_id="f",
        group="strong",
        answered_group="strong",
        deployment_index=2,
        deployment="openai/gpt-4o-mini",
        provider="openai",
        lines=1,
        submitted_at=time.time(),
    )
    # LiteLLM's cost map has batch prices for gpt-4o-mini (half the live 1.5e-7 / 6e-7)
    assert client.line_cost(known, 1000, 100) == pytest.approx(1000 * 0.75e-7 + 100 * 3e-7)
    priced = known.model_copy(update={"deployment_index": 0, "deployment": "openai/fast", "group": "cheap"})
    assert client.line_cost(priced, 1000, 100) == pytest.approx((1000 * 1e-6 + 100 * 2e-6) * 0.4)
