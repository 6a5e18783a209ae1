"""Langfuse tracing (`llm_operators.llm.tracing`) against the loopback Langfuse fake, over real HTTP.

A day runs the way the triage task runs it (`triage_day`, concurrent workers, the real `TriageRouter`
against the chaos provider); spans leave through the real langfuse SDK (OTLP) and scores through
the ingestion API. Every test gets its own fake and public key (the SDK keeps one client per public
key per process).
"""

from __future__ import annotations

import ast
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

from chaos_provider import DEFAULT_RESULT, ChaosServer
from llm_operators.core.call_request import CallRequest
from llm_operators.core.config import LiteLLMSettings
from llm_operators.core.day_source import FileTicketSource
from llm_operators.core.ladder import Ladder, LadderPolicy
from llm_operators.core.models import CallRecord, CallStatus, OutcomeStatus, Ticket
from llm_operators.core.outputs import DayOutputs
from llm_operators.core.prompts import SYSTEM_PROMPT
from llm_operators.core.triage_run import DayPlan, triage_day
from llm_operators.llm import langfuse_client, langfuse_scores, prompt_source
from llm_operators.llm import tracing as tracing_module
from llm_operators.llm.cache import uninstall_cache
from llm_operators.llm.langfuse_scores import Score, ScoreSender
from llm_operators.llm.prompt_source import DEFAULT_PROMPT_NAME, PromptSource, ResolvedPrompt
from llm_operators.llm.router_client import TriageRouter
from llm_operators.llm.tracing import LangfuseSettings, Tracing

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
)
PROMPT = ResolvedPrompt(name="ticket-triage-rules", version=4, text="<ticket></ticket>", source="langfuse")


@pytest.fixture(autouse=True)
def isolated() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for name in LANGFUSE_ENV:
            mp.delenv(name, raising=False)
        callbacks = list(litellm.callbacks)
        yield
        assert litellm.callbacks == callbacks, "tracing must not install litellm callbacks"


@pytest.fixture
def fake() -> Iterator[FakeLangfuseOTLP]:
    with FakeLangfuseOTLP(
        public_key=f"pk-lf-{uuid.uuid4().hex[:8]}", secret_key="sk-lf-" + uuid.uuid4().hex
    ) as srv:
        yield srv
        assert not srv.errors


def _settings(fake: FakeLangfuseOTLP) -> LangfuseSettings:
    return LangfuseSettings(
        host=fake.url + "/", public_key=fake.public_key, secret_key=fake.secret_key, environment="test"
    )


@pytest.fixture
def tracing(fake: FakeLangfuseOTLP) -> Iterator[Tracing]:
    with Tracing(_settings(fake), run_id=RUN, dag_id=DAG, day=DAY, prompt=PROMPT) as t:
        yield t


def _generations(fake: FakeLangfuseOTLP) -> list[dict[str, Any]]:
    return [s for s in fake.spans if s["attributes"].get("langfuse.observation.type") == "generation"]


def _roots(fake: FakeLangfuseOTLP) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in fake.spans if s["attributes"].get("langfuse.observation.type") == "span"}


def _meta(span: dict[str, Any], key: str) -> Any:
    return json.loads(span["attributes"][f"langfuse.observation.metadata.{key}"])


def _ticket(ticket_id: str, body: str) -> Ticket:
    return Ticket(id=ticket_id, created_at=datetime(2025, 10, 1, 9, tzinfo=UTC), subject="Help", body=body)


def _record(request: CallRequest, **extra: Any) -> CallRecord:
    return CallRecord(
        ticket_id=request.ticket_id,
        rung=request.rung,
        model_group=request.group,
        repair=request.repair,
        deployment=f"openai/{request.group}",
        status=CallStatus.OK,
        prompt_tokens=100,
        completion_tokens=20,
        cost_usd=0.0003,
        latency_ms=12.5,
        **extra,
    )


# ================================================================================ settings and ids


