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
from batch_models import lines, wait_terminal

from chaos_provider import ChaosConfig, ChaosServer
from chaos_provider.__main__ import build_batch_behaviour, build_parser
from chaos_provider.batch_api import BatchBehaviour
from llm_operators.core.config import LiteLLMSettings
from llm_operators.llm.batch_client import BatchClient, BatchPoll, BatchRef


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


# -- list and metadata, as OpenAI's reference has them (the fake provider passes the query string on) --
def _create(base: str, metadata: Any = None) -> Any:
    import httpx

    line = {
        "custom_id": "c",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "m", "messages": []},
    }
    up = httpx.post(
        f"{base}/files", files={"file": ("x.jsonl", json.dumps(line).encode())}, data={"purpose": "batch"}
    )
    body = {"input_file_id": up.json()["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"}
    return httpx.post(
        f"{base}/batches", json={**body, **({"metadata": metadata} if metadata is not None else {})}
    )


@pytest.fixture
def fake_provider():
    from fakes.batch_provider import FakeBatchProvider

    with FakeBatchProvider(lambda model, messages: "{}") as fake:
        yield fake


def test_list_is_newest_first_in_pages_of_limit_with_an_after_cursor(fake_provider) -> None:
    import httpx

    base = fake_provider.openai_base
    ids = [_create(base).json()["id"] for _ in range(23)]
    newest_first = ids[::-1]
    first = httpx.get(f"{base}/batches").json()  # default limit 20
    assert first["object"] == "list" and [b["id"] for b in first["data"]] == newest_first[:20]
    assert (first["first_id"], first["last_id"], first["has_more"]) == (
        newest_first[0],
        newest_first[19],
        True,
    )
    rest = httpx.get(f"{base}/batches", params={"after": first["last_id"], "limit": 100}).json()
    assert [b["id"] for b in rest["data"]] == newest_first[20:] and rest["has_more"] is False
    exact = httpx.get(f"{base}/batches", params={"after": newest_first[19], "limit": 3}).json()
    assert exact["has_more"] is False and exact["last_id"] == newest_first[-1]
    end = httpx.get(f"{base}/batches", params={"after": newest_first[-1]}).json()
    assert end == {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}
    assert all(b["object"] == "batch" and b["status"] == "completed" for b in first["data"])


def test_list_refuses_a_limit_outside_1_to_100_and_an_unknown_cursor(fake_provider) -> None:
    import httpx

    base = fake_provider.openai_base
    _create(base)
    for limit in ("0", "101", "ten"):
        r = httpx.get(f"{base}/batches", params={"limit": limit})
        assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error", limit
    assert httpx.get(f"{base}/batches", params={"limit": 100}).status_code == 200
    assert httpx.get(f"{base}/batches", params={"limit": 1}).json()["has_more"] is False
    assert httpx.get(f"{base}/batches", params={"after": "batch_nope"}).status_code == 404


def test_create_refuses_metadata_beyond_the_references_limits(fake_provider) -> None:
    base = fake_provider.openai_base
    at_limits = {f"{i:02d}" + "k" * 62: "v" * 512 for i in range(16)}
    ok = _create(base, at_limits)
    assert ok.status_code == 200 and ok.json()["metadata"] == at_limits
    for bad in (
        {**at_limits, "one-more": "v"},
        {"k" * 65: "v"},
        {"k": "v" * 513},
        {"k": 1},
        ["not", "an", "object"],
    ):
        r = _create(base, bad)
        assert r.status_code == 400 and "metadata" in r.json()["error"]["message"], bad
    assert len(fake_provider.batch.created) == 1


def test_the_chaos_server_pages_its_batch_list_too(chaos: ChaosServer) -> None:
    """The CLI's server mounts the same API: its query string (limit, after) reaches the list."""
    import httpx

    base = chaos.openai_base
    ids = [_create(base).json()["id"] for _ in range(3)]
    page = httpx.get(f"{base}/batches", params={"limit": 2}).json()
    assert [b["id"] for b in page["data"]] == ids[::-1][:2] and page["has_more"] is True
    rest = httpx.get(f"{base}/batches", params={"after": page["last_id"], "limit": 2}).json()
    assert [b["id"] for b in rest["data"]] == ids[:1] and rest["has_more"] is False
