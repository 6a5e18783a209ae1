"""Langfuse tracing (`llm_operators.llm.tracing`) against the loopback Langfuse fake, over real HTTP.

The LLM calls are real `litellm.Router` / `TriageRouter` calls to the offline provider, traced by
litellm's `langfuse_otel` callback (our logger instance); scores go through the real langfuse SDK.
Every test gets its own fake and public key (the SDK keeps one client per public key per process).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported: no network

import litellm
import pytest
from fakes import FakeLangfuseOTLP
from litellm import Router
from litellm.integrations.custom_logger import CustomLogger

from llm_operators.chaos import DEFAULT_RESULT, ChaosServer
from llm_operators.core.config import LiteLLMSettings, offline_settings
from llm_operators.core.ladder import Ladder, LadderPolicy
from llm_operators.core.models import OutcomeStatus, Ticket
from llm_operators.core.outputs import DayOutputs
from llm_operators.core.triage_run import DayPlan, triage_day
from llm_operators.llm.cache import uninstall_cache
from llm_operators.llm.callbacks import LITELLM_CALLBACK_LISTS
from llm_operators.llm.offline_provider import register_offline_provider
from llm_operators.llm.router_client import TriageRouter
from llm_operators.llm.tracing import (
    GENERATION_KEY,
    PARENT_KEY,
    LangfuseSettings,
    Tracing,
)

DAY = "2025-10-01"
DAG = "ticket_triage"
RUN = "scheduled__2025-10-02T00:00:00+00:00"
PRICE_IN, PRICE_OUT = 1e-6, 2e-6
LANGFUSE_ENV = (
    "LANGFUSE_HOST",
    "LANGFUSE_BASE_URL",
    "LANGFUSE_PUBLIC_KEY",
    "LANGFUSE_SECRET_KEY",
    "LANGFUSE_TRACING_ENVIRONMENT",
    "LANGFUSE_OTEL_HOST",
)


def _environ() -> dict[str, str]:
    """The variables tracing could set (litellm itself sets e.g. TIKTOKEN_CACHE_DIR on first use)."""
    return {k: v for k, v in os.environ.items() if k.startswith(("LANGFUSE", "OTEL"))}


@pytest.fixture(autouse=True)
def isolated() -> Iterator[None]:
    """No LANGFUSE_* variables during a test; litellm's callback lists and the environment come back
    as they were. (Not using the `monkeypatch` fixture: a test's own one is undone before this check.)"""
    with pytest.MonkeyPatch.context() as mp:
        for name in LANGFUSE_ENV:
            mp.delenv(name, raising=False)
        lists = {name: list(getattr(litellm, name)) for name in LITELLM_CALLBACK_LISTS}
        environ = _environ()
        yield
        for name, value in lists.items():
            setattr(litellm, name, value)
        assert _environ() == environ, "environment variables left behind"


@pytest.fixture
def fake() -> Iterator[FakeLangfuseOTLP]:
    with FakeLangfuseOTLP(
        public_key=f"pk-lf-{uuid.uuid4().hex[:8]}", secret_key="sk-lf-" + uuid.uuid4().hex
    ) as srv:
        yield srv
        assert not srv.errors


@pytest.fixture
def tracing(fake: FakeLangfuseOTLP) -> Iterator[Tracing]:
    settings = LangfuseSettings(
        host=fake.url + "/", public_key=fake.public_key, secret_key=fake.secret_key, environment="test"
    )
    with Tracing(settings, run_id=RUN, dag_id=DAG, day=DAY) as t:
        yield t


def _router() -> Router:
    register_offline_provider()
    return Router(
        model_list=[
            {
                "model_name": "cheap",
                "litellm_params": {
                    "model": "offline/fast",
                    "input_cost_per_token": PRICE_IN,
                    "output_cost_per_token": PRICE_OUT,
                },
            }
        ]
    )


MESSAGES = [{"role": "user", "content": "Subject: Export fails\nThe CSV export fails with error 500."}]


def _generations(fake: FakeLangfuseOTLP) -> list[dict[str, Any]]:
    return [s for s in fake.spans if s["attributes"].get("langfuse.observation.type") == "generation"]


def _roots(fake: FakeLangfuseOTLP) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in fake.spans if s["attributes"].get("langfuse.observation.type") == "span"}


