"""The answer cache: one LLM answer per (model group asked, request), installed once per process.

With Redis, a re-run or backfill of a day is served from the cache and pays nothing twice. Keys are
the model group the ladder *asked* (the rung), not the one that answered: LiteLLM's own cache keys by
the answering group, so a ticket answered by a fallback was asked again on every re-run. Checking
the cache before the Router also keeps cache hits off the rate limiter and the breaker, and costs a
fraction of a Router call. The namespace carries the prompt version, so a new prompt never gets
answers to the old one.

`install_cache` takes the settings `LiteLLMHook.cache_settings()` gives: `type` ("redis" or
"local"), `namespace`, `ttl`, and for Redis the client settings (`host`, `port`, `db`, `password`,
`username`, `ssl`...).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from llm_operators.llm.environment import disable_litellm_cache

# redis-py client arguments a cache description may carry (anything else is ours or litellm's)
_REDIS_CLIENT_KEYS = (
    "host",
    "port",
    "db",
    "username",
    "password",
    "ssl",
    "ssl_cert_reqs",
    "ssl_ca_certs",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_check_hostname",
)
DEFAULT_TTL_S = 30 * 24 * 3600


@dataclass(frozen=True)
class CachedAnswer:
    """What a re-run needs to rebuild the call's record without asking anyone."""

    content: str
    answered_group: str
    deployment: str | None
    api_base: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class _Store(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def set(self, key: str, value: bytes, ttl_s: int) -> None: ...
    def clear(self) -> None: ...


class _LocalStore:
    """In-process, for runs without Redis: lost at task end, but a ticket's repair and rungs share it."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[float, bytes]] = {}

    def get(self, key: str) -> bytes | None:
        item = self._data.get(key)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    def set(self, key: str, value: bytes, ttl_s: int) -> None:
        self._data[key] = (time.monotonic() + ttl_s, value)

    def clear(self) -> None:
        self._data.clear()


class _RedisStore:
    def __init__(self, client: Any) -> None:
        self.client = client

    def get(self, key: str) -> bytes | None:
        return self.client.get(key)

    def set(self, key: str, value: bytes, ttl_s: int) -> None:
        self.client.set(key, value, ex=ttl_s)

    def clear(self) -> None:
        self.client.close()


class AnswerCache:
    def __init__(self, store: _Store, *, namespace: str, ttl_s: int, kind: str) -> None:
        self.store = store
        self.namespace = namespace
        self.ttl_s = ttl_s
        self.kind = kind

    @property
    def redis(self) -> Any | None:
        """The Redis client, when the cache lives in Redis (shared limits and breakers use it too)."""
        return self.store.client if isinstance(self.store, _RedisStore) else None

    def get(self, key: str) -> CachedAnswer | None:
        raw = self.store.get(key)
        if raw is None:
            return None
        try:
            return CachedAnswer(**json.loads(raw))
        except (ValueError, TypeError):
            return None  # written by another version: a miss, overwritten on the way back

    def put(self, key: str, answer: CachedAnswer) -> None:
        self.store.set(key, json.dumps(asdict(answer)).encode(), self.ttl_s)


_installed: dict[str, Any] | None = None
_cache: AnswerCache | None = None


def install_cache(cache_kwargs: dict[str, Any]) -> AnswerCache:
    """Idempotent for the same settings; replaces the cache when they change (e.g. between tests)."""
    global _installed, _cache
    if _cache is None or _installed != cache_kwargs:
        if _cache is not None:
            _cache.store.clear()
        namespace = str(cache_kwargs.get("namespace") or "ticket-triage")
        ttl = int(cache_kwargs.get("ttl") or DEFAULT_TTL_S)
        kind = cache_kwargs.get("type", "local")
        if kind == "redis":
            import redis

            client_kwargs = {
                k: cache_kwargs[k] for k in _REDIS_CLIENT_KEYS if cache_kwargs.get(k) is not None
            }
            client_kwargs["port"] = int(client_kwargs.get("port", 6379))
            store: _Store = _RedisStore(redis.Redis(**client_kwargs))
        elif kind == "local":
            store = _LocalStore()
        else:
            raise ValueError(f"unknown LLM cache type {kind!r} (redis or local)")
        _cache = AnswerCache(store, namespace=namespace, ttl_s=ttl, kind=kind)
        _installed = dict(cache_kwargs)
    disable_litellm_cache()
    return _cache


def installed_cache() -> AnswerCache | None:
    return _cache


def uninstall_cache() -> None:
    """Remove the process-wide answer cache: later calls go to the providers."""
    global _installed, _cache
    if _cache is not None:
        _cache.store.clear()
    _installed = None
    _cache = None
    disable_litellm_cache()
