"""The offline model (custom provider `offline`) through the real LiteLLM Router: no server, no key."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported: no network
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "True")  # no GitHub fetch either

import litellm
import pytest

from llm_operators.core.call_request import CallRequest
from llm_operators.core.config import OFFLINE_PRICES, OFFLINE_PROVIDER, offline_settings
from llm_operators.core.ladder import Ladder, LadderPolicy
from llm_operators.core.models import CallStatus, OutcomeStatus, Ticket
from llm_operators.core.prompts import build_messages, parse_answer
from llm_operators.llm.cache import uninstall_cache
from llm_operators.llm.offline_provider import register_offline_provider
from llm_operators.llm.router_client import TriageRouter, build_model_list

TICKET = Ticket(
    id="T-20251001-001",
    created_at=datetime(2025, 10, 1, 9, 30, tzinfo=UTC),
    subject="Charged twice for my subscription",
    body="My invoice INV-4411 was charged twice this month. Please refund the duplicate payment.",
    channel="email",
)


@pytest.fixture
def router() -> Iterator[TriageRouter]:
    uninstall_cache()  # an answer served from a cache would not show the provider at work
    with TriageRouter(offline_settings()) as r:
        yield r


def ask(router: TriageRouter, group: str, ticket: Ticket = TICKET) -> tuple[str | None, Any]:
    request = CallRequest(ticket_id=ticket.id, rung=0, group=group, messages=build_messages(ticket))
    return asyncio.run(router.call(request))


@pytest.mark.parametrize("tier", list(OFFLINE_PRICES))
def test_answers_valid_triage_json_with_a_price(router: TriageRouter, tier: str) -> None:
    content, record = ask(router, tier)
    result = parse_answer(content)
    assert result.category == "billing"
    assert 0 <= result.confidence <= 1

    assert record.status is CallStatus.OK and record.error is None
    assert record.deployment == f"{OFFLINE_PROVIDER}/{tier}"
    assert not record.fallback_used and not record.cache_hit
    assert record.attempts == 1
    assert record.prompt_tokens > 0 and record.completion_tokens > 0
    price_in, price_out = OFFLINE_PRICES[tier]
    expected = record.prompt_tokens * price_in + record.completion_tokens * price_out
    assert record.cost_usd > 0
    assert record.cost_usd == pytest.approx(expected)


def test_is_deterministic(router: TriageRouter) -> None:
    first = ask(router, "fast")
    second = ask(router, "fast")
    assert first[0] == second[0]
    assert (first[1].prompt_tokens, first[1].completion_tokens, first[1].cost_usd) == (
        second[1].prompt_tokens,
        second[1].completion_tokens,
        second[1].cost_usd,
    )


def test_careful_costs_more_than_fast(router: TriageRouter) -> None:
    assert ask(router, "careful")[1].cost_usd > ask(router, "fast")[1].cost_usd


def test_the_offline_ladder_triages_a_ticket(router: TriageRouter) -> None:
    ladder = Ladder(LadderPolicy(rungs=offline_settings().ladder), router.call)
    outcome = asyncio.run(ladder.triage(TICKET, "2025-10-01"))
    assert outcome.status is OutcomeStatus.TRIAGED
    assert outcome.final_model in {"offline/fast", "offline/careful"}
    assert outcome.cost_usd > 0


def test_register_offline_provider_is_idempotent() -> None:
    register_offline_provider()
    register_offline_provider()
    before = list(litellm.custom_provider_map)
    register_offline_provider()
    assert litellm.custom_provider_map == before
    assert sum(e["provider"] == OFFLINE_PROVIDER for e in litellm.custom_provider_map) == 1


def test_offline_deployments_build_without_cache_price_warnings(caplog: pytest.LogCaptureFixture) -> None:
    params = {d["model_name"]: d["litellm_params"] for d in build_model_list(offline_settings())}
    for tier in OFFLINE_PRICES:
        assert params[tier]["cache_creation_input_token_cost"] == 0.0
        assert params[tier]["cache_read_input_token_cost"] == 0.0
        assert "max_retries" not in params[tier]  # an SDK setting, meaningless for the offline model

    logger = logging.getLogger("LiteLLM")
    logger.addHandler(caplog.handler)  # litellm's loggers may not propagate to the root logger
    try:
        with caplog.at_level(logging.WARNING, logger="LiteLLM"):
            TriageRouter(offline_settings()).close()
    finally:
        logger.removeHandler(caplog.handler)
    assert not [r for r in caplog.records if "cache_creation_input_token_cost" in r.getMessage()]


def test_closing_the_router_unregisters_its_callback() -> None:
    before = {name: list(getattr(litellm, name)) for name in ("callbacks", "input_callback")}
    router = TriageRouter(offline_settings())
    ask(router, "fast")  # litellm copies litellm.callbacks into its other callback lists on a call
    router.close()
    router.close()  # idempotent
    for name, callbacks in before.items():
        assert getattr(litellm, name) == callbacks


@pytest.mark.parametrize(
    ("reply", "approved"),
    [
        (
            "Thanks for reaching out. Our billing team is checking the charge and will follow up shortly.",
            True,
        ),
        ("Thanks for reaching out. You will get every cent back plus a 50 dollar gift card.", False),
    ],
)
def test_answers_the_judge_with_a_verdict(router: TriageRouter, reply: str, approved: bool) -> None:
    """Free-text reply mode works offline: the judge's prompt gets a verdict in the judge's schema."""
    from llm_operators.core.judge import judge_messages, parse_verdict
    from llm_operators.core.judge import response_format as judge_format

    response = asyncio.run(
        router.router.acompletion(
            model="careful", messages=judge_messages(reply), response_format=judge_format()
        )
    )
    verdict = parse_verdict(response.choices[0].message.content)
    assert verdict.approved is approved
    assert (verdict.violations == []) is approved


def test_answers_with_an_approved_template(router: TriageRouter) -> None:
    content, _ = ask(router, "careful")
    result = parse_answer(content)
    assert result.reply_template == "refund_how_it_works"  # "Please refund the duplicate payment"
    assert result.reply_slots.invoice_number == "INV-4411"