class _CountSuccess(CustomLogger):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        self.count += 1


def _ticket(ticket_id: str, body: str) -> Ticket:
    return Ticket(id=ticket_id, created_at=datetime(2025, 10, 1, 9, tzinfo=UTC), subject="Help", body=body)


# ================================================================================ settings


def test_from_env_off_without_both_keys(monkeypatch, caplog):
    assert LangfuseSettings.from_env() is None  # fixture cleared LANGFUSE_*
    assert LangfuseSettings.from_env({"LANGFUSE_HOST": "http://127.0.0.1:1"}) is None
    assert LangfuseSettings.from_env({"LANGFUSE_PUBLIC_KEY": "pk", "LANGFUSE_SECRET_KEY": ""}) is None
    assert "LANGFUSE_SECRET_KEY is not set" in caplog.text
    assert LangfuseSettings.from_env({"LANGFUSE_PUBLIC_KEY": " ", "LANGFUSE_SECRET_KEY": "sk"}) is None

    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-1")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-1")
    monkeypatch.setenv("LANGFUSE_HOST", "")
    settings = LangfuseSettings.from_env()
    assert settings is not None and settings.host == "https://cloud.langfuse.com"
    assert settings.secret_key.get_secret_value() == "sk-1" and "sk-1" not in repr(settings)
    assert settings.environment is None

    monkeypatch.setenv("LANGFUSE_HOST", "http://langfuse.internal:3000/")
    monkeypatch.setenv("LANGFUSE_TRACING_ENVIRONMENT", "staging")
    settings = LangfuseSettings.from_env()
    assert (settings.host, settings.environment) == ("http://langfuse.internal:3000", "staging")
    assert settings.traces_endpoint == "http://langfuse.internal:3000/api/public/otel/v1/traces"

    with pytest.raises(ValueError, match="http"):
        LangfuseSettings(host="langfuse.internal", public_key="pk", secret_key="sk")
    with pytest.raises(ValueError, match="extra"):
        LangfuseSettings(host="http://x", public_key="pk", secret_key="sk", release="1")
    with pytest.raises(ValueError, match="environment"):
        LangfuseSettings(host="http://x", public_key="pk", secret_key="sk", environment="Prod")


def test_trace_ids_are_deterministic_and_match_langfuse_seed():
    from langfuse import Langfuse

    a = Tracing(None, run_id=RUN, dag_id=DAG, day=DAY)
    b = Tracing(None, run_id=RUN, dag_id=DAG, day=DAY)
    assert (
        a.trace_id("T-1") == b.trace_id("T-1") == Langfuse.create_trace_id(seed=json.dumps([DAG, RUN, "T-1"]))
    )
    assert len(a.trace_id("T-1")) == 32 and len(a.root_span_id("T-1")) == 16
    others = {
        a.trace_id("T-2"),
        Tracing(None, run_id="other", dag_id=DAG, day=DAY).trace_id("T-1"),
        Tracing(None, run_id=RUN, dag_id="other_dag", day=DAY).trace_id("T-1"),
    }
    assert a.trace_id("T-1") not in others and len(others) == 3


# ================================================================================ disabled


def test_without_keys_everything_is_a_noop(monkeypatch, fake):
    monkeypatch.setenv("LANGFUSE_HOST", fake.url)  # a host alone does not turn tracing on
    settings = LangfuseSettings.from_env()
    assert settings is None

    connects: list[Any] = []
    real_connect = socket.socket.connect

    def spy_connect(sock, address):
        connects.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", spy_connect)
    before = list(litellm.callbacks)
    tracing = Tracing(settings, run_id=RUN, dag_id=DAG, day=DAY)
    assert tracing.enabled is False
    tracing.install()
    assert litellm.callbacks == before
    assert tracing.metadata_for("T-1") == {} and tracing.generation_metadata(0, "cheap") == {}

    async def caller(**kwargs):
        return kwargs

    assert tracing.wrap_caller(caller) is caller
    tracing.score_gate("T-1", "manual_review", ["low confidence"], True)
    tracing.score_review_outcome("T-1", "agreed", "fine")
    tracing.flush()
    asyncio.run(tracing.aflush())
    tracing.shutdown()
    assert litellm.callbacks == before
    assert connects == [] and fake.requests == []