def test_from_env_off_without_both_keys(monkeypatch, caplog):
    assert LangfuseSettings.from_env() is None  # fixture cleared LANGFUSE_*
    assert LangfuseSettings.from_env({"LANGFUSE_HOST": "http://127.0.0.1:1"}) is None
    assert LangfuseSettings.from_env({"LANGFUSE_PUBLIC_KEY": "pk", "LANGFUSE_SECRET_KEY": ""}) is None
    assert "LANGFUSE_SECRET_KEY is not set" in caplog.text

    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-1")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-1")
    settings = LangfuseSettings.from_env()
    assert settings is not None and settings.host == "https://cloud.langfuse.com"
    assert settings.secret_key.get_secret_value() == "sk-1" and "sk-1" not in repr(settings)

    monkeypatch.setenv("LANGFUSE_HOST", "http://langfuse.internal:3000/")
    monkeypatch.setenv("LANGFUSE_TRACING_ENVIRONMENT", "staging")
    settings = LangfuseSettings.from_env()
    assert (settings.host, settings.environment) == ("http://langfuse.internal:3000", "staging")
    with pytest.raises(ValueError, match="http"):
        LangfuseSettings(host="langfuse.internal", public_key="pk", secret_key="sk")
    with pytest.raises(ValueError, match="environment"):
        LangfuseSettings(host="http://x", public_key="pk", secret_key="sk", environment="Prod")


def test_trace_ids_are_deterministic_per_dag_run_and_ticket():
    a = Tracing(None, run_id=RUN, dag_id=DAG, day=DAY)
    # the same ids as before the SDK rewrite, so traces of older runs still take their scores
    legacy = hashlib.sha256(json.dumps([DAG, RUN, "T-1"]).encode()).digest()[:16].hex()
    assert a.trace_id("T-1") == Tracing(None, run_id=RUN, dag_id=DAG, day="").trace_id("T-1") == legacy
    others = {
        a.trace_id("T-2"),
        Tracing(None, run_id="other", dag_id=DAG, day=DAY).trace_id("T-1"),
        Tracing(None, run_id=RUN, dag_id="other_dag", day=DAY).trace_id("T-1"),
    }
    assert a.trace_id("T-1") not in others and len(others) == 3


def test_without_keys_everything_is_a_noop(monkeypatch, fake):
    monkeypatch.setenv("LANGFUSE_HOST", fake.url)  # a host alone does not turn tracing on
    connects: list[Any] = []
    real_connect = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", lambda s, a: (connects.append(a), real_connect(s, a))[1])
    tracing = Tracing(LangfuseSettings.from_env(), run_id=RUN, dag_id=DAG, day=DAY)
    assert tracing.enabled is False
    tracing.install()
    assert tracing.metadata_for("T-1") == {}

    async def caller(request):
        return request

    assert tracing.wrap_caller(caller) is caller
    tracing.score_gate("T-1", "manual_review", ["low confidence"], True)
    tracing.score_review_outcome("T-1", "agreed", "fine")
    tracing.end_ticket("T-1")
    asyncio.run(tracing.aflush())
    tracing.shutdown()
    assert connects == [] and fake.requests == []


# ================================================================================ a day, traced

DAY_TICKETS = 24


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
        _ticket(f"T-{i:03d}", f"Order {i}: the CSV export fails with error {500 + i}.")
        .model_copy(update={"created_at": start + timedelta(minutes=i)})
        .model_dump_json()
        for i in range(1, n + 1)
    ]
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{DAY}.jsonl").write_text("\n".join(lines) + "\n")


