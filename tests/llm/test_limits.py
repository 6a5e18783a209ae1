"""The rpm limiter on its own (in-process store): slots, waiting, and slots held while a call is out."""

from __future__ import annotations

import asyncio
import time

from llm_operators.llm.limits import DeploymentRateLimiter, LocalWindowStore

PARAMS = {"model": "openai/cheap", "api_base": "http://127.0.0.1:1/v1", "rpm": 3}


def limiter(hold_s: float = 5.0) -> DeploymentRateLimiter:
    return DeploymentRateLimiter(LocalWindowStore(), hold_s=hold_s, window_s=0.5, margin_s=0.0)


def test_requests_beyond_the_limit_wait_for_the_window() -> None:
    lim = limiter()

    async def scenario() -> list[float]:
        started = time.monotonic()
        times = []
        for _ in range(5):
            with lim.tracking():  # each call returns at once: its slot counts from now
                await lim.acquire(PARAMS)
            times.append(time.monotonic() - started)
        return times

    times = asyncio.run(scenario())
    assert max(times[:3]) < 0.2  # three go at once
    assert times[3] >= 0.45 and times[4] >= 0.45  # the next ones wait for the window to slide
    assert lim.waited_s > 0


def test_a_slot_is_held_until_its_call_returns() -> None:
    """A request may reach the provider long after admission: its slot must not lapse before."""
    lim = limiter(hold_s=30.0)

    async def scenario() -> float:
        async def slow_call() -> None:
            with lim.tracking():
                await lim.acquire(PARAMS)
                await asyncio.sleep(1.0)  # longer than the window

        calls = [asyncio.create_task(slow_call()) for _ in range(3)]
        await asyncio.sleep(0.05)
        started = time.monotonic()
        with lim.tracking():
            await lim.acquire(PARAMS)  # must wait for a return, then a window
        waited = time.monotonic() - started
        await asyncio.gather(*calls)
        return waited

    assert asyncio.run(scenario()) >= 0.9 + 0.5 - 0.1


def test_deployments_without_rpm_never_wait() -> None:
    lim = limiter()

    async def scenario() -> None:
        for _ in range(50):
            await lim.acquire({"model": "openai/strong"})

    started = time.monotonic()
    asyncio.run(scenario())
    assert time.monotonic() - started < 0.5 and lim.waited_s == 0