# ================================================================================ spans


def test_generation_span_carries_session_trace_model_tokens_and_cost(tracing, fake):
    before = list(litellm.callbacks)
    tracing.install()
    tracing.install()  # idempotent
    added = [cb for cb in litellm.callbacks if cb not in before]
    assert len(added) == 1 and type(added[0]).__mro__[1].__name__ == "LangfuseOtelLogger"
    assert "langfuse" not in litellm.callbacks and "langfuse_otel" not in litellm.callbacks
    assert not any(name.startswith("LANGFUSE_") for name in os.environ)  # nothing put in the env

    metadata = tracing.metadata_for("T-1")
    assert metadata["trace_metadata"] == {"dag_id": DAG, "day": DAY, "ticket_id": "T-1"}  # ids only
    assert metadata["session_id"] == RUN and metadata["tags"] == ["ticket_triage", DAY]
    router = _router()

    async def run() -> Any:
        response = await router.acompletion(model="cheap", messages=MESSAGES, metadata=metadata)
        await tracing.aflush()  # inside the loop that made the call (see the module doc)
        return response

    response = asyncio.run(run())
    [gen] = _generations(fake)
    attrs = gen["attributes"]
    assert attrs["session.id"] == RUN
    assert attrs["langfuse.trace.name"] == "ticket T-1"
    assert json.loads(attrs["langfuse.trace.tags"]) == ["ticket_triage", DAY]
    assert json.loads(attrs["langfuse.trace.metadata"]) == {"dag_id": DAG, "day": DAY, "ticket_id": "T-1"}
    assert attrs["llm.model_name"] == "fast" and attrs["llm.provider"] == "offline"
    usage = response.usage
    assert (attrs["llm.token_count.prompt"], attrs["llm.token_count.completion"]) == (
        usage.prompt_tokens,
        usage.completion_tokens,
    )
    assert attrs["llm.token_count.total"] == usage.total_tokens > 0
    expected_cost = usage.prompt_tokens * PRICE_IN + usage.completion_tokens * PRICE_OUT
    assert attrs["llm.cost.total"] == pytest.approx(expected_cost) and expected_cost > 0
    assert attrs["langfuse.environment"] == "test"
    assert "langfuse.trace.id" not in attrs  # litellm's `trace_id` key is not used: see the module doc

    # the generation hangs under the ticket's root span, in the ticket's deterministic trace
    root = _roots(fake)["ticket T-1"]
    assert gen["trace_id"] == root["trace_id"] == tracing.trace_id("T-1")
    assert gen["parent_span_id"] == root["span_id"] == tracing.root_span_id("T-1")
    assert root["parent_span_id"] is None
    assert root["attributes"]["session.id"] == RUN
    assert root["attributes"]["langfuse.trace.name"] == "ticket T-1"
    assert root["start_time_unix_nano"] <= gen["start_time_unix_nano"]
    assert root["end_time_unix_nano"] >= gen["end_time_unix_nano"]
    request = fake.requests_to("/api/public/otel/v1/traces")[0]
    assert request.header("authorization") == fake.auth_header
    assert request.header("x-langfuse-ingestion-version") == "4"

    logger = tracing._logger
    tracing.shutdown()
    assert litellm.callbacks == before
    for name in LITELLM_CALLBACK_LISTS:  # litellm had copied it into its other lists on the call
        assert not any(cb is logger for cb in getattr(litellm, name)), name


