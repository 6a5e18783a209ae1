"""LiteLLM's response cache, installed once per process.

With Redis, a re-run or backfill of a day is served from the cache and pays nothing twice. The
namespace carries the prompt version, so a new prompt never gets answers to the old one.
"""

from __future__ import annotations

import contextlib
from typing import Any

import litellm
from litellm.caching.caching import Cache

_installed: dict[str, Any] | None = None
_cache: Cache | None = None


def install_cache(cache_kwargs: dict[str, Any]) -> Cache:
    """Idempotent for the same settings; replaces the cache when they change (e.g. between tests).

    Also replaces a cache someone else put in `litellm.cache` meanwhile (a Router built with
    `cache_responses=True` and no cache installs an in-process one), so the settings asked for win.
    """
    global _installed, _cache
    if _cache is None or litellm.cache is not _cache or _installed != cache_kwargs:
        _flush_in_process_layer()
        _cache = Cache(**cache_kwargs)
        litellm.cache = _cache
        _installed = dict(cache_kwargs)
    return _cache


def uninstall_cache() -> None:
    """Remove the process-wide LLM cache (whoever installed it): later calls go to the providers."""
    global _installed, _cache
    litellm.cache = None
    _installed = None
    _cache = None
    _flush_in_process_layer()


def _flush_in_process_layer() -> None:
    """Forget the answers litellm keeps in memory in front of Redis.

    litellm serves a Redis-backed cache through a process-wide in-memory layer (in its caching
    handler), which outlives `litellm.cache`: without this, answers deleted from Redis, or cached
    under a cache that was uninstalled, would still be served within the process.
    """
    from litellm.caching import caching_handler

    layer = getattr(caching_handler, "in_memory_cache_obj", None)
    if layer is not None:
        with contextlib.suppress(Exception):  # litellm internals: never fail a task over this
            layer.flush_cache()
