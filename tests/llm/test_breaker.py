"""The circuit breaker on its own: in-process and in the real Redis (db 12), no litellm."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from local_redis import redis_keys_under

from llm_operators.llm.breaker import Admission, CircuitBreaker, LocalBreakerStore, RedisBreakerStore

REDIS_DB = 12


@pytest.fixture
def redis_client() -> Iterator[Any]:
    prefix = f"test-breaker-{uuid.uuid4().hex[:8]}"
    with redis_keys_under(REDIS_DB, prefix) as client:
        yield client, prefix


def breaker(store: Any, **kwargs: Any) -> CircuitBreaker:
    defaults = {"allowed_fails": 3, "cooldown_s": 0.3, "probe_ttl_s": 5.0, "sync_every_s": 0.0}
    return CircuitBreaker(store, **{**defaults, **kwargs})


def test_opens_after_allowed_fails_then_one_probe_closes_it() -> None:
    async def scenario() -> None:
        b = breaker(LocalBreakerStore())
        for n in range(3):
            admission = await b.admit("cheap")
            assert admission is Admission.GO
            assert b.failure("cheap", admission) is (n == 2)
        assert await b.admit("cheap") is Admission.SKIP  # open: the fallback is asked directly
        await asyncio.sleep(0.35)
        probe = await b.admit("cheap")
        assert probe is Admission.PROBE
        assert await b.admit("cheap") is Admission.SKIP  # one probe at a time
        b.success("cheap", probe)
        assert await b.admit("cheap") is Admission.GO

    asyncio.run(scenario())


def test_a_failed_probe_opens_it_again() -> None:
    async def scenario() -> None:
        b = breaker(LocalBreakerStore(), allowed_fails=1)
        b.failure("cheap", await b.admit("cheap"))
        await asyncio.sleep(0.35)
        probe = await b.admit("cheap")
        assert probe is Admission.PROBE
        assert b.failure("cheap", probe)
        assert await b.admit("cheap") is Admission.SKIP

    asyncio.run(scenario())


def test_an_unproven_group_gets_at_most_allowed_fails_requests_in_flight() -> None:
    """A dead group must cost `allowed_fails` requests, not a concurrency's worth."""

    async def scenario() -> list[Admission]:
        b = breaker(LocalBreakerStore(), sync_every_s=0.05)
        admitted: list[Admission] = []

        async def ticket() -> None:
            admission = await b.admit("cheap")
            admitted.append(admission)
            if admission is not Admission.SKIP:
                await asyncio.sleep(0.05)
                b.failure("cheap", admission)

        await asyncio.gather(*(ticket() for _ in range(16)))
        return admitted

    admitted = asyncio.run(scenario())
    assert admitted.count(Admission.GO) == 3
    assert admitted.count(Admission.SKIP) == 13


def test_an_unproven_group_spends_allowed_fails_requests_when_its_failures_come_one_by_one() -> None:
    """A slot freed by a failure is not a fresh one: with failures arriving apart (a slow 503, a
    timeout), waiting tickets must not each get their own try before the breaker opens."""

    async def scenario() -> list[Admission]:
        b = breaker(LocalBreakerStore(), sync_every_s=0.05)
        admitted: list[Admission] = []

        async def ticket(delay: float) -> None:
            admission = await b.admit("cheap")
            admitted.append(admission)
            if admission is not Admission.SKIP:
                await asyncio.sleep(delay)
                b.failure("cheap", admission)

        await asyncio.gather(*(ticket(0.05 * (i + 1)) for i in range(16)))
        return admitted

    admitted = asyncio.run(scenario())
    assert admitted.count(Admission.GO) == 3, admitted


def test_a_flaky_group_that_mostly_answers_stays_closed() -> None:
    async def scenario() -> None:
        b = breaker(LocalBreakerStore())
        for n in range(40):
            admission = await b.admit("cheap")
            assert admission is Admission.GO, n
            if n % 4 == 3:  # 25 % failures
                b.failure("cheap", admission)
            else:
                b.success("cheap", admission)

    asyncio.run(scenario())


def test_a_request_fault_is_not_held_against_the_group() -> None:
    async def scenario() -> None:
        b = breaker(LocalBreakerStore(), allowed_fails=1)
        b.release("cheap", await b.admit("cheap"))
        assert await b.admit("cheap") is Admission.GO

    asyncio.run(scenario())


def test_redis_shares_the_open_state_between_processes(redis_client: Any) -> None:
    client, prefix = redis_client

    async def scenario() -> None:
        one = breaker(RedisBreakerStore(client, prefix), cooldown_s=1.0)
        other = breaker(RedisBreakerStore(client, prefix), cooldown_s=1.0)  # another task's
        for _ in range(3):
            one.failure("cheap", await one.admit("cheap"))
        assert await other.admit("cheap") is Admission.SKIP
        assert await other.admit("strong") is Admission.GO  # per group
        await asyncio.sleep(1.05)
        probes = [await one.admit("cheap"), await other.admit("cheap")]
        assert sorted(probes) == [Admission.PROBE, Admission.SKIP]  # one probe for everyone
        prober = one if probes[0] is Admission.PROBE else other
        prober.success("cheap", Admission.PROBE)
        assert await other.admit("cheap") is Admission.GO
        assert await one.admit("cheap") is Admission.GO

    asyncio.run(scenario())
    ttl = client.pttl(f"{prefix}:cheap:fails")
    assert ttl == -2 or ttl <= 60_000  # failures are counted per window, never for ever


def test_redis_failures_of_two_processes_add_up(redis_client: Any) -> None:
    client, prefix = redis_client

    async def scenario() -> None:
        one = breaker(RedisBreakerStore(client, prefix))
        other = breaker(RedisBreakerStore(client, prefix))
        assert not one.failure("cheap", await one.admit("cheap"))
        assert not other.failure("cheap", await other.admit("cheap"))
        assert one.failure("cheap", await one.admit("cheap"))  # the third, wherever it happened

    started = time.monotonic()
    asyncio.run(scenario())
    assert time.monotonic() - started < 5
