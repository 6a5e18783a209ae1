"""A circuit breaker per model group, shared by a task's tickets and, with Redis, by every task.

LiteLLM's Router never cools down a group's only deployment, so a dead primary cost every ticket
`num_retries + 1` failed requests before its fallback. Like LiteLLM's cooldown, but per group:

- closed: requests flow. Until the group has answered once in this process, at most `allowed_fails`
  requests are spent on it (in flight, or failed within `fail_window_s`), so a dead group costs
  `allowed_fails` requests, not a concurrency's worth, however its failures are spread in time; the
  others wait for the first answer (one latency, once per task).
- open: `allowed_fails` failures within `fail_window_s` (counted by every process), and no fewer
  failures than this process saw successes in that window (a flaky group that mostly answers stays
  closed); the group is skipped (its fallback is asked directly) for `cooldown_s`.
- half open: after the cooldown one request, claimed across processes, probes the group; success
  closes it, failure opens it for another cooldown. Everyone else keeps using the fallback.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Admission(StrEnum):
    GO = "go"  # closed: ask the group
    PROBE = "probe"  # half open, and this request is the probe
    SKIP = "skip"  # open, or someone else is probing: ask the fallback


@dataclass(frozen=True)
class BreakerState:
    open_for_s: float  # > 0 while the group is skipped
    tripped: bool  # opened and not yet closed by a successful probe


class BreakerStore(Protocol):
    """Where the state lives: this process, or Redis for every process."""

    def state(self, group: str) -> BreakerState: ...
    def add_failure(self, group: str, window_s: float) -> int: ...
    def trip(self, group: str, cooldown_s: float) -> None: ...
    def claim_probe(self, group: str, ttl_s: float) -> bool: ...
    def close(self, group: str) -> None: ...


class LocalBreakerStore:
    def __init__(self) -> None:
        self._fails: dict[str, list[float]] = {}
        self._open_until: dict[str, float] = {}
        self._tripped: set[str] = set()
        self._probe_until: dict[str, float] = {}

    def state(self, group: str) -> BreakerState:
        return BreakerState(
            open_for_s=max(0.0, self._open_until.get(group, 0.0) - time.monotonic()),
            tripped=group in self._tripped,
        )

    def add_failure(self, group: str, window_s: float) -> int:
        now = time.monotonic()
        fails = [t for t in self._fails.get(group, []) if t > now - window_s]
        fails.append(now)
        self._fails[group] = fails
        return len(fails)

    def trip(self, group: str, cooldown_s: float) -> None:
        self._open_until[group] = time.monotonic() + cooldown_s
        self._tripped.add(group)
        self._fails.pop(group, None)
        self._probe_until.pop(group, None)

    def claim_probe(self, group: str, ttl_s: float) -> bool:
        now = time.monotonic()
        if self._probe_until.get(group, 0.0) > now:
            return False
        self._probe_until[group] = now + ttl_s
        return True

    def close(self, group: str) -> None:
        self._tripped.discard(group)
        self._open_until.pop(group, None)
        self._probe_until.pop(group, None)
        self._fails.pop(group, None)


class RedisBreakerStore:
    """Keys `<prefix>:<group>:{fails,open,tripped,probe}`; expiries do the clock work."""

    def __init__(self, client: Any, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, group: str, part: str) -> str:
        return f"{self.prefix}:{group}:{part}"

    def state(self, group: str) -> BreakerState:
        pipe = self.client.pipeline(transaction=False)
        pipe.pttl(self._key(group, "open"))
        pipe.exists(self._key(group, "tripped"))
        open_ms, tripped = pipe.execute()
        return BreakerState(open_for_s=max(0, open_ms) / 1000.0, tripped=bool(tripped))

    def add_failure(self, group: str, window_s: float) -> int:
        key = self._key(group, "fails")
        pipe = self.client.pipeline(transaction=True)
        pipe.incr(key)
        pipe.pexpire(key, int(window_s * 1000), nx=True)  # the window starts at the first failure
        count, _ = pipe.execute()
        return int(count)

    def trip(self, group: str, cooldown_s: float) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.set(self._key(group, "open"), b"1", px=max(1, int(cooldown_s * 1000)))
        pipe.set(self._key(group, "tripped"), b"1", ex=24 * 3600)
        pipe.delete(self._key(group, "fails"), self._key(group, "probe"))
        pipe.execute()

    def claim_probe(self, group: str, ttl_s: float) -> bool:
        token = uuid.uuid4().hex
        return bool(self.client.set(self._key(group, "probe"), token, nx=True, px=max(1, int(ttl_s * 1000))))

    def close(self, group: str) -> None:
        self.client.delete(*(self._key(group, p) for p in ("open", "tripped", "probe", "fails")))


@dataclass
class _Local:
    """This process's view of one group."""

    proven: bool = False  # answered since the process started or the group last opened
    in_flight: int = 0
    failures: deque[float] = field(default_factory=deque)  # while unproven: this process's, in the window
    successes: deque[float] = field(default_factory=deque)
    state: BreakerState = field(default_factory=lambda: BreakerState(0.0, False))
    synced_at: float = -1e9
    waiters: list[asyncio.Event] = field(default_factory=list)