def test_ladder_two_tickets_two_traces_one_session_named_rungs(tracing, fake):
    """The real Ladder + TriageRouter, with the caller wrapped: every rung is a named generation."""
    tracing.install()
    router = TriageRouter(offline_settings())
    try:
        ladder = Ladder(
            LadderPolicy(rungs=["fast", "careful"], escalate_below=0.999),  # always climbs to rung 1
            caller=tracing.wrap_caller(router.call),
        )
        tickets = [
            _ticket("T-1", "The CSV export fails with error 500 since this morning."),
            _ticket("T-2", "I was charged twice for my subscription this month, please refund."),
        ]

        logged = _CountSuccess()
        litellm.callbacks = [*litellm.callbacks, logged]

        async def run() -> list[Any]:
            outcomes = []
            for ticket in tickets:
                outcomes.append(await ladder.triage(ticket, DAY, tracing.metadata_for(ticket.id)))
                # wrap_caller waited for litellm's callbacks: they ran before the ladder returned
                assert logged.count == sum(len(o.calls) for o in outcomes)
            return outcomes

        outcomes = asyncio.run(run())  # no aflush() needed
    finally:
        router.close()
    tracing.flush()

    calls = {o.ticket_id: len(o.calls) for o in outcomes}
    assert calls == {"T-1": 2, "T-2": 2}
    gens = _generations(fake)
    assert len(gens) == 4
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for gen in gens:
        by_trace.setdefault(gen["trace_id"], []).append(gen)
    assert set(by_trace) == {tracing.trace_id("T-1"), tracing.trace_id("T-2")}
    assert {g["attributes"]["session.id"] for g in gens} == {RUN}
    for ticket_id in ("T-1", "T-2"):
        spans = sorted(by_trace[tracing.trace_id(ticket_id)], key=lambda s: s["start_time_unix_nano"])
        assert [s["name"] for s in spans] == ["rung 0 (fast)", "rung 1 (careful)"]
        assert [s["attributes"]["langfuse.observation.metadata.rung"] for s in spans] == [0, 1]
        assert [s["attributes"]["llm.model_name"] for s in spans] == ["fast", "careful"]
        assert {s["attributes"]["langfuse.trace.name"] for s in spans} == {f"ticket {ticket_id}"}
        assert {s["parent_span_id"] for s in spans} == {tracing.root_span_id(ticket_id)}
        assert json.loads(spans[1]["attributes"]["langfuse.trace.tags"]) == ["ticket_triage", DAY, "rung:1"]
    roots = _roots(fake)
    assert {name: r["trace_id"] for name, r in roots.items()} == {
        "ticket T-1": tracing.trace_id("T-1"),
        "ticket T-2": tracing.trace_id("T-2"),
    }
    # no ticket text in anything we added
    for span in fake.spans:
        for key, value in span["attributes"].items():
            if key.startswith(("langfuse.trace.", "langfuse.observation.metadata.", "session.")):
                assert "CSV" not in str(value) and "charged" not in str(value), key

    tracing.flush()  # nothing changed: the root spans are not sent again
    assert len(_roots(fake)) == 2 and len([s for s in fake.spans if s["name"].startswith("ticket ")]) == 2


def test_calls_made_before_install_are_not_traced(tracing, fake):
    """litellm runs a call's success callbacks later, with the callbacks registered by then."""
    router = _router()

    async def run() -> None:
        await router.acompletion(model="cheap", messages=MESSAGES)  # its callback has not run yet
        tracing.install()
        await router.acompletion(model="cheap", messages=MESSAGES, metadata=tracing.metadata_for("T-3"))
        await tracing.aflush()

    asyncio.run(run())
    assert [g["trace_id"] for g in _generations(fake)] == [tracing.trace_id("T-3")]


# ================================================================================ scores