def run_traced_day(tracing: Tracing, tmp_path: Path, *, wired: bool = True) -> tuple[Any, list[dict]]:
    """A day through `triage_day` with a traced `TriageRouter`; (summary, outcomes)."""
    uninstall_cache()  # litellm.cache is global: a cache left by another test would answer instead
    _write_day(tmp_path / "tickets", DAY_TICKETS)
    tracing.install()
    chaos_config = {"default": {"latency_ms": 2, "jitter_ms": 25}}  # calls overlap, finish out of order
    with (
        ChaosServer(chaos_config, content_fn=_chaos_answer) as chaos,
        TriageRouter(_chaos_settings(chaos)) as router,
    ):
        ladder = Ladder(LadderPolicy(rungs=["cheap", "strong"]), caller=tracing.wrap_caller(router.call))
        plan = DayPlan(
            source=FileTicketSource(tmp_path / "tickets"),
            outputs=DayOutputs(tmp_path / "out", DAY),
            day=date.fromisoformat(DAY),
            concurrency=8,
            trace_metadata=(lambda t: tracing.metadata_for(t.id)) if wired else None,
        )
        summary = triage_day(plan, ladder).summary
        assert chaos.stats()["total_requests"] == summary.calls
    tracing.flush()
    outcomes = [json.loads(x) for x in (tmp_path / "out" / DAY / "outcomes.jsonl").read_text().splitlines()]
    return summary, outcomes


@pytest.mark.parametrize("wired", [True, False], ids=["metadata_for", "no_trace_metadata"])
def test_a_day_one_trace_per_ticket_a_generation_per_call(tracing, fake, tmp_path, wired):
    summary, outcomes = run_traced_day(tracing, tmp_path, wired=wired)
    assert summary.tickets == summary.triaged == DAY_TICKETS
    assert 3 <= summary.escalated <= DAY_TICKETS - 3, summary.escalated  # both paths, many times
    assert {o["status"] for o in outcomes} == {OutcomeStatus.TRIAGED.value}
    calls = {(c["ticket_id"], c["rung"]): c for o in outcomes for c in o["calls"]}

    roots = _roots(fake)
    assert set(roots) == {f"ticket {o['ticket_id']}" for o in outcomes}  # one root per ticket
    gens = _generations(fake)
    assert len(gens) == summary.calls == len(calls)
    for gen in gens:
        attrs = gen["attributes"]
        ticket_id = attrs["langfuse.trace.name"].removeprefix("ticket ")
        root = roots[f"ticket {ticket_id}"]
        assert gen["trace_id"] == root["trace_id"] == tracing.trace_id(ticket_id)
        assert gen["parent_span_id"] == root["span_id"]  # a child of its ticket's root
        assert attrs["session.id"] == root["attributes"]["session.id"] == RUN  # session = the DAG run
        call = calls[(ticket_id, _meta(gen, "rung"))]
        assert gen["name"] == f"rung {call['rung']} ({call['model_group']})"
        assert (
            attrs["langfuse.observation.model.name"] == call["deployment"] == f"openai/{call['model_group']}"
        )
        usage = json.loads(attrs["langfuse.observation.usage_details"])
        assert (
            usage["input"] == call["prompt_tokens"] > 0 and usage["output"] == call["completion_tokens"] > 0
        )
        cost = json.loads(attrs["langfuse.observation.cost_details"])["total"]
        assert cost == pytest.approx(call["cost_usd"]) and cost > 0
        assert _meta(gen, "cache_hit") is False and _meta(gen, "fallback_used") is False
        assert _meta(gen, "latency_ms") == round(call["latency_ms"], 1)
        assert attrs["langfuse.observation.prompt.name"] == PROMPT.name  # linked to the prompt version
        assert attrs["langfuse.observation.prompt.version"] == PROMPT.version
        assert attrs["langfuse.environment"] == "test"
        system, user = json.loads(attrs["langfuse.observation.input"])
        assert system == {
            "role": "system",
            "content": f"[system prompt {PROMPT.ref}]",
        }  # linked, not repeated
        assert user["role"] == "user" and "<ticket>" in user["content"]
        assert root["start_time_unix_nano"] <= gen["start_time_unix_nano"]
        assert gen["end_time_unix_nano"] <= root["end_time_unix_nano"]
    by_trace: dict[str, list[str]] = {}
    for gen in gens:
        by_trace.setdefault(gen["trace_id"], []).append(gen["name"])
    assert (
        sum(sorted(n) == ["rung 0 (cheap)", "rung 1 (strong)"] for n in by_trace.values())
        == summary.escalated
    )


