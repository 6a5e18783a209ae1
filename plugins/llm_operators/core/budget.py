"""One budget per run, whatever its batches and retries.

The ladder's `Budget` counts one task's spend from zero, so a run's `max_cost_usd` had to be split
across its mapped batches (stranding what small batches did not use), and a retried task spent its
share again. `RunBudget` counts into a `SpendCounter`: a Redis counter per run and day when Redis
exists, shared by every batch and attempt; else this task's, started from what its checkpoint says
earlier attempts of the same run spent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from llm_operators.core.ladder import Budget
from llm_operators.core.models import CallRecord


class SpendCounter(Protocol):
    shared: bool  # True: every batch and attempt of the run counts here (nothing to carry over)

    def add(self, usd: float) -> float:
        """Add, return the run's total."""

    def total(self) -> float: ...


class LocalSpend:
    shared = False

    def __init__(self) -> None:
        self._total = 0.0

    def add(self, usd: float) -> float:
        self._total += usd
        return self._total

    def total(self) -> float:
        return self._total


class RedisSpend:
    """`client`: a redis-py client (duck-typed: core does not import redis)."""

    shared = True

    def __init__(self, client: Any, key: str, ttl_s: int = 14 * 24 * 3600) -> None:
        self.client = client
        self.key = key
        self.ttl_s = ttl_s

    def add(self, usd: float) -> float:
        pipe = self.client.pipeline(transaction=True)
        pipe.incrbyfloat(self.key, usd)
        pipe.expire(self.key, self.ttl_s)
        total, _ = pipe.execute()
        return float(total)

    def total(self) -> float:
        return float(self.client.get(self.key) or 0.0)


@dataclass
class RunBudget(Budget):
    counter: SpendCounter = field(default_factory=LocalSpend)
    refresh_s: float = 0.5  # how stale the other batches' spend may be when deciding an escalation
    _total: float = field(default=0.0, repr=False)
    _read_at: float = field(default=-1e9, repr=False)

    @property
    def run_spent_usd(self) -> float:
        now = time.monotonic()
        if self.counter.shared and now - self._read_at >= self.refresh_s:
            self._total = self.counter.total()
            self._read_at = now
        return self._total

    @property
    def exhausted(self) -> bool:
        return self.limit_usd is not None and self.run_spent_usd >= self.limit_usd

    async def add(self, record: CallRecord) -> None:
        if record.cache_hit or record.cost_usd <= 0:
            return  # a cache hit costs nothing, whatever the record of the original call says
        self.spent_usd += record.cost_usd
        self._total = self.counter.add(record.cost_usd)
        self._read_at = time.monotonic()

    def resume(self, spent_before_usd: float) -> None:
        """What earlier attempts of this run spent on this task's tickets (from its checkpoint)."""
        if not self.counter.shared and spent_before_usd > 0:
            self._total = self.counter.add(spent_before_usd)
