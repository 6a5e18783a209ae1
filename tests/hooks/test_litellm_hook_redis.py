"""LiteLLMHook hands the Router the Redis client of the Redis connection itself (breaker and rate
limiter shared across tasks), not one borrowed from the answer cache; without Redis, none."""

from __future__ import annotations

import json
from typing import Any

import pytest

import llm_operators.llm.router_client as router_client
from llm_operators.hooks.litellm import LiteLLMHook

REDIS_DB = 15


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The keyword arguments each TriageRouter was built with."""
    seen: list[dict[str, Any]] = []

    class Recording(router_client.TriageRouter):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            seen.append(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(router_client, "TriageRouter", Recording)
    extra = {"offline": True, "cache_namespace": "hook-redis-test"}
    monkeypatch.setenv("AIRFLOW_CONN_LITELLM_HOOKREDIS", json.dumps({"conn_type": "litellm", "extra": extra}))
    monkeypatch.setenv("AIRFLOW_CONN_REDIS_HOOKREDIS", f"redis://127.0.0.1:6379/{REDIS_DB}")
    return seen


def test_the_router_gets_the_redis_connections_client(built: list[dict[str, Any]]) -> None:
    router = LiteLLMHook("litellm_hookredis", redis_conn_id="redis_hookredis").client
    try:
        client = built[0]["redis"]
        assert client is not None and client.connection_pool.connection_kwargs["db"] == REDIS_DB
        assert client.ping() and router.shared
    finally:
        router.close()


def test_without_redis_the_router_keeps_its_state_in_process(built: list[dict[str, Any]]) -> None:
    hook = LiteLLMHook("litellm_hookredis", redis_conn_id="redis_absent_for_test")
    router = hook.client
    try:
        assert built[0]["redis"] is None and hook.redis is None and hook.cache_settings()["type"] == "local"
    finally:
        router.close()