def test_invalid_answers_errors_and_cache_hits_on_their_generations(tracing, fake):
    """The ladder marks an answer invalid after the call returns: the generation shows it."""

    async def caller(request: CallRequest) -> tuple[str | None, CallRecord]:
        if request.rung == 1:
            raise TimeoutError("provider hung")
        if request.ticket_id == "T-hit":
            return DEFAULT_RESULT_JSON, _record(request, cache_hit=True, attempts=0)
        return ("not json" if not request.repair else DEFAULT_RESULT_JSON), _record(request)

    traced = tracing.wrap_caller(caller)

    async def run() -> None:
        _, first = await traced(CallRequest(ticket_id="T-1", rung=0, group="cheap", messages=[]))
        first.status, first.error = CallStatus.INVALID, "answer is not JSON"  # what the ladder does
        await traced(CallRequest(ticket_id="T-1", rung=0, group="cheap", messages=[], repair=True))
        with pytest.raises(TimeoutError):
            await traced(CallRequest(ticket_id="T-1", rung=1, group="strong", messages=[]))
        await traced(CallRequest(ticket_id="T-hit", rung=0, group="cheap", messages=[]))

    asyncio.run(run())
    tracing.flush()
    gens = {(g["name"], g["trace_id"]): g for g in _generations(fake)}
    t1, hit = tracing.trace_id("T-1"), tracing.trace_id("T-hit")
    invalid, repaired = gens[("rung 0 (cheap)", t1)], gens[("rung 0 (cheap) repair", t1)]
    assert invalid["attributes"]["langfuse.observation.level"] == "WARNING"
    assert invalid["attributes"]["langfuse.observation.status_message"] == "answer is not JSON"
    assert "langfuse.observation.level" not in repaired["attributes"] and _meta(repaired, "repair") is True
    failed = gens[("rung 1 (strong)", t1)]["attributes"]
    assert failed["langfuse.observation.level"] == "ERROR"
    assert failed["langfuse.observation.status_message"] == "TimeoutError"
    cached = gens[("rung 0 (cheap)", hit)]
    assert _meta(cached, "cache_hit") is True and _meta(cached, "attempts") == 0
    assert json.loads(cached["attributes"]["langfuse.observation.cost_details"]) == {"total": 0.0}


DEFAULT_RESULT_JSON = json.dumps(DEFAULT_RESULT)


def test_the_judge_call_is_not_linked_to_the_triage_prompt(tracing, fake):
    async def caller(request: CallRequest) -> tuple[str | None, CallRecord]:
        return "{}", _record(request, purpose="judge")

    judge = CallRequest(ticket_id="T-1", rung=2, group="strong", messages=[], response_format={})
    asyncio.run(tracing.wrap_caller(caller)(judge))
    tracing.flush()
    [gen] = _generations(fake)
    assert gen["name"] == "rung 2 (strong) judge"
    assert "langfuse.observation.prompt.name" not in gen["attributes"] and _meta(gen, "purpose") == "judge"


def test_tickets_are_not_coupled_a_slow_call_does_not_hold_back_another_ticket(tracing, fake):
    """The old wrapper awaited litellm's pending logging after every call; nothing waits now."""
    order: list[str] = []
    release = asyncio.Event

    async def run() -> None:
        gate = release()

        async def caller(request: CallRequest) -> tuple[str | None, CallRecord]:
            if request.ticket_id == "slow":
                await gate.wait()
            order.append(request.ticket_id)
            return "{}", _record(request)

        traced = tracing.wrap_caller(caller)
        slow = asyncio.create_task(traced(CallRequest(ticket_id="slow", rung=0, group="cheap", messages=[])))
        await traced(CallRequest(ticket_id="fast", rung=0, group="cheap", messages=[]))
        tracing.end_ticket("fast")
        order.append("fast done")
        gate.set()
        await slow

    asyncio.run(run())
    tracing.flush()
    assert order == ["fast", "fast done", "slow"]
    assert {r["name"] for r in _roots(fake).values()} == {"ticket fast", "ticket slow"}


# ================================================================================ scores


