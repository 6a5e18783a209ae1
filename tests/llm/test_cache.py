"""The answer cache in front of the Router: the real Redis (127.0.0.1:6379, db 14) and the local one.

A re-run of a day must be served entirely from the cache (zero requests at the chaos server), cost
nothing and show the avoided spend as savings; a new namespace (prompt version) must miss.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported: no network
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "True")  # no GitHub fetch either

import litellm
import pytest
from builders import generate_day
from chaos_models import fallback_settings_data, hosted
from local_redis import redis_or_skip

from chaos_provider import ChaosConfig, ChaosServer
from llm_operators.core.call_request import CallRequest
from llm_operators.core.config import LiteLLMSettings
from llm_operators.core.day_source import FileTicketSource
from llm_operators.core.ladder import Ladder, LadderPolicy
from llm_operators.core.models import OutcomeStatus, TicketOutcome
from llm_operators.core.outputs import DayOutputs
from llm_operators.core.triage_run import DayPlan, DayResult, triage_day
from llm_operators.llm.cache import install_cache, installed_cache, uninstall_cache
from llm_operators.llm.router_client import TriageRouter

REPO = Path(__file__).resolve().parents[2]
GENERATOR = REPO / "include" / "sample_data" / "generate_tickets.py"
DAY = date(2025, 10, 1)
REDIS_DB = 14


def redis_cache_kwargs(namespace: str) -> dict[str, Any]:
    return {
        "type": "redis",
        "host": "127.0.0.1",
        "port": "6379",
        "db": REDIS_DB,
        "namespace": namespace,
        "ttl": 3600,
    }


@pytest.fixture
def redis_db() -> Iterator[Any]:
    client = redis_or_skip(REDIS_DB)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def server() -> Iterator[ChaosServer]:
    with ChaosServer() as srv:
        yield srv


@pytest.fixture
def chaos(server: ChaosServer) -> Iterator[ChaosServer]:
    uninstall_cache()
    # cheap is never sure, so every ticket climbs: both rungs are cached, under their own keys
    server.configure(
        {"models": {"cheap": {"result": {"confidence": 0.3}}, "strong": {"result": {"confidence": 0.9}}}}
    )
    server.reset()
    yield server
    server.configure(ChaosConfig())
    uninstall_cache()  # litellm.cache is process-wide


def settings(server: ChaosServer) -> LiteLLMSettings:
    return LiteLLMSettings.parse(
        {
            "model_list": [
                hosted("cheap", "openai/cheap", server.openai_base),
                hosted("strong", "openai/strong", server.openai_base),
            ],
            "ladder": ["cheap", "strong"],
            "router_settings": {"num_retries": 0, "timeout": 5},
        },
        "test",
    )


@pytest.fixture
def day(tmp_path: Path) -> tuple[Path, int]:
    root = tmp_path / "tickets"
    return root, len(generate_day(root, DAY, 8))


def run_day(server: ChaosServer, root: Path, out: Path) -> tuple[DayResult, list[TicketOutcome]]:
    plan = DayPlan(
        source=FileTicketSource(root), outputs=DayOutputs(out, DAY.isoformat()), day=DAY, concurrency=4
    )
    # a new router per run, like a new task: only the cache carries answers over
    with TriageRouter(settings(server), cache_responses=True) as router:
        result = triage_day(plan, Ladder(LadderPolicy(rungs=["cheap", "strong"]), router.call))
    outcomes = [TicketOutcome.model_validate_json(x) for x in plan.outputs.outcomes.read_text().splitlines()]
    return result, outcomes


def calls(outcomes: list[TicketOutcome]) -> list[Any]:
    return [c for o in outcomes for c in o.calls]


def test_a_rerun_is_served_from_redis_and_costs_nothing(
    chaos: ChaosServer, redis_db: Any, day: tuple[Path, int], tmp_path: Path
) -> None:
    root, tickets = day
    install_cache(redis_cache_kwargs("test:triage-v1"))

    first, first_outcomes = run_day(chaos, root, tmp_path / "out1")
    sent = chaos.stats()["total_requests"]
    assert sent == 2 * tickets  # cheap, then strong, for every ticket
    assert not any(c.cache_hit for c in calls(first_outcomes))
    assert first.summary.cost_usd > 0 and first.summary.cache_hits == 0
    assert redis_db.dbsize() > 0

    # a new worker process: nothing in memory, so every hit below comes from Redis itself
    uninstall_cache()
    install_cache(redis_cache_kwargs("test:triage-v1"))
    second, second_outcomes = run_day(chaos, root, tmp_path / "out2")
    assert chaos.stats()["total_requests"] == sent  # ZERO requests
    assert all(c.cache_hit and c.attempts == 0 for c in calls(second_outcomes))
    # each rung got its own cached answer back (keys are per model group), so the decisions match
    assert [(o.status, o.final_rung, o.result) for o in second_outcomes] == [
        (o.status, o.final_rung, o.result) for o in first_outcomes
    ]
    assert all(o.status is OutcomeStatus.TRIAGED and o.final_rung == 1 for o in second_outcomes)
    # a cache hit is no spend, but the spend it avoided is reported as savings
    assert second.summary.cost_usd == 0
    assert second.summary.cache_hits == second.summary.calls == 2 * tickets
    assert second.summary.cache_savings_usd == pytest.approx(first.summary.cost_usd)
    assert all(u.cost_usd == 0 for u in second.summary.by_model.values())


def test_a_new_namespace_misses(
    chaos: ChaosServer, redis_db: Any, day: tuple[Path, int], tmp_path: Path
) -> None:
    root, tickets = day
    install_cache(redis_cache_kwargs("test:triage-v1"))
    run_day(chaos, root, tmp_path / "out1")
    assert chaos.stats()["total_requests"] == 2 * tickets

    install_cache(redis_cache_kwargs("test:triage-v2"))  # a new prompt version
    result, outcomes = run_day(chaos, root, tmp_path / "out2")
    assert chaos.stats()["total_requests"] == 4 * tickets
    assert not any(c.cache_hit for c in calls(outcomes))
    assert result.summary.cost_usd > 0 and result.summary.cache_savings_usd == 0
    keys = [k.decode() for k in redis_db.keys("*")]
    assert any(k.startswith("test:triage-v1") for k in keys)
    assert any(k.startswith("test:triage-v2") for k in keys)


def test_the_local_cache_works_in_process(chaos: ChaosServer) -> None:
    install_cache({"type": "local"})
    messages = [{"role": "user", "content": "Triage this ticket.\n<ticket>\nsubject: hi\n</ticket>"}]

    async def twice() -> list[Any]:
        with TriageRouter(settings(chaos), cache_responses=True) as router:
            first = await router.call(CallRequest(ticket_id="T1", rung=0, group="cheap", messages=messages))
            await asyncio.sleep(0.1)  # litellm writes the cache from a background task
            again = await router.call(CallRequest(ticket_id="T1", rung=0, group="cheap", messages=messages))
            return [first, again]

    (content1, miss), (content2, hit) = asyncio.run(twice())
    assert not miss.cache_hit and miss.attempts == 1
    assert hit.cache_hit and hit.attempts == 0
    assert content1 == content2 and json.loads(content2)["confidence"] == 0.3
    assert hit.cost_usd == pytest.approx(miss.cost_usd)  # what the hit would have cost: the savings
    assert chaos.stats()["total_requests"] == 1


def test_uninstall_forgets_what_litellm_keeps_in_memory_in_front_of_redis(
    chaos: ChaosServer, redis_db: Any
) -> None:
    messages = [{"role": "user", "content": "Triage this ticket.\n<ticket>\nsubject: hi\n</ticket>"}]

    def ask() -> Any:
        with TriageRouter(settings(chaos), cache_responses=True) as router:
            request = CallRequest(ticket_id="T1", rung=0, group="cheap", messages=messages)
            return asyncio.run(router.call(request))[1]

    install_cache(redis_cache_kwargs("test:triage-v1"))
    assert not ask().cache_hit
    assert ask().cache_hit
    redis_db.flushdb()  # the answers are gone from Redis ...
    uninstall_cache()
    install_cache(redis_cache_kwargs("test:triage-v1"))
    assert not ask().cache_hit  # ... and are not served from memory either
    assert chaos.stats()["total_requests"] == 2


def test_install_cache_is_idempotent_and_uninstall_removes_it() -> None:
    uninstall_cache()
    try:
        first = install_cache({"type": "local", "namespace": "a"})
        assert install_cache({"type": "local", "namespace": "a"}) is first
        assert installed_cache() is first
        litellm.cache = litellm.Cache(type="local")  # litellm's own cache must never answer instead
        again = install_cache({"type": "local", "namespace": "a"})
        assert again is first and litellm.cache is None
        other = install_cache({"type": "local", "namespace": "b"})
        assert other is not first and installed_cache() is other
    finally:
        uninstall_cache()
    assert installed_cache() is None and litellm.cache is None


def fallback_settings(server: ChaosServer) -> LiteLLMSettings:
    # allowed_fails: no breaker here, each ticket meets the flaky primary itself
    return LiteLLMSettings.parse(fallback_settings_data(server, allowed_fails=100), "test")


def test_a_flaky_day_with_fallbacks_is_free_the_second_time(
    chaos: ChaosServer, redis_db: Any, tmp_path: Path
) -> None:
    """LiteLLM caches under the group that answered: a fallback's answer was missed by the re-run."""
    root = tmp_path / "tickets"
    tickets = len(generate_day(root, DAY, 30))
    chaos.configure({"models": {"cheap": {"error_rates": {503: 0.3}, "seed": 7}}})
    install_cache(redis_cache_kwargs("test:triage-v1"))

    def run(out: Path) -> list[TicketOutcome]:
        plan = DayPlan(
            source=FileTicketSource(root), outputs=DayOutputs(out, DAY.isoformat()), day=DAY, concurrency=4
        )
        with TriageRouter(fallback_settings(chaos), cache_responses=True) as router:
            triage_day(plan, Ladder(LadderPolicy(rungs=["cheap", "strong"]), router.call))
        return [TicketOutcome.model_validate_json(x) for x in plan.outputs.outcomes.read_text().splitlines()]

    first = run(tmp_path / "out1")
    sent = chaos.stats()["total_requests"]
    assert chaos.stats()["models"]["claude-test"]["requests"] >= 3  # the fallback did answer some
    assert sum(c.fallback_used for c in calls(first)) >= 3

    uninstall_cache()  # a new worker process
    install_cache(redis_cache_kwargs("test:triage-v1"))
    second = run(tmp_path / "out2")
    assert chaos.stats()["total_requests"] == sent  # ZERO provider requests, fallbacks included
    assert all(c.cache_hit and c.attempts == 0 for c in calls(second))
    assert [(o.ticket_id, o.result, o.final_model) for o in second] == [
        (o.ticket_id, o.result, o.final_model) for o in first
    ]
    assert len(second) == tickets
