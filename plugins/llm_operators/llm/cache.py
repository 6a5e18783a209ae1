"""LiteLLM's response cache, installed once per process.

With Redis, a re-run or backfill of a day is served from the cache and pays nothing twice. The
namespace carries the prompt version, so a new prompt never gets answers to the old one.
"""

from __future__ import annotations

from typing import Any

import litellm
from litellm.caching.caching import Cache

_installed: dict[str, Any] | None = None


def install_cache(cache_kwargs: dict[str, Any]) -> Cache:
    """Idempotent for the same settings; replaces the cache when they change (e.g. between tests)."""
    global _installed
    if litellm.cache is None or _installed != cache_kwargs:
        litellm.cache = Cache(**cache_kwargs)
        _installed = dict(cache_kwargs)
    return litellm.cache


def uninstall_cache() -> None:
    global _installed
    litellm.cache = None
    _installed = None