def test_scores_attach_to_the_trace_of_the_ticket_generations(tracing, fake):
    tracing.install()
    router = _router()

    async def run() -> None:
        await router.acompletion(model="cheap", messages=MESSAGES, metadata=tracing.metadata_for("T-1"))
        await tracing.aflush()

    asyncio.run(run())
    tracing.shutdown()  # the triage task ends
    [gen] = _generations(fake)

    # The gate runs in another task (process): a fresh Tracing, nothing shared but the ids' inputs.
    gate = Tracing(tracing.settings, run_id=RUN, dag_id=DAG, day=DAY)
    gate.score_gate("T-1", "manual_review", ["low confidence 0.32 < 0.70", "PII detected (email)"], True)
    gate.score_gate("T-2", "auto_reply", [], False)
    gate.score_review_outcome("T-1", "agreed", "reviewer kept the routing")
    gate.flush()
    scores = fake.wait_for_scores(5)
    gate.shutdown()

    decision = next(s for s in scores if s["name"] == "gate_decision" and s["traceId"] == gen["trace_id"])
    assert decision["value"] == "manual_review" and decision["dataType"] == "CATEGORICAL"
    assert decision["comment"] == "low confidence 0.32 < 0.70; PII detected (email)"
    assert decision["environment"] == "test"
    assert decision["metadata"] == {"dag_id": DAG, "run_id": RUN, "day": DAY, "ticket_id": "T-1"}
    paged = next(s for s in scores if s["name"] == "paged" and s["traceId"] == gen["trace_id"])
    assert (paged["value"], paged["dataType"]) == (1.0, "BOOLEAN")
    other = [s for s in scores if s["traceId"] == gate.trace_id("T-2")]
    assert {(s["name"], s["value"]) for s in other} == {("gate_decision", "auto_reply"), ("paged", 0.0)}
    review = next(s for s in scores if s["name"] == "review_outcome")
    assert (review["traceId"], review["value"], review["comment"]) == (
        gen["trace_id"],
        "agreed",
        "reviewer kept the routing",
    )
    assert len({s["id"] for s in scores}) == 5
    assert decision["id"] == f"{gen['trace_id']}-gate_decision"  # a retried gate task updates, not adds

    # the SDK's per-key client was released: a later Tracing with this key sends to this fake again
    from langfuse._client.resource_manager import LangfuseResourceManager

    assert fake.public_key not in LangfuseResourceManager._instances
    again = Tracing(tracing.settings, run_id=RUN, dag_id=DAG, day=DAY)
    again.score_review_outcome("T-1", "disagreed")
    again.shutdown()
    assert [s["value"] for s in fake.wait_for_scores(6) if s["name"] == "review_outcome"] == [
        "agreed",
        "disagreed",
    ]


# ================================================================================ secrets