class CircuitBreaker:
    def __init__(
        self,
        store: BreakerStore,
        *,
        allowed_fails: int,
        cooldown_s: float,
        probe_ttl_s: float,
        fail_window_s: float = 60.0,
        sync_every_s: float = 0.25,
    ) -> None:
        self.store = store
        self.allowed_fails = max(1, allowed_fails)
        self.cooldown_s = cooldown_s
        self.probe_ttl_s = probe_ttl_s
        self.fail_window_s = fail_window_s
        self.sync_every_s = sync_every_s
        self._groups: dict[str, _Local] = {}

    def _local(self, group: str) -> _Local:
        local = self._groups.get(group)
        if local is None:
            local = self._groups[group] = _Local()
        return local

    def _state(self, local: _Local, group: str, *, fresh: bool = False) -> BreakerState:
        now = time.monotonic()
        if fresh or now - local.synced_at >= self.sync_every_s:
            local.state = self.store.state(group)
            local.synced_at = now
        return local.state

    async def admit(self, group: str) -> Admission:
        """Whether to ask `group` now; waits while an unproven group already has its quota in flight."""
        local = self._local(group)
        while True:
            state = self._state(local, group)
            if state.open_for_s > 0:
                local.proven = False
                return Admission.SKIP
            if state.tripped:
                local.proven = False
                if self.store.claim_probe(group, self.probe_ttl_s):
                    local.in_flight += 1
                    return Admission.PROBE
                return Admission.SKIP
            if local.proven or local.in_flight + self._recent(local.failures) < self.allowed_fails:
                local.in_flight += 1
                return Admission.GO
            changed = asyncio.Event()  # one per wait: a breaker outlives the event loop of one run
            local.waiters.append(changed)
            try:  # woken by the first answer or failure; the timeout re-reads the shared state
                await asyncio.wait_for(changed.wait(), timeout=self.sync_every_s * 4)
            except TimeoutError:
                local.synced_at = -1e9
            finally:
                if changed in local.waiters:
                    local.waiters.remove(changed)

    def success(self, group: str, admission: Admission) -> None:
        local = self._local(group)
        local.in_flight -= 1
        if admission is Admission.PROBE:
            self.store.close(group)
            local.state = self._state(local, group, fresh=True)
        local.proven = True
        local.failures.clear()
        now = time.monotonic()
        local.successes.append(now)
        while local.successes[0] < now - self.fail_window_s:
            local.successes.popleft()
        self._wake(local)

    def failure(self, group: str, admission: Admission) -> bool:
        """Count a failed request; True if this one opened the breaker."""
        local = self._local(group)
        local.in_flight -= 1
        if admission is Admission.PROBE:
            opened = True
        else:
            fails = self.store.add_failure(group, self.fail_window_s)
            now = time.monotonic()
            if not local.proven:  # the slot it frees is not a new one: the quota counts what was spent
                local.failures.append(now)
            while local.successes and local.successes[0] < now - self.fail_window_s:
                local.successes.popleft()
            opened = fails >= self.allowed_fails and fails >= len(local.successes)
        if opened:
            self.store.trip(group, self.cooldown_s)
            local.proven = False
            local.state = self._state(local, group, fresh=True)
        self._wake(local)
        return opened

    def release(self, group: str, admission: Admission) -> None:
        """Neither success nor failure (the request itself was at fault, e.g. a 400); a probe's claim
        then lapses after its ttl, and the next request probes."""
        local = self._local(group)
        local.in_flight -= 1
        self._wake(local)

    def _recent(self, times: deque[float]) -> int:
        horizon = time.monotonic() - self.fail_window_s
        while times and times[0] < horizon:
            times.popleft()
        return len(times)

    @staticmethod
    def _wake(local: _Local) -> None:
        waiters, local.waiters = local.waiters, []
        for changed in waiters:
            changed.set()
