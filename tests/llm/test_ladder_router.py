"""The escalation ladder through the real LiteLLM Router, over real HTTP to the chaos provider.

Two rungs, `cheap` and `strong`, are deployments `openai/cheap` and `openai/strong` of the chaos
server; each test scripts their answers per model and then reads, at the server, what was sent.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported: no network
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "True")  # no GitHub fetch either

import pytest

from chaos_provider import MALFORMED_KINDS, ChaosConfig, ChaosServer
from llm_operators.core.call_request import CallRequest
from llm_operators.core.config import LiteLLMSettings
from llm_operators.core.ladder import Budget, Ladder, LadderPolicy
from llm_operators.core.models import CallStatus, OutcomeStatus, Ticket, TicketLabels, TicketOutcome
from llm_operators.core.prompts import REPAIR_PROMPT, TICKET_CLOSE, TICKET_OPEN, extract_ticket_text
from llm_operators.llm.cache import uninstall_cache
from llm_operators.llm.router_client import TriageRouter

DAY = "2025-10-01"
PRICE = {
    "input_cost_per_token": 1e-6,
    "output_cost_per_token": 2e-6,
    "cache_creation_input_token_cost": 0.0,
    "cache_read_input_token_cost": 0.0,
}
# What the parser says about each kind of broken answer (InvalidAnswer's message).
PROBLEM = {
    "not_json": "not JSON",
    "truncated_json": "not JSON",
    "unknown_enum": "category",
    "confidence_out_of_range": "confidence",
    "missing_field": "priority",
    "oversized": "suggested_reply",
    "empty": "empty answer",
    "wrong_types": "confidence",
}


@pytest.fixture(scope="module")
def server() -> Iterator[ChaosServer]:
    with ChaosServer() as srv:
        yield srv


@pytest.fixture
def chaos(server: ChaosServer) -> Iterator[ChaosServer]:
    uninstall_cache()  # litellm.cache is global: a cache left by another test would hide requests
    server.configure(ChaosConfig())
    server.content_fn = None
    server.reset()
    yield server
    server.content_fn = None
    uninstall_cache()


def deployment(server: ChaosServer, name: str, **params: Any) -> dict[str, Any]:
    return {
        "model_name": name,
        "litellm_params": {
            "model": f"openai/{name}",
            "api_base": server.openai_base,
            "api_key": "sk-test",
            **PRICE,
            **params,
        },
    }


def make_settings(
    server: ChaosServer,
    *,
    extra: list[dict[str, Any]] | None = None,
    fallbacks: list[dict[str, list[str]]] | None = None,
    num_retries: int = 0,
) -> LiteLLMSettings:
    return LiteLLMSettings.parse(
        {
            "model_list": [deployment(server, "cheap"), deployment(server, "strong"), *(extra or [])],
            "ladder": ["cheap", "strong"],
            "router_settings": {
                "num_retries": num_retries,
                "retry_after": 0,
                "timeout": 5,
                "fallbacks": fallbacks or [],
            },
        },
        "test",
    )


@pytest.fixture
def router(chaos: ChaosServer) -> Iterator[TriageRouter]:
    with TriageRouter(make_settings(chaos)) as r:
        yield r


def ticket(n: int = 1, subject: str = "Charged twice for my subscription", body: str | None = None) -> Ticket:
    return Ticket(
        id=f"T-20251001-{n:03d}",
        created_at=datetime(2025, 10, 1, 12, n % 60, tzinfo=UTC),
        subject=subject,
        body=body or f"Hello, my card was charged twice this month for the Business plan (case {n}).",
        customer=f"CUST-{n:05d}",
        channel="email",
        labels=TicketLabels(category="billing", priority="P2", needs_human=False, pii=False),
    )


def triage(router: TriageRouter, t: Ticket, budget: Budget | None = None) -> TicketOutcome:
    ladder = Ladder(LadderPolicy(rungs=["cheap", "strong"]), router.call, budget)
    return asyncio.run(ladder.triage(t, DAY))


def requests_of(server: ChaosServer, model: str) -> int:
    return server.stats()["models"].get(model, {}).get("requests", 0)


def sent_messages(record: dict[str, Any]) -> list[dict[str, Any]]:
    return record["body"]["messages"]


def test_low_confidence_on_cheap_escalates_to_strong(chaos: ChaosServer, router: TriageRouter) -> None:
    chaos.configure(
        {"models": {"cheap": {"result": {"confidence": 0.3}}, "strong": {"result": {"confidence": 0.9}}}}
    )
    outcome = triage(router, ticket())
    assert outcome.status is OutcomeStatus.TRIAGED
    assert len(outcome.calls) == 2
    assert [c.rung for c in outcome.calls] == [0, 1]
    assert outcome.final_rung == 1 and outcome.escalated
    assert outcome.final_model == "openai/strong"
    assert outcome.result is not None and outcome.result.confidence == 0.9
    assert requests_of(chaos, "cheap") == 1 and requests_of(chaos, "strong") == 1
    assert [c.attempts for c in outcome.calls] == [1, 1]
    assert all(c.cost_usd > 0 and c.status is CallStatus.OK for c in outcome.calls)


def test_confident_cheap_answer_stops_the_ladder(chaos: ChaosServer, router: TriageRouter) -> None:
    chaos.configure({"models": {"cheap": {"result": {"confidence": 0.95}}}})
    outcome = triage(router, ticket())
    assert outcome.status is OutcomeStatus.TRIAGED
    assert outcome.final_rung == 0 and not outcome.escalated
    assert outcome.final_model == "openai/cheap"
    assert requests_of(chaos, "cheap") == 1
    assert requests_of(chaos, "strong") == 0


def test_invalid_json_is_repaired_once_on_the_same_rung_then_escalates(
    chaos: ChaosServer, router: TriageRouter
) -> None:
    chaos.configure({"models": {"cheap": {"malformed_rate": 1.0, "malformed_kind": "not_json"}}})
    outcome = triage(router, ticket())

    assert requests_of(chaos, "cheap") == 2 and requests_of(chaos, "strong") == 1
    first, second = (r for r in chaos.requests if r["model"] == "cheap")
    repair_hint = REPAIR_PROMPT.split("{error}")[0]
    assert not any(repair_hint in m["content"] for m in sent_messages(first))
    last = sent_messages(second)[-1]
    assert last["role"] == "user" and last["content"].startswith(repair_hint)
    assert "not JSON" in last["content"]
    assert sent_messages(second)[-2]["role"] == "assistant"  # the broken answer, shown back

    assert [(c.rung, c.repair, c.status) for c in outcome.calls] == [
        (0, False, CallStatus.INVALID),
        (0, True, CallStatus.INVALID),
        (1, False, CallStatus.OK),
    ]
    assert outcome.status is OutcomeStatus.TRIAGED and outcome.final_rung == 1 and outcome.escalated


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_every_malformed_kind_on_every_rung_leaves_the_ticket_unresolved(
    chaos: ChaosServer, router: TriageRouter, kind: str
) -> None:
    broken = {"malformed_rate": 1.0, "malformed_kind": kind}
    chaos.configure({"models": {"cheap": broken, "strong": broken}})
    outcome = triage(router, ticket())

    assert outcome.status is OutcomeStatus.UNRESOLVED
    assert outcome.result is None and outcome.final_rung is None
    assert len(outcome.calls) == 4  # each rung: the answer and one repair
    assert all(c.status is CallStatus.INVALID for c in outcome.calls)
    assert all(PROBLEM[kind] in (c.error or "") for c in outcome.calls)
    assert outcome.error and PROBLEM[kind] in outcome.error and "rung 1 (strong)" in outcome.error
    assert requests_of(chaos, "cheap") == 2 and requests_of(chaos, "strong") == 2


def test_outage_on_the_last_rung_is_unresolved_not_raised(chaos: ChaosServer, router: TriageRouter) -> None:
    chaos.configure({"default": {"outage": True}})
    outcome = triage(router, ticket())  # must not raise

    assert outcome.status is OutcomeStatus.UNRESOLVED
    assert [c.status for c in outcome.calls] == [CallStatus.ERROR, CallStatus.ERROR]
    assert "ServiceUnavailableError" in (outcome.error or "")
    assert "rung 1 (strong)" in (outcome.error or "")
    # num_retries=0, no repair after an outage: one request per rung
    assert requests_of(chaos, "cheap") == 1 and requests_of(chaos, "strong") == 1
    assert [c.attempts for c in outcome.calls] == [1, 1]


def test_spent_budget_stops_escalation(chaos: ChaosServer, router: TriageRouter) -> None:
    chaos.configure({"models": {"cheap": {"result": {"confidence": 0.3}}}})
    budget = Budget(limit_usd=1e-9)
    outcome = triage(router, ticket(), budget)

    assert outcome.budget_exhausted
    assert outcome.status is OutcomeStatus.TRIAGED and outcome.final_rung == 0 and not outcome.escalated
    assert len(outcome.calls) == 1 and outcome.calls[0].cost_usd > 0
    assert budget.spent_usd == pytest.approx(outcome.calls[0].cost_usd) and budget.exhausted
    assert requests_of(chaos, "strong") == 0


def test_pii_is_redacted_and_the_ticket_is_delimited_before_it_is_sent(
    chaos: ChaosServer, router: TriageRouter
) -> None:
    t = ticket(
        7,
        subject="Refund to jane.doe@example.com please",
        body="Charge me on card 4111 1111 1111 1111 instead, or mail jane.doe@example.com. Thanks!",
    )
    outcome = triage(router, t)
    assert {"email", "card"} <= set(outcome.safety.pii_kinds)

    (record,) = chaos.requests
    raw = json.dumps(record["body"])
    for secret in ("jane.doe@example.com", "4111 1111 1111 1111", "4111111111111111"):
        assert secret not in raw
    user = next(m["content"] for m in sent_messages(record) if m["role"] == "user")
    assert user.index(TICKET_OPEN) < user.index(TICKET_CLOSE)
    # the block is spotlighted (datamarked): read it back as a model that understood the marking does
    inside = extract_ticket_text(sent_messages(record))
    assert inside.index("Refund to") < inside.index("instead, or mail")
    for secret in ("jane.doe@example.com", "4111 1111 1111 1111", "4111111111111111"):
        assert secret not in inside  # redacted, not merely hidden by the marking
    # labels, ticket id and customer id are never sent
    for never in ('"labels"', t.id, t.customer):
        assert never not in raw


def test_cross_provider_fallback_answers_every_ticket(chaos: ChaosServer) -> None:
    chaos.configure({"models": {"cheap": {"outage": True}}})
    anthropic = {
        "model_name": "cheap-anthropic",
        "litellm_params": {
            "model": "anthropic/claude-test",
            "api_base": chaos.url,
            "api_key": "sk-test",
            **PRICE,
        },
    }
    settings = make_settings(chaos, extra=[anthropic], fallbacks=[{"cheap": ["cheap-anthropic"]}])
    with TriageRouter(settings) as router:
        outcomes = [triage(router, ticket(n)) for n in range(1, 5)]

    for outcome in outcomes:
        assert outcome.status is OutcomeStatus.TRIAGED and outcome.final_rung == 0
        (call,) = outcome.calls
        assert call.fallback_used and call.deployment == "anthropic/claude-test"
        assert call.model_group == "cheap"
        assert outcome.final_model == "anthropic/claude-test"
    stats = chaos.stats()
    assert requests_of(chaos, "claude-test") == len(outcomes)
    assert stats["models"]["cheap"]["outcomes"] == {"outage": requests_of(chaos, "cheap")}
    assert requests_of(chaos, "strong") == 0
    # every request the server saw is in some record's attempts: the failed primary and the fallback
    assert sum(c.attempts for o in outcomes for c in o.calls) == stats["total_requests"]
    assert outcomes[0].calls[0].attempts == 2


@pytest.mark.parametrize("num_retries", [0, 2])
def test_num_retries_n_means_n_plus_one_requests_for_a_503(chaos: ChaosServer, num_retries: int) -> None:
    """No hidden SDK retries and no retry-policy default overriding `num_retries`."""
    chaos.configure({"models": {"cheap": {"outage": True}}})
    with TriageRouter(make_settings(chaos, num_retries=num_retries)) as router:
        hi = [{"role": "user", "content": "hi"}]
        request = CallRequest(ticket_id="T1", rung=0, group="cheap", messages=hi)
        content, record = asyncio.run(router.call(request))
    assert content is None and record.status is CallStatus.ERROR
    assert requests_of(chaos, "cheap") == num_retries + 1
    assert record.attempts == num_retries + 1


def test_attempts_count_retries_before_a_success(chaos: ChaosServer) -> None:
    failed: set[str] = set()

    def fail_first_request_per_model(model: str, messages: list[dict[str, Any]]) -> str:
        if model not in failed:
            failed.add(model)
            raise RuntimeError("first request fails")  # the chaos server answers 500
        return chaos.config.behaviour_for(model).success_content()

    chaos.content_fn = fail_first_request_per_model
    with TriageRouter(make_settings(chaos, num_retries=2)) as router:
        outcome = triage(router, ticket())
    assert outcome.status is OutcomeStatus.TRIAGED
    (call,) = outcome.calls
    assert call.status is CallStatus.OK and not call.fallback_used
    assert chaos.stats()["models"]["cheap"]["statuses"] == {"500": 1, "200": 1}
    assert call.attempts == 2 == requests_of(chaos, "cheap")