def test_gate_scores_land_on_the_ticket_trace_through_the_ingestion_api(tracing, fake):
    tracing.metadata_for("T-1")
    tracing.score_gate("T-1", "manual_review", ["low confidence", "P0"], True)
    tracing.score_gate("T-2", "auto_reply", [], False)
    tracing.flush()
    scores = {(s["traceId"], s["name"]): s for s in fake.scores}
    t1, t2 = tracing.trace_id("T-1"), tracing.trace_id("T-2")
    assert scores[(t1, "gate_decision")]["value"] == "manual_review"
    assert scores[(t1, "gate_decision")]["dataType"] == "CATEGORICAL"
    assert scores[(t1, "gate_decision")]["comment"] == "low confidence; P0"
    assert (scores[(t1, "paged")]["value"], scores[(t1, "paged")]["dataType"]) == (1, "BOOLEAN")
    assert scores[(t2, "paged")]["value"] == 0 and "comment" not in scores[(t2, "gate_decision")]
    assert scores[(t1, "paged")]["id"] == f"{t1}-paged"  # a retried gate task replaces, not adds
    assert scores[(t1, "paged")]["environment"] == "test"
    # the form the server accepts: score-create events, never a list on /api/public/scores
    assert fake.requests_to("/api/public/scores") == []
    assert [r.status for r in fake.requests_to("/api/public/ingestion")] == [207]
    assert {s["traceId"] for s in fake.scores} <= {g["trace_id"] for g in fake.spans} | {t2}


def test_score_payloads_are_checked_with_the_server_rules_before_they_leave():
    base = {"id": "s", "traceId": "t", "name": "paged"}
    with pytest.raises(ValueError, match="0 or 1"):
        Score(**base, value=2, dataType="BOOLEAN")
    with pytest.raises(ValueError, match="needs a string"):
        Score(**base, value=1.0, dataType="CATEGORICAL")
    with pytest.raises(ValueError, match="needs a number"):
        Score(**base, value="yes", dataType="NUMERIC")
    event = Score(**base, value=1, dataType="BOOLEAN").event()
    assert event["type"] == "score-create" and event["timestamp"].endswith("+00:00")


def test_score_sender_retries_a_5xx_and_logs_a_rejection(fake, caplog, monkeypatch):
    monkeypatch.setattr(langfuse_scores.time, "sleep", lambda s: None)
    sender = ScoreSender(_settings(fake))
    fake.fail_next(2, 503, "/api/public/ingestion")
    sender.add(Score(id="s1", traceId="t1", name="q", value=0.5, dataType="NUMERIC"))
    sender.flush()
    assert sender.sent == 1 and [r.status for r in fake.requests_to("/api/public/ingestion")] == [
        503,
        503,
        207,
    ]

    # a score the server refuses (here: an event type the fake does not hold) is a 207 error line
    sender._pending.append({"id": "e-bad", "type": "trace-create", "timestamp": "2025-10-01T00:00:00Z"})
    sender.flush()
    assert sender.rejected == 1 and "Langfuse rejected 1 of 1 scores (first: 400" in caplog.text
    fake.fail_next(1, 400, "/api/public/ingestion")  # a 4xx is not retried
    sender.add(Score(id="s2", traceId="t1", name="q", value=0.5, dataType="NUMERIC"))
    sender.close()
    assert [r.status for r in fake.requests_to("/api/public/ingestion")][-1] == 400
    assert sender.rejected == 2 and "not sent" in caplog.text


# ================================================================================ privacy


def test_no_secret_and_no_raw_personal_data_reach_spans_or_logs(tracing, fake, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="langfuse")
    answer = "Call me on +1 415-555-0134 or write to jane.doe@example.com, card 4111 1111 1111 1111"

    async def caller(request: CallRequest) -> tuple[str | None, CallRecord]:
        return answer, _record(request)

    messages = [{"role": "user", "content": "I am jane.doe@example.com"}]
    request = CallRequest(ticket_id="T-9", rung=0, group="cheap", messages=messages)
    asyncio.run(tracing.wrap_caller(caller)(request))
    tracing.score_gate("T-9", "auto_reply", [], False)
    tracing.flush()
    [gen] = _generations(fake)
    sent = json.dumps(fake.spans) + json.dumps(fake.scores)
    for value in ("jane.doe@example.com", "415-555-0134", "4111 1111 1111 1111"):
        assert value not in sent
    assert "[EMAIL]" in gen["attributes"]["langfuse.observation.output"]
    assert "[EMAIL]" in gen["attributes"]["langfuse.observation.input"]
    token = base64.b64encode(f"{fake.public_key}:{fake.secret_key}".encode()).decode()
    for text in (sent, caplog.text, repr(tracing), repr(tracing.settings)):
        assert fake.secret_key not in text and token not in text


