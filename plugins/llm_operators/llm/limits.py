"""Requests-per-minute limits per deployment that hold across tasks and workers.

LiteLLM's default routing uses `rpm` only as a weight and counts usage per process, so mapped tasks
together overran a deployment's limit. Here every request to a deployment with `rpm` in its
`litellm_params` first waits for a slot in a sliding 60-s window: in Redis (one Lua script, Redis's
own clock) when the run has Redis, else in-process. The wait happens in the Router's pre-call check
(llm/request_hook.py), so retries and fallbacks count too. A slot is held until the call returns
(the provider sees the request somewhere in between) and counts from then. docs/limits.md has the
numbers and the trade-offs.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import random
import time
import uuid
from collections.abc import Iterator
from typing import Any, Protocol

WINDOW_S = 60.0
MARGIN_S = 0.5

# KEYS[1] the window; ARGV limit, window and hold in microseconds, a unique member.
# Returns 0 when admitted, else the microseconds until the oldest request leaves the window.
_SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[2])
local hold = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + hold, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil((window + hold) / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1000, math.ceil(tonumber(oldest[2]) + window - now))
"""


# KEYS[1] the window; ARGV[1] the member admitted earlier: counted from now on.
_RESTAMP = """
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], tonumber(t[1]) * 1000000 + tonumber(t[2]), ARGV[1])
"""

# the slots admitted during the current call: (window key, member); a list, so that admissions made in
# a task litellm spawns (a copy of the context) are still seen by the caller
_admitted: contextvars.ContextVar[list[tuple[str, str]] | None] = contextvars.ContextVar(
    "rate_limit_admitted", default=None
)


class WindowStore(Protocol):
    def try_acquire(self, key: str, limit: int, window_s: float, member: str, hold_s: float) -> float:
        """0.0 if a request may go now (and it is counted), else seconds to wait before trying again."""

    def restamp(self, key: str, member: str) -> None:
        """The admitted request leaves now: count it from now."""


class LocalWindowStore:
    def __init__(self) -> None:
        self._windows: dict[str, dict[str, float]] = {}

    def try_acquire(self, key: str, limit: int, window_s: float, member: str, hold_s: float) -> float:
        now = time.monotonic()
        window = self._windows.setdefault(key, {})
        for old in [m for m, at in window.items() if at <= now - window_s]:
            del window[old]
        if len(window) < limit:
            window[member] = now + hold_s
            return 0.0
        return max(0.001, min(window.values()) + window_s - now)

    def restamp(self, key: str, member: str) -> None:
        self._windows.setdefault(key, {})[member] = time.monotonic()


class RedisWindowStore:
    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(_SLIDING_WINDOW)
        self._restamp = client.register_script(_RESTAMP)

    def try_acquire(self, key: str, limit: int, window_s: float, member: str, hold_s: float) -> float:
        args = [limit, int(window_s * 1_000_000), member, int(hold_s * 1_000_000)]
        wait_us = self._script(keys=[f"{self.prefix}:{key}"], args=args)
        return int(wait_us) / 1_000_000

    def restamp(self, key: str, member: str) -> None:
        self._restamp(keys=[f"{self.prefix}:{key}"], args=[member])


def deployment_key(litellm_params: dict[str, Any]) -> str:
    """The same deployment has the same key in every process (LiteLLM's model id may not)."""
    who = f"{litellm_params.get('model')}|{litellm_params.get('api_base') or ''}"
    return hashlib.sha256(who.encode()).hexdigest()[:16]


class DeploymentRateLimiter:
    """Holds each request to a rate-limited deployment until its window has room."""

    def __init__(
        self, store: WindowStore, *, hold_s: float, window_s: float = WINDOW_S, margin_s: float = MARGIN_S
    ) -> None:
        self.store = store
        self.hold_s = hold_s
        self.window_s = window_s + margin_s
        self.waited_s = 0.0  # total time requests were held, for the task's log

    async def acquire(self, litellm_params: dict[str, Any]) -> None:
        rpm = litellm_params.get("rpm")
        if not rpm:
            return
        key = deployment_key(litellm_params)
        member = uuid.uuid4().hex
        started = None
        while True:
            wait_s = self.store.try_acquire(key, int(rpm), self.window_s, member, self.hold_s)
            if wait_s <= 0:
                if started is not None:
                    self.waited_s += time.monotonic() - started
                admitted = _admitted.get()
                if admitted is not None:
                    admitted.append((key, member))
                return
            started = started or time.monotonic()
            # held slots free up when their calls return, before their score says: look again soon;
            # a little jitter, so the waiters of one process do not all retry at the same instant
            await asyncio.sleep(min(wait_s, 0.25) + random.uniform(0, 0.02))

    @contextlib.contextmanager
    def tracking(self) -> Iterator[None]:
        """Around one Router call: its requests' slots count from when it returns."""
        admitted: list[tuple[str, str]] = []
        token = _admitted.set(admitted)
        try:
            yield
        finally:
            _admitted.reset(token)
            for key, member in admitted:
                self.store.restamp(key, member)
