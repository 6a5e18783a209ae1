"""Langfuse tracing for the triage: litellm's ``langfuse_otel`` callback for the LLM calls, the langfuse SDK
for scores. Pure Python; the Airflow tasks create one `Tracing` per task and call `flush()` before they end.

Off cleanly: `LangfuseSettings.from_env()` is None without both keys, and `Tracing(None, ...)` then
installs nothing, returns empty metadata, sends nothing and never imports litellm or langfuse.

One trace per ticket, with an id both processes can compute (verified with litellm 1.106.2 and
langfuse 5.0.4 against ``tests/fakes/otlp.py``, see ``tests/llm/test_tracing.py``):

* ``trace_id(ticket_id)`` is ``sha256(json.dumps([dag_id, run_id, ticket_id]))[:16]`` in hex, the formula
  of ``Langfuse.create_trace_id(seed=...)``. dag_id is part of the seed because Airflow run ids
  (``scheduled__<date>``) repeat across DAGs.
* litellm's metadata key ``trace_id`` does NOT choose the trace: ``langfuse_otel`` only copies it (dashes
  removed) into a ``langfuse.trace.id`` span attribute, which Langfuse's OTel ingestion does not read
  (it is not among the attributes in langfuse/langfuse ``packages/shared/src/server/otel/attributes.ts``);
  the OTLP trace id stays the random one of litellm's tracer. ``existing_trace_id`` likewise only becomes
  ``langfuse.trace.existing_id``. Neither is sent.
* What litellm does honour is a parent span in ``metadata["litellm_parent_otel_span"]`` (the key its proxy
  uses): the generation span is started as its child and so inherits its trace id. `metadata_for` puts a
  ``NonRecordingSpan`` there whose context is (``trace_id(ticket)``, ``root_span_id(ticket)``).
* Without that parent each call is a root span with a random trace id: a ticket's two rungs land in two
  traces (seen in the e2e run: 13 trace ids for 12 tickets, when the operator passed its own metadata
  dict without the key). Two guards make the parent not depend on the caller: `wrap_caller` sets
  `metadata_for(ticket_id)` (the ticket the ladder passes) on every call, and our logger resolves the
  parent itself (`Tracing._parent_of_call`): the span in the metadata if it is a valid one, else the
  root span of the ticket named in ``trace_metadata`` (litellm's ``safe_deep_copy`` leaves the string
  ``"placeholder"`` under the key in the copies it makes), and only otherwise litellm's own lookup.
* So that the parent is not left dangling, `flush()` exports that root span itself (name ``ticket <id>``,
  observation type ``span``, no parent, the trace attributes, from the first `metadata_for` to the end of
  the ticket's last LLM call). Task retries export the same ids again; Langfuse upserts them.
* Scores go through the SDK's ``create_score(trace_id=trace_id(ticket))`` (``POST /api/public/scores``,
  ``traceId`` equal to the generations' OTLP trace id), so the gate task scores the trace the triage
  task wrote without sharing any state with it. Score ids are deterministic too: a retried gate
  task updates its scores instead of adding new ones.

Metadata keys sent to litellm and what Langfuse gets (checked on the spans the fake received):

================================  ===============================================================
``session_id`` = run_id           ``session.id`` (the Airflow run is the Langfuse session)
``trace_name``                    ``langfuse.trace.name`` = ``ticket <id>``
``tags``                          ``langfuse.trace.tags`` (JSON string), trace-level: Langfuse has no
                                  per-generation tags, so `generation_metadata` repeats the ticket's
                                  tags and adds ``rung:<n>``
``trace_metadata``                ``langfuse.trace.metadata`` (JSON): ``{dag_id, day, ticket_id}``,
                                  ids only, never ticket text
``generation_name``               the span name (= observation name), ``langfuse.generation.name``
``litellm_parent_otel_span``      the parent: trace id and parent span id (see above)
``triage_generation``             ours, read by our logger: ``langfuse.observation.metadata.rung`` /
                                  ``.model_group`` / ``.repair`` on that call's generation
================================  ===============================================================

litellm itself adds ``llm.model_name``, ``llm.token_count.prompt/.completion/.total``,
``llm.cost.total``, ``langfuse.observation.type`` = ``generation`` and the (already redacted) input
and output. Metadata is per call in litellm, but `Ladder.triage` passes one dict for all calls of a
ticket: per-rung names need `wrap_caller(router.call)`, which merges `metadata_for(ticket_id)` and
`generation_metadata` into each call's metadata.

The litellm callback is our own ``LangfuseOtelLogger`` instance (``callback_name="langfuse_otel"``, so
it behaves as the string callback does) built from the settings, not the ``"langfuse_otel"`` string:
the string makes litellm build one process-wide logger from ``LANGFUSE_*`` environment variables on
first use and keep it, with whatever credentials and host were set then. So no environment variable
is set, the secret stays out of ``os.environ`` and `shutdown()` removes exactly what `install()` added
(from ``litellm.callbacks`` and the lists litellm copies it into on the first call). Our logger also
adds ``langfuse.environment`` when the settings have one, and skips calls started before `install()`
(litellm runs queued callbacks of earlier calls with the callbacks registered when they run).
The legacy ``"langfuse"`` callback refuses langfuse 5 and is never used.

Flush procedure (`flush()`, in this order):

1. let litellm run the success callbacks of the calls made so far: an ``acompletion`` schedules a task
   (``_client_async_logging_helper``) that queues the callback on ``GLOBAL_LOGGING_WORKER``, and a
   span does not exist until that callback ran. This has to happen INSIDE the event loop that made
   the calls: when the loop closes, callbacks still in flight are cancelled and their spans lost
   (seen: 4 sequential ``Router.acompletion`` calls, then leaving ``asyncio.run``, and the third
   call's callback never ran). `wrap_caller` therefore awaits the helper tasks and
   ``GLOBAL_LOGGING_WORKER.flush()`` after every call; without it, ``await tracing.aflush()`` before
   the loop ends. `flush()` (sync, after the loop) repeats the drain on a new loop, which only rescues
   callbacks that were queued but never started;
2. ``force_flush()`` our logger's ``_tracer_provider`` AND every ``_tracer_provider_cache[*].provider``
   (``langfuse_otel`` exports through a per-credentials provider from that cache, each with a 5 s
   ``BatchSpanProcessor``), and the same for any string-registered ``LangfuseOtelLogger`` in
   ``litellm_logging._in_memory_loggers``;
3. export the ticket root spans that are new or changed (synchronous OTLP/HTTP POST);
4. ``Langfuse.flush()`` of the SDK client (span processor and score queue), if a score was made.

SDK client: created on the first score, with ``tracer_provider=TracerProvider()`` so the global
OpenTelemetry provider is left alone. The SDK keeps one resource manager per public key for the
process (a second client with the same key silently reuses the first one's host, or a shut-down one
that drops every score): a registered manager that is shut down or points elsewhere is dropped
before the client is made, and `shutdown()` unregisters ours.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from llm_operators.llm.callbacks import register_callback, unregister_callback

log = logging.getLogger(__name__)

DEFAULT_HOST = "https://cloud.langfuse.com"
OTEL_TRACES_PATH = "/api/public/otel/v1/traces"
GENERATION_KEY = "triage_generation"  # our metadata key, read by _TriageLangfuseLogger
PARENT_KEY = "litellm_parent_otel_span"
BASE_TAG = "ticket_triage"
SERVICE_NAME = "ticket-triage-airflow"
SCOPE_NAME = "llm_operators.llm.tracing"
_ENV_RE = re.compile(r"^(?!langfuse)[a-z0-9_-]{1,40}$")
_DRAIN_TIMEOUT_S = 10.0
_EXPORT_TIMEOUT_S = 10.0

Caller = Callable[..., Awaitable[Any]]


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = (environ.get(name) or "").strip()
    return value or None


class LangfuseSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    public_key: str
    secret_key: SecretStr
    environment: str | None = None

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"Langfuse host must be an http(s) URL, got {value!r}")
        return value

    @field_validator("public_key")
    @classmethod
    def _public_key(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("public_key is empty")
        return value.strip()

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_RE.match(value):
            raise ValueError(
                "environment must be lowercase letters, digits, '-' or '_', at most 40 characters, "
                f"not starting with 'langfuse' (Langfuse's rule), got {value!r}"
            )
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LangfuseSettings | None:
        """LANGFUSE_PUBLIC_KEY + LANGFUSE_SECRET_KEY (both, else None), LANGFUSE_HOST (or LANGFUSE_BASE_URL,
        default cloud.langfuse.com), LANGFUSE_TRACING_ENVIRONMENT. Empty values count as unset."""
        environ = os.environ if environ is None else environ
        public_key = _env(environ, "LANGFUSE_PUBLIC_KEY")
        secret_key = _env(environ, "LANGFUSE_SECRET_KEY")
        if not public_key or not secret_key:
            if public_key or secret_key:
                missing = "LANGFUSE_SECRET_KEY" if public_key else "LANGFUSE_PUBLIC_KEY"
                log.warning("Langfuse tracing off: %s is not set", missing)
            return None
        return cls(
            host=_env(environ, "LANGFUSE_HOST") or _env(environ, "LANGFUSE_BASE_URL") or DEFAULT_HOST,
            public_key=public_key,
            secret_key=SecretStr(secret_key),
            environment=_env(environ, "LANGFUSE_TRACING_ENVIRONMENT"),
        )

    @property
    def traces_endpoint(self) -> str:
        return self.host + OTEL_TRACES_PATH

    def auth_header(self) -> str:
        token = f"{self.public_key}:{self.secret_key.get_secret_value()}".encode()
        return "Basic " + base64.b64encode(token).decode()


def _sha(*parts: str) -> bytes:
    return hashlib.sha256(json.dumps(list(parts)).encode()).digest()


@dataclass
class _Ticket:
    ticket_id: str
    trace_id: str
    span_id: str
    start_ns: int
    end_ns: int
    dirty: bool = True


class Tracing:
    """Langfuse tracing of one Airflow task. Off cleanly (every method a no-op) when settings is None."""

    def __init__(self, settings: LangfuseSettings | None, *, run_id: str, dag_id: str, day: str) -> None:
        self.settings = settings
        self.run_id = run_id
        self.dag_id = dag_id
        self.day = day
        self.enabled = settings is not None
        self._lock = threading.Lock()
        self._tickets: dict[str, _Ticket] = {}  # by trace id
        self._logger: Any = None  # our LangfuseOtelLogger, once installed
        self._exporter: Any = None  # OTLP exporter for the root spans
        self._client: Any = None  # langfuse SDK client, once a score was made

    def __enter__(self) -> Tracing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        host = self.settings.host if self.settings else None
        return (
            f"Tracing(enabled={self.enabled}, host={host!r}, dag_id={self.dag_id!r}, run_id={self.run_id!r})"
        )

    # ------------------------------------------------------------------ ids
    def trace_id(self, ticket_id: str) -> str:
        """The ticket's Langfuse trace id (32 hex), the same in every process of this DAG run."""
        return _sha(self.dag_id, self.run_id, ticket_id)[:16].hex()

    def root_span_id(self, ticket_id: str) -> str:
        """Span (= observation) id of the ticket's root span, parent of its generations (16 hex)."""
        span_id = _sha(self.dag_id, self.run_id, ticket_id, "root")[:8].hex()
        return span_id if int(span_id, 16) else "0000000000000001"

    def _tags(self) -> list[str]:
        return [BASE_TAG, self.day]

    # ------------------------------------------------------------------ litellm
    def install(self) -> None:
        """Adds our ``langfuse_otel`` logger to ``litellm.callbacks`` (once)."""
        if not self.enabled:
            return
        if self._logger is None:
            self._logger = _make_logger(self)
        if register_callback(self._logger):
            log.info("Langfuse tracing to %s (litellm langfuse_otel callback)", self.settings.host)

    def uninstall(self) -> None:
        """Removes our logger from ``litellm.callbacks`` and from every list litellm copied it into."""
        if self._logger is None:
            return
        unregister_callback(self._logger)

    def metadata_for(self, ticket_id: str) -> dict[str, Any]:
        """litellm ``metadata`` for every call of one ticket: one trace per ticket, one session per run.

        Holds an OpenTelemetry span object (the parent): hand it to litellm, do not serialize it."""
        if not self.enabled:
            return {}
        return {
            "session_id": self.run_id,
            "trace_name": f"ticket {ticket_id}",
            "tags": self._tags(),
            "trace_metadata": {"dag_id": self.dag_id, "day": self.day, "ticket_id": ticket_id},
            PARENT_KEY: self._ticket_parent(ticket_id),
        }

    def _ticket_parent(self, ticket_id: str) -> Any:
        """The ticket's root span as a ``NonRecordingSpan`` (registers the ticket for `flush()`)."""
        from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

        trace_id, span_id = self.trace_id(ticket_id), self.root_span_id(ticket_id)
        now = time.time_ns()
        with self._lock:
            if trace_id not in self._tickets:
                self._tickets[trace_id] = _Ticket(ticket_id, trace_id, span_id, now, now)
        return NonRecordingSpan(
            SpanContext(
                trace_id=int(trace_id, 16),
                span_id=int(span_id, 16),
                is_remote=True,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            )
        )

    def _parent_of_call(self, kwargs: Mapping[str, Any]) -> Any:
        """The parent span of one logged litellm call: the valid span in its metadata, else the root
        span of the ticket its ``trace_metadata`` names (when it is a ticket of this DAG run), else None.

        litellm copies request kwargs with ``safe_deep_copy``, which puts the string ``"placeholder"``
        in the COPY's ``litellm_parent_otel_span``; a copy like that must not start a new trace."""
        metadata = (kwargs.get("litellm_params") or {}).get("metadata") or {}
        if not isinstance(metadata, Mapping):
            return None
        parent = metadata.get(PARENT_KEY)
        if _is_valid_span(parent):
            return parent
        ids = metadata.get("trace_metadata")
        if (
            isinstance(ids, Mapping)
            and ids.get("dag_id") == self.dag_id
            and metadata.get("session_id") == self.run_id
            and isinstance(ids.get("ticket_id"), str)
        ):
            return self._ticket_parent(ids["ticket_id"])
        return None

    def generation_metadata(self, rung: int, group: str, *, repair: bool = False) -> dict[str, Any]:
        """Per-call additions: the generation's name and metadata. ``tags`` are trace-level (module doc)."""
        if not self.enabled:
            return {}
        return {
            "generation_name": f"rung {rung} ({group})" + (" repair" if repair else ""),
            "tags": [*self._tags(), f"rung:{rung}"],
            GENERATION_KEY: {"rung": rung, "model_group": group, "repair": repair},
        }

    def wrap_caller(self, caller: Caller) -> Caller:
        """A `Ladder` caller that merges `generation_metadata` into each call's metadata.

        The trace keys (`metadata_for` of the ``ticket_id`` the ladder passes) are set on every call
        whatever metadata the ladder was given: None, a dict without the parent span, or another
        ticket's, a ticket's generations still share its one trace."""
        if not self.enabled:
            return caller

        async def traced(**kwargs: Any) -> Any:
            extra = self.generation_metadata(
                kwargs["rung"], kwargs["group"], repair=bool(kwargs.get("repair"))
            )
            ticket_id = kwargs.get("ticket_id")
            trace = self.metadata_for(ticket_id) if isinstance(ticket_id, str) else {}
            kwargs["metadata"] = {**(kwargs.get("metadata") or {}), **trace, **extra}
            try:
                return await caller(**kwargs)
            finally:
                await _adrain_litellm_logging_worker()  # the span exists before the ladder moves on

        return traced

    def _saw_call(self, kwargs: Mapping[str, Any], end_ns: int) -> None:
        """Called by our logger for every logged LLM call: extends that ticket's root span."""
        parent = self._parent_of_call(kwargs)
        if parent is None:
            return
        trace_id = format(parent.get_span_context().trace_id, "032x")
        with self._lock:
            ticket = self._tickets.get(trace_id)
            if ticket is not None and end_ns > ticket.end_ns:
                ticket.end_ns = end_ns
                ticket.dirty = True

    def _span_attributes(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Extra attributes our logger puts on each generation span."""
        attributes: dict[str, Any] = {}
        if self.settings is not None and self.settings.environment:
            attributes["langfuse.environment"] = self.settings.environment
        metadata = (kwargs.get("litellm_params") or {}).get("metadata") or {}
        generation = metadata.get(GENERATION_KEY) if isinstance(metadata, Mapping) else None
        if isinstance(generation, Mapping):
            for key, value in generation.items():
                if isinstance(value, str | bool | int | float):
                    attributes[f"langfuse.observation.metadata.{key}"] = value
        return attributes

    # ------------------------------------------------------------------ scores
    def score_gate(self, ticket_id: str, route: str, reasons: list[str], page_engineering: bool) -> None:
        """``gate_decision`` (categorical route, comment = reasons) and ``paged`` (boolean) on the trace."""
        if not self.enabled:
            return
        self._score(ticket_id, "gate_decision", route, "CATEGORICAL", "; ".join(reasons))
        self._score(ticket_id, "paged", 1.0 if page_engineering else 0.0, "BOOLEAN", None)

    def score_review_outcome(self, ticket_id: str, outcome: str, comment: str = "") -> None:
        """``review_outcome`` (categorical) from a human review; a later review of the ticket replaces it."""
        if not self.enabled:
            return
        self._score(ticket_id, "review_outcome", outcome, "CATEGORICAL", comment or None)

    def _score(self, ticket_id: str, name: str, value: Any, data_type: str, comment: str | None) -> None:
        trace_id = self.trace_id(ticket_id)
        try:
            self._sdk().create_score(
                name=name,
                value=value,
                data_type=data_type,
                trace_id=trace_id,
                score_id=f"{trace_id}-{name}",
                comment=comment,
                metadata={
                    "dag_id": self.dag_id,
                    "run_id": self.run_id,
                    "day": self.day,
                    "ticket_id": ticket_id,
                },
            )
        except Exception as exc:  # tracing must never fail a task
            log.warning("Langfuse score %s for %s not sent: %s", name, ticket_id, type(exc).__name__)

    def _sdk(self) -> Any:
        if self._client is None:
            from langfuse import Langfuse
            from opentelemetry.sdk.trace import TracerProvider

            assert self.settings is not None
            _drop_stale_sdk_manager(self.settings)
            self._client = Langfuse(
                public_key=self.settings.public_key,
                secret_key=self.settings.secret_key.get_secret_value(),
                base_url=self.settings.host,
                environment=self.settings.environment,
                tracer_provider=TracerProvider(),  # leaves the global OpenTelemetry provider alone
            )
        return self._client

    # ------------------------------------------------------------------ flush
    def flush(self) -> None:
        """Sends everything buffered (procedure in the module doc). Call it before the task ends."""
        if not self.enabled:
            return
        _drain_litellm_logging_worker()
        self._flush_after_drain()

    async def aflush(self) -> None:
        """`flush()` from inside a running event loop."""
        if not self.enabled:
            return
        await _adrain_litellm_logging_worker()
        await asyncio.to_thread(self._flush_after_drain)

    def _flush_after_drain(self) -> None:
        for provider in _litellm_tracer_providers(self._logger):
            try:
                provider.force_flush()
            except Exception as exc:
                log.warning("litellm tracer provider not flushed: %s", type(exc).__name__)
        self._export_roots()
        if self._client is not None:
            try:
                self._client.flush()
            except Exception as exc:
                log.warning("Langfuse SDK not flushed: %s", type(exc).__name__)

    def _export_roots(self) -> None:
        with self._lock:
            pending = [t for t in self._tickets.values() if t.dirty]
            for ticket in pending:
                ticket.dirty = False
        if not pending:
            return
        from opentelemetry.sdk.trace.export import SpanExportResult

        try:
            result = self._root_exporter().export([self._root_span(t) for t in pending])
        except Exception as exc:
            result = None
            log.warning("ticket root spans not exported: %s", type(exc).__name__)
        if result != SpanExportResult.SUCCESS:
            with self._lock:
                for ticket in pending:
                    ticket.dirty = True  # the next flush tries again
            if result is not None:
                log.warning("%d ticket root spans not accepted by %s", len(pending), self.settings.host)

    def _root_exporter(self) -> Any:
        if self._exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            assert self.settings is not None
            self._exporter = OTLPSpanExporter(
                endpoint=self.settings.traces_endpoint,
                headers={"Authorization": self.settings.auth_header(), "x-langfuse-ingestion-version": "4"},
                timeout=_EXPORT_TIMEOUT_S,
            )
        return self._exporter

    def _root_span(self, ticket: _Ticket) -> Any:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags

        attributes: dict[str, Any] = {
            "langfuse.observation.type": "span",
            "langfuse.trace.name": f"ticket {ticket.ticket_id}",
            "session.id": self.run_id,
            "langfuse.trace.tags": json.dumps(self._tags()),
            "langfuse.trace.metadata": json.dumps(
                {"dag_id": self.dag_id, "day": self.day, "ticket_id": ticket.ticket_id}
            ),
        }
        if self.settings is not None and self.settings.environment:
            attributes["langfuse.environment"] = self.settings.environment
        return ReadableSpan(
            name=f"ticket {ticket.ticket_id}",
            context=SpanContext(
                trace_id=int(ticket.trace_id, 16),
                span_id=int(ticket.span_id, 16),
                is_remote=False,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            ),
            parent=None,
            resource=Resource.create({"service.name": SERVICE_NAME}),
            attributes=attributes,
            status=Status(StatusCode.OK),
            start_time=ticket.start_ns,
            end_time=max(ticket.end_ns, ticket.start_ns),
            instrumentation_scope=InstrumentationScope(SCOPE_NAME),
        )

    def shutdown(self) -> None:
        """Flushes, removes the litellm callback and closes exporters and the SDK client. Idempotent."""
        if not self.enabled:
            return
        try:
            self.flush()
        finally:
            self.enabled = False
            self.uninstall()
            for provider in _own_tracer_providers(self._logger):
                try:
                    provider.shutdown()
                except Exception as exc:
                    log.debug("litellm tracer provider shutdown: %s", type(exc).__name__)
            if self._exporter is not None:
                self._exporter.shutdown()
            if self._client is not None:
                self._client.shutdown()
                _forget_sdk_manager(self._client)
            self._logger = self._exporter = self._client = None


# ---------------------------------------------------------------------------------- litellm internals
def _redact_span_text(span: Any) -> None:
    """PII never reaches Langfuse: the prompt was redacted before the call, but a model may still
    echo personal data in its answer, which litellm puts in the span's output attributes."""
    from llm_operators.core.pii import redact

    for key, value in list((getattr(span, "attributes", None) or {}).items()):
        if isinstance(value, str):
            cleaned = redact(value)
            if cleaned != value:
                span.set_attribute(key, cleaned)


def _make_logger(tracing: Tracing) -> Any:
    """A ``LangfuseOtelLogger`` with the settings' endpoint and credentials, that also tells `tracing`
    when a ticket's call ended and adds the per-generation attributes."""
    from litellm.integrations.langfuse.langfuse_otel import LangfuseOtelLogger
    from litellm.integrations.opentelemetry import OpenTelemetryConfig

    settings = tracing.settings
    assert settings is not None

    installed_ns = time.time_ns()

    class _TriageLangfuseLogger(LangfuseOtelLogger):
        def _get_span_context(self, kwargs: Any, default_span: Any = None) -> Any:
            """The ticket's root span as parent whenever the call names a ticket (see
            `Tracing._parent_of_call`); litellm's own lookup (then traceparent header, then the
            ambient OpenTelemetry context) only for calls that do not."""
            parent = tracing._parent_of_call(kwargs)
            if parent is None:
                return super()._get_span_context(kwargs, default_span)
            from opentelemetry import trace

            return trace.set_span_in_context(parent), None

        def set_attributes(self, span: Any, kwargs: Any, response_obj: Any) -> None:
            super().set_attributes(span, kwargs, response_obj)
            for key, value in tracing._span_attributes(kwargs).items():
                span.set_attribute(key, value)
            _redact_span_text(span)

        def _take(self, kwargs: Any, start_time: Any, end_time: Any) -> bool:
            """Only calls started after install(): litellm can still hold callbacks of earlier calls
            (queued on a closed event loop) and runs them with whatever callbacks are registered now."""
            try:
                if self._to_ns(start_time) < installed_ns:
                    return False
                tracing._saw_call(kwargs, self._to_ns(end_time))
            except Exception as exc:
                log.debug("ticket timing not recorded: %s", type(exc).__name__)
            return True

        def log_success_event(self, kwargs, response_obj, start_time, end_time):
            if self._take(kwargs, start_time, end_time):
                super().log_success_event(kwargs, response_obj, start_time, end_time)

        def log_failure_event(self, kwargs, response_obj, start_time, end_time):
            if self._take(kwargs, start_time, end_time):
                super().log_failure_event(kwargs, response_obj, start_time, end_time)

        async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
            if self._take(kwargs, start_time, end_time):
                await super().async_log_success_event(kwargs, response_obj, start_time, end_time)

        async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
            if self._take(kwargs, start_time, end_time):
                await super().async_log_failure_event(kwargs, response_obj, start_time, end_time)

    headers = {"Authorization": settings.auth_header(), "x-langfuse-ingestion-version": "4"}
    config = OpenTelemetryConfig(
        exporter="otlp_http",
        endpoint=settings.host + "/api/public/otel",  # litellm appends /v1/traces
        headers=",".join(f"{k}={v}" for k, v in headers.items()),
        service_name=SERVICE_NAME,
    )
    return _TriageLangfuseLogger(config=config, callback_name="langfuse_otel")


def _is_valid_span(value: Any) -> bool:
    from opentelemetry.trace import Span

    return isinstance(value, Span) and value.get_span_context().is_valid


def _litellm_logging_worker() -> Any:
    import sys

    if "litellm" not in sys.modules:
        return None
    try:
        from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER
    except ImportError:
        return None
    return GLOBAL_LOGGING_WORKER


async def _adrain_litellm_logging_worker() -> None:
    """Waits for the success callbacks of the calls made so far on this loop. Two hops in litellm:
    the call schedules a task (``_client_async_logging_helper``) that puts the callback on
    ``GLOBAL_LOGGING_WORKER``'s queue, whose worker then runs it."""
    worker = _litellm_logging_worker()
    if worker is None:
        return
    current = asyncio.current_task()
    helpers = [
        task
        for task in asyncio.all_tasks()
        if task is not current
        and getattr(task.get_coro(), "__qualname__", "") == "_client_async_logging_helper"
    ]
    try:
        if helpers:
            await asyncio.wait(helpers, timeout=_DRAIN_TIMEOUT_S)
        if getattr(worker, "_queue", None) is not None:
            await asyncio.wait_for(worker.flush(), _DRAIN_TIMEOUT_S)
    except Exception as exc:
        log.warning("litellm logging queue not drained: %s", type(exc).__name__)


def _drain_litellm_logging_worker() -> None:
    """Runs the async success/failure callbacks litellm still has queued (they create the spans)."""
    worker = _litellm_logging_worker()
    if worker is None or getattr(worker, "_queue", None) is None:
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        log.warning("Tracing.flush() inside a running event loop cannot drain litellm's queue: use aflush()")
        return
    asyncio.run(_adrain_litellm_logging_worker())


def _own_tracer_providers(logger: Any) -> list[Any]:
    if logger is None:
        return []
    providers = [getattr(logger, "_tracer_provider", None)]
    cache = getattr(logger, "_tracer_provider_cache", None) or {}
    providers += [getattr(cached, "provider", None) for cached in list(cache.values())]
    return [p for p in providers if p is not None and hasattr(p, "force_flush")]


def _litellm_tracer_providers(logger: Any) -> list[Any]:
    """Our logger's providers plus those of any ``LangfuseOtelLogger`` litellm built from the string."""
    providers = _own_tracer_providers(logger)
    worker = _litellm_logging_worker()  # None when litellm was never imported
    if worker is not None:
        from litellm.integrations.langfuse.langfuse_otel import LangfuseOtelLogger
        from litellm.litellm_core_utils import litellm_logging

        for other in list(getattr(litellm_logging, "_in_memory_loggers", [])):
            if isinstance(other, LangfuseOtelLogger) and other is not logger:
                providers += _own_tracer_providers(other)
    unique: dict[int, Any] = {id(p): p for p in providers}
    return list(unique.values())


# ---------------------------------------------------------------------------------- langfuse SDK internals
def _sdk_managers() -> dict[str, Any] | None:
    try:
        from langfuse._client.resource_manager import LangfuseResourceManager
    except ImportError:
        return None
    instances = getattr(LangfuseResourceManager, "_instances", None)
    return instances if isinstance(instances, dict) else None


def _drop_stale_sdk_manager(settings: LangfuseSettings) -> None:
    """The SDK reuses the manager registered for a public key whatever its host, even a shut-down one."""
    managers = _sdk_managers()
    if managers is None:
        return
    existing = managers.get(settings.public_key)
    if existing is None:
        return
    if getattr(existing, "_shutdown", False) or getattr(existing, "base_url", None) != settings.host:
        managers.pop(settings.public_key, None)


def _forget_sdk_manager(client: Any) -> None:
    managers = _sdk_managers()
    resources = getattr(client, "_resources", None)
    if managers is None or resources is None:
        return
    for key, manager in list(managers.items()):
        if manager is resources:
            managers.pop(key, None)