def test_secret_key_never_logged(tracing, fake, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("LiteLLM", "LiteLLM Router", "langfuse"):
        caplog.set_level(logging.DEBUG, logger=name)
    tracing.install()
    router = _router()

    async def run() -> None:
        await router.acompletion(model="cheap", messages=MESSAGES, metadata=tracing.metadata_for("T-9"))
        await tracing.aflush()

    asyncio.run(run())
    tracing.score_gate("T-9", "auto_reply", [], False)
    tracing.flush()
    tracing.shutdown()
    assert _generations(fake) and fake.scores  # the secret was used...
    logged = caplog.text
    assert any(r.name.startswith("LiteLLM") for r in caplog.records) and "OpenTelemetry" in logged
    token = base64.b64encode(f"{fake.public_key}:{fake.secret_key}".encode()).decode()
    assert fake.secret_key not in logged and token not in logged  # ...and never logged
    assert fake.secret_key not in repr(tracing) and fake.secret_key not in repr(tracing.settings)


def test_metadata_and_generation_metadata_shape(tracing):
    metadata = tracing.metadata_for("T-7")
    context = metadata[PARENT_KEY].get_span_context()
    assert format(context.trace_id, "032x") == tracing.trace_id("T-7")
    assert format(context.span_id, "016x") == tracing.root_span_id("T-7")
    assert set(metadata) == {"session_id", "trace_name", "tags", "trace_metadata", PARENT_KEY}
    assert tracing.generation_metadata(1, "careful", repair=True) == {
        "generation_name": "rung 1 (careful) repair",
        "tags": ["ticket_triage", DAY, "rung:1"],
        GENERATION_KEY: {"rung": 1, "model_group": "careful", "repair": True},
    }


# ================================================================================ concurrency
#
# The e2e run once showed 13 trace ids for 12 tickets, one ticket's two rungs in two traces: the operator
# passed `trace_metadata` without the parent span, so every generation was a root with a random trace id
# (only the one escalated ticket made it visible). These run a whole day the way the triage task does
# (`triage_day`, 16 workers, real Router against the chaos provider) with the right wiring and with
# the two broken ones: `wrap_caller` and our logger now put every generation in its ticket's trace.

DAY_TICKETS = 30


def _chaos_answer(model: str, messages: list[dict[str, Any]]) -> str:
    """Valid triage JSON; the cheap model is unsure (0.3, so the ladder climbs) for about half the tickets."""
    text = messages[-1]["content"]
    unsure = model == "cheap" and hashlib.sha256(text.encode()).digest()[0] % 2 == 0
    return json.dumps({**DEFAULT_RESULT, "confidence": 0.3 if unsure else 0.9})


def _chaos_settings(chaos: ChaosServer) -> LiteLLMSettings:
    def deployment(name: str) -> dict[str, Any]:
        return {
            "model_name": name,
            "litellm_params": {
                "model": f"openai/{name}",
                "api_base": chaos.openai_base,
                "api_key": "sk-test",
                "input_cost_per_token": PRICE_IN,
                "output_cost_per_token": PRICE_OUT,
            },
        }

    return LiteLLMSettings.parse(
        {
            "model_list": [deployment("cheap"), deployment("strong")],
            "ladder": ["cheap", "strong"],
            "router_settings": {"num_retries": 0, "timeout": 10},
        },
        "test",
    )


def _write_day(root: Path, n: int) -> None:
    start = datetime.fromisoformat(DAY).replace(hour=8, tzinfo=UTC)
    lines = [
        _ticket(f"T-{DAY.replace('-', '')}-{i:03d}", f"Order {i}: the CSV export fails with error {500 + i}.")
        .model_copy(update={"created_at": start + timedelta(minutes=i)})
        .model_dump_json()
        for i in range(1, n + 1)
    ]
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{DAY}.jsonl").write_text("\n".join(lines) + "\n")


WIRINGS = {
    "metadata_for": lambda tracing: lambda t: tracing.metadata_for(t.id),
    # what TriageOperator passed before: right session and trace name, no parent span
    "without_parent": lambda tracing: (
        lambda t: {
            "session_id": tracing.run_id,
            "trace_name": f"ticket {t.id}",
            "ticket_id": t.id,
        }
    ),
    "none": lambda tracing: None,
}


@pytest.mark.parametrize("wiring", list(WIRINGS))
def test_concurrent_day_one_trace_per_ticket(tracing, fake, tmp_path, wiring):
    uninstall_cache()  # litellm.cache is global: a cache left by another test would answer instead
    _write_day(tmp_path / "tickets", DAY_TICKETS)
    tracing.install()
    chaos_config = {"default": {"latency_ms": 2, "jitter_ms": 25}}  # calls overlap and finish out of order
    with (
        ChaosServer(chaos_config, content_fn=_chaos_answer) as chaos,
        TriageRouter(_chaos_settings(chaos)) as router,
    ):
        ladder = Ladder(LadderPolicy(rungs=["cheap", "strong"]), caller=tracing.wrap_caller(router.call))
        plan = DayPlan(
            source_root=tmp_path / "tickets",
            outputs=DayOutputs(tmp_path / "out", DAY),
            day=date.fromisoformat(DAY),
            concurrency=16,
            trace_metadata=WIRINGS[wiring](tracing),
        )
        summary = triage_day(plan, ladder).summary
        requests = chaos.stats()["total_requests"]
    tracing.flush()

    assert summary.tickets == summary.triaged == DAY_TICKETS
    assert 5 <= summary.escalated <= DAY_TICKETS - 5, summary.escalated  # both paths, many times
    assert summary.calls == requests == DAY_TICKETS + summary.escalated

    gens = _generations(fake)
    assert len(gens) == summary.calls
    by_ticket: dict[str, list[dict[str, Any]]] = {}
    for gen in gens:
        attrs = gen["attributes"]
        ticket_id = attrs["langfuse.trace.name"].removeprefix("ticket ")
        by_ticket.setdefault(ticket_id, []).append(gen)
        assert attrs["session.id"] == RUN
        assert (gen["trace_id"], gen["parent_span_id"]) == (
            tracing.trace_id(ticket_id),
            tracing.root_span_id(ticket_id),
        ), (ticket_id, gen["name"])
    assert len({g["trace_id"] for g in gens}) == len(by_ticket) == DAY_TICKETS
    escalated = {tid for tid, spans in by_ticket.items() if len(spans) == 2}
    assert len(escalated) == summary.escalated
    for ticket_id in escalated:
        names = sorted(s["name"] for s in by_ticket[ticket_id])
        assert names == ["rung 0 (cheap)", "rung 1 (strong)"]

    roots = _roots(fake)
    assert {name: r["trace_id"] for name, r in roots.items()} == {
        f"ticket {tid}": tracing.trace_id(tid) for tid in by_ticket
    }
    outcomes = [
        json.loads(line) for line in (tmp_path / "out" / DAY / "outcomes.jsonl").read_text().splitlines()
    ]
    assert {o["status"] for o in outcomes} == {OutcomeStatus.TRIAGED.value}


def test_parent_lost_in_a_litellm_copy_is_rebuilt_from_trace_metadata(tracing, fake):
    """litellm's `safe_deep_copy` leaves the string "placeholder" under the parent key of its copies."""
    from litellm.litellm_core_utils.core_helpers import safe_deep_copy

    tracing.install()
    copied = safe_deep_copy({"metadata": tracing.metadata_for("T-5")})["metadata"]
    assert copied[PARENT_KEY] == "placeholder"  # what litellm does (1.106.2)
    without = {k: v for k, v in tracing.metadata_for("T-6").items() if k != PARENT_KEY}
    other_run = Tracing(tracing.settings, run_id="another-run", dag_id=DAG, day=DAY).metadata_for("T-7")
    other_run.pop(PARENT_KEY)
    router = _router()

    async def run() -> None:
        await router.acompletion(model="cheap", messages=MESSAGES, metadata=copied)
        await router.acompletion(model="cheap", messages=MESSAGES, metadata=without)
        await router.acompletion(model="cheap", messages=MESSAGES, metadata=other_run)  # not ours
        await router.acompletion(model="cheap", messages=MESSAGES)  # no ticket: litellm decides
        await tracing.aflush()

    asyncio.run(run())
    by_name: dict[str, list[dict[str, Any]]] = {}
    for gen in _generations(fake):
        by_name.setdefault(gen["attributes"].get("langfuse.trace.name", ""), []).append(gen)
    for ticket_id in ("T-5", "T-6"):
        [gen] = by_name[f"ticket {ticket_id}"]
        assert (gen["trace_id"], gen["parent_span_id"]) == (
            tracing.trace_id(ticket_id),
            tracing.root_span_id(ticket_id),
        )
    ours = {tracing.trace_id(t) for t in ("T-5", "T-6", "T-7")}
    [foreign] = by_name["ticket T-7"]
    [plain] = by_name[""]
    for gen in (foreign, plain):  # never adopted into one of this run's ticket traces
        assert gen["trace_id"] not in ours and gen["parent_span_id"] is None
    assert set(_roots(fake)) == {"ticket T-5", "ticket T-6"}


def test_personal_data_in_a_model_answer_never_reaches_langfuse(tracing, fake):
    """The prompt is redacted before the call; an answer that echoes PII is redacted in the span."""
    tracing.install()
    router = Router(
        model_list=[
            {"model_name": "cheap", "litellm_params": {"model": "openai/gpt-4o-mini", "api_key": "sk-unused"}}
        ]
    )
    answer = "Call me on +1 415-555-0134 or write to jane.doe@example.com, card 4111 1111 1111 1111"

    async def run() -> None:
        await router.acompletion(
            model="cheap", messages=MESSAGES, metadata=tracing.metadata_for("T-9"), mock_response=answer
        )
        await tracing.aflush()

    asyncio.run(run())
    tracing.flush()
    [gen] = _generations(fake)
    sent = json.dumps(gen["attributes"])
    for value in ("jane.doe@example.com", "415-555-0134", "4111 1111 1111 1111"):
        assert value not in sent
    assert "[EMAIL]" in sent and "[CARD]" in sent
