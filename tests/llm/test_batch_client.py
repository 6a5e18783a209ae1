"""`BatchClient` over real HTTP through LiteLLM's own files/batches client, against the chaos Batch API
(`chaos/batch_api.py`) mounted on a loopback server that also answers live chat completions."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

import pytest
from batch_models import lines, wait_terminal

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from fakes.batch_provider import FakeBatchProvider

from chaos_provider.batch_api import BatchBehaviour
from llm_operators.core.config import LiteLLMSettings
from llm_operators.llm.batch_client import (
    BatchClient,
    BatchCreateError,
    BatchPoll,
    BatchRef,
    lines_digest,
)


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
    # the caller's metadata, and what names the batch: group, deployment, the requests' digest
    assert created["metadata"] == {
        "round": "1",
        "group": "cheap",
        "deployment": "openai/fast",
        "requests": lines_digest(["k2", "k0", "k1"]),
        "lines": "3",
    }
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


def test_find_pages_through_newer_batches_to_the_one_an_earlier_try_created(provider) -> None:
    client = BatchClient(settings_for(provider.openai_base), list_page_size=2)
    since = time.time() - 60
    tags = {"dag_run": "run-1", "round": "2"}

    async def run() -> tuple[BatchRef, object]:
        ours = await client.submit("cheap", lines(3), metadata=tags)
        # newer batches: other rounds, other requests, another run; more than two pages of them
        await client.submit("cheap", lines(3), metadata={**tags, "round": "3"})
        await client.submit("cheap", lines(2), metadata=tags)
        await client.submit("strong", lines(3), metadata=tags)
        for _ in range(3):
            await client.submit("cheap", lines(3), metadata={**tags, "dag_run": "run-2"})
        return ours, await client.find("cheap", ["k2", "k1", "k0"], tags, since=since)

    ours, lookup = asyncio.run(run())
    assert lookup.ref is not None and lookup.ref.batch_id == ours.batch_id and lookup.ref.adopted
    assert lookup.ref.model_dump(exclude={"adopted", "submitted_at"}) == ours.model_dump(
        exclude={"adopted", "submitted_at"}
    )
    assert not lookup.problems and lookup.seen == 7 and lookup.pages == 4
    # the pages asked: each `after` the last id of the page before, as the reference says
    asked = provider.requests_to("/v1/batches", "GET")
    assert [r.arg("limit") for r in asked] == ["2"] * 4
    newest_first = list(reversed(provider.batch.created))
    assert [r.arg("after") for r in asked] == [None, newest_first[1], newest_first[3], newest_first[5]]


def test_find_stops_at_batches_older_than_the_plan_and_skips_dead_ones(provider) -> None:
    client = BatchClient(settings_for(provider.openai_base), list_page_size=1)
    provider.batch.configure(BatchBehaviour(completion_delay_s=3600))

    async def run() -> tuple[object, object, BatchRef]:
        dead = await client.submit("cheap", lines(2), metadata={"round": "1"})
        await client.cancel(dead)
        for _ in range(3):
            await client.submit("cheap", lines(1), metadata={"round": "9"})
        skipped = await client.find("cheap", ["k0", "k1"], {"round": "1"}, since=time.time() - 60)
        provider.clear()
        later = await client.find("cheap", ["k0", "k1"], {"round": "1"}, since=time.time() + 3600)
        return skipped, later, dead

    skipped, later, dead = asyncio.run(run())
    # a cancelled batch of an earlier try is not adopted: its lines would all fail
    assert skipped.ref is None and skipped.skipped == [f"{dead.batch_id} cancelled"] and skipped.seen == 4
    # nothing created since the plan: the first (older) batch ends the listing
    assert later.ref is None and later.pages == 1 and len(provider.requests_to("/v1/batches", "GET")) == 1


def test_a_listing_error_is_reported_not_raised(provider) -> None:
    from fakes.base import Response

    client = BatchClient(settings_for(provider.openai_base))
    provider.inject_failure(Response(500, b'{"error": {"message": "boom"}}'), path="/v1/batches")
    lookup = asyncio.run(client.find("cheap", ["k0"], {"round": "1"}, since=0))
    assert lookup.ref is None and len(lookup.problems) == 1
    assert lookup.problems[0].startswith(f"listing batches at openai {provider.openai_base} failed: ")
    # both `cheap` deployments share one account: listed once
    assert lookup.listed == [f"openai {provider.openai_base}"]


def test_metadata_beyond_the_providers_limits_is_refused_before_anything_is_sent(provider) -> None:
    client = BatchClient(settings_for(provider.openai_base))
    # the client adds four pairs (group, requests, lines, deployment): 12 of the caller's are the most
    with pytest.raises(ValueError, match="17 pairs"):
        asyncio.run(client.submit("cheap", lines(1), metadata={f"k{i}": "v" for i in range(13)}))
    with pytest.raises(ValueError, match="512"):
        asyncio.run(client.submit("cheap", lines(1), metadata={"dag_run": "x" * 513}))
    assert provider.requests == []


def test_a_list_that_ignores_the_cursor_is_read_once_and_said(provider, monkeypatch) -> None:
    """LiteLLM 1.106.2 passes neither `after` nor `limit` to Azure's list: the same first page comes back."""
    import litellm

    real = litellm.alist_batches

    async def like_azure(**kwargs: Any) -> Any:
        return await real(**{k: v for k, v in kwargs.items() if k not in ("after", "limit")})

    monkeypatch.setattr(litellm, "alist_batches", like_azure)
    client = BatchClient(settings_for(provider.openai_base))

    async def run() -> tuple[BatchRef, object, object]:
        ours = await client.submit("cheap", lines(1), metadata={"round": "1"})
        found = await client.find("cheap", ["k0"], {"round": "1"}, since=0)
        for _ in range(20):
            await client.submit("cheap", lines(1), metadata={"round": "2"})
        return ours, found, await client.find("cheap", ["k0"], {"round": "1"}, since=0)

    ours, found, lost = asyncio.run(run())
    assert found.ref is not None and found.ref.batch_id == ours.batch_id
    # the 21st newest is beyond the one page the provider gives: not found, and the lookup says why
    assert lost.ref is None and lost.pages == 2 and lost.seen == 20
    assert lost.problems == [f"openai {provider.openai_base} ignored the `after` cursor: one page checked"]