def test_a_second_configuration_with_the_same_public_key_is_refused_not_misrouted(fake, caplog):
    first = _settings(fake)
    Tracing(first, run_id=RUN, dag_id=DAG, day=DAY).install()
    other = first.model_copy(update={"host": "http://127.0.0.1:9"})
    tracing = Tracing(other, run_id=RUN, dag_id=DAG, day=DAY)
    tracing.install()
    assert tracing.enabled is False and "already sends to" in caplog.text


# ================================================================================ public API only

OWN_MODULES = (tracing_module, langfuse_client, langfuse_scores, prompt_source)
FORBIDDEN_NAMES = {
    "GLOBAL_LOGGING_WORKER",
    "litellm_parent_otel_span",
    "_tracer_provider",
    "_tracer_provider_cache",
    "_in_memory_loggers",
    "LangfuseResourceManager",
    "_instances",
    "safe_deep_copy",
    "x-langfuse-ingestion-version",
}


@pytest.mark.parametrize("module", OWN_MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_only_public_api_of_litellm_and_langfuse(module):
    """No private attribute or module of litellm/langfuse (`._x`, `langfuse._client`), no litellm at
    all, none of the internals the old implementation reached for."""
    source = Path(module.__file__).read_text()
    tree = ast.parse(source)
    problems = [name for name in FORBIDDEN_NAMES if name in source]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            for name in filter(None, names):
                if name.split(".")[0] == "litellm":
                    problems.append(f"line {node.lineno}: imports litellm")
                if name.split(".")[0] == "langfuse" and any(p.startswith("_") for p in name.split(".")):
                    problems.append(f"line {node.lineno}: private module {name}")
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            problems.append(f"line {node.lineno}: private attribute .{node.attr}")
    assert problems == []


def test_a_day_with_a_managed_prompt_then_with_langfuse_unreachable(fake, tmp_path, caplog):
    """Version 1 from Langfuse is linked on every triage generation; with Langfuse down the day still
    runs on the bundled rules, whose ref (cache namespace, fingerprint) is a different one."""
    fake.set_prompt(DEFAULT_PROMPT_NAME, SYSTEM_PROMPT, labels=("production",))
    managed = PromptSource(_settings(fake)).resolve()
    assert managed.ref == f"{DEFAULT_PROMPT_NAME}@1"
    with Tracing(_settings(fake), run_id=RUN, dag_id=DAG, day=DAY, prompt=managed) as tracing:
        summary, _ = run_traced_day(tracing, tmp_path / "up")
    gens = _generations(fake)
    assert len(gens) == summary.calls > 0
    assert {(g["attributes"]["langfuse.observation.prompt.version"], _meta(g, "prompt")) for g in gens} == {
        (1, managed.ref)
    }

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = LangfuseSettings(
        host=f"http://127.0.0.1:{port}", public_key=f"pk-lf-{uuid.uuid4().hex[:8]}", secret_key="sk"
    )
    caplog.clear()
    fallback = PromptSource(down, max_retries=0).resolve()
    assert fallback.source == "bundled" and fallback.ref != managed.ref and fallback.langfuse_link is None
    with Tracing(down, run_id="manual__2", dag_id=DAG, day=DAY, prompt=fallback) as tracing:
        summary, outcomes = run_traced_day(tracing, tmp_path / "down")
    assert summary.triaged == DAY_TICKETS and {o["status"] for o in outcomes} == {"triaged"}
    assert "using the bundled triage prompt" in caplog.text
