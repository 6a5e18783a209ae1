"""Langfuse traces built from the project's own call records, through the langfuse SDK's public API.

Shape in Langfuse (one Airflow task = one `Tracing`):

* session = the DAG run (``run_id``); one trace per ticket, whose id every task of the run can
  compute: ``Langfuse.create_trace_id(seed=json.dumps([dag_id, run_id, ticket_id]))``. The gate
  task scores the trace the triage task wrote without sharing any state with it.
* a root observation ``ticket <id>`` per ticket, opened by `metadata_for` (the triage run calls it
  when it starts a ticket) or by its first call, closed by `end_ticket` or at `flush()`;
* one generation per LLM call, opened by `wrap_caller` around the call and filled from the
  `CallRecord` the call returns: model group, deployment, usage, cost (0 for a cache hit), latency,
  rung, repair, fallback, cache hit, attempts, error. The ladder marks an answer invalid after the
  call returns, so a generation is closed (with its measured end time) when the ticket's next call
  starts or the ticket ends, and carries that verdict as its level;
* the triage calls' generations link the prompt version they used (`ResolvedPrompt.langfuse_link`);
* scores (``gate_decision``, ``paged``, ``review_outcome``) on the ticket's trace, with ids derived
  from trace and name so a retried task replaces them (llm/langfuse_scores.py says how they are sent).

Nothing here touches litellm: no callback is installed and nothing waits for litellm's logging, so
concurrent tickets are not coupled. Spans leave through the SDK's batch exporter; `flush()` before
the task ends. Personal data is masked by the SDK (`langfuse_client.mask_pii`); metadata holds ids
and numbers only. With settings None every method is a no-op that never imports langfuse.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from llm_operators.core.call_request import Caller, CallRequest
from llm_operators.core.models import CallRecord, CallStatus
from llm_operators.llm.langfuse_client import LangfuseSettings, langfuse_client
from llm_operators.llm.langfuse_scores import Score, ScoreSender
from llm_operators.llm.prompt_source import ResolvedPrompt

__all__ = ["LangfuseSettings", "Tracing"]

log = logging.getLogger(__name__)

BASE_TAG = "ticket_triage"


@dataclass
class _OpenGeneration:
    observation: Any
    record: CallRecord | None
    end_ns: int


@dataclass
class _Ticket:
    root: Any
    last_end_ns: int
    generation: _OpenGeneration | None = None


class Tracing:
    """Langfuse tracing of one Airflow task. Off cleanly (every method a no-op) when settings is None."""

    def __init__(
        self,
        settings: LangfuseSettings | None,
        *,
        run_id: str,
        dag_id: str,
        day: str,
        prompt: ResolvedPrompt | None = None,
    ) -> None:
        self.settings = settings
        self.run_id = run_id
        self.dag_id = dag_id
        self.day = day
        self.prompt = prompt
        self.enabled = settings is not None
        self._lock = threading.Lock()
        self._tickets: dict[str, _Ticket] = {}
        self._client: Any = None
        self._scores: ScoreSender | None = None

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
        from langfuse import Langfuse

        return Langfuse.create_trace_id(seed=json.dumps([self.dag_id, self.run_id, ticket_id]))

    def install(self) -> None:
        """Creates the SDK client early, so a configuration problem shows before the first ticket."""
        self._sdk()

    def _sdk(self) -> Any:
        if self.enabled and self._client is None:
            assert self.settings is not None
            try:
                self._client = langfuse_client(self.settings)
            except Exception as exc:
                log.error("Langfuse tracing off: %s", exc)
                self.enabled = False
            else:
                log.info("Langfuse tracing to %s (session %s)", self.settings.host, self.run_id)
        return self._client

    # ------------------------------------------------------------------ traces
    def _trace_attributes(self, ticket_id: str, prompt: dict[str, Any] | None = None) -> Any:
        from langfuse import propagate_attributes

        return propagate_attributes(
            session_id=self.run_id,
            trace_name=f"ticket {ticket_id}",
            tags=[BASE_TAG, self.day] if self.day else [BASE_TAG],
            metadata={"dag_id": self.dag_id, "day": self.day, "ticket_id": ticket_id},
            prompt=prompt,
        )

    def _ticket(self, ticket_id: str) -> _Ticket | None:
        """The ticket's open root observation, opened now if it is not."""
        with self._lock:
            ticket = self._tickets.get(ticket_id)
        if ticket is not None or self._sdk() is None:
            return ticket
        with self._trace_attributes(ticket_id):
            root = self._client.start_observation(
                trace_context={"trace_id": self.trace_id(ticket_id)},
                name=f"ticket {ticket_id}",
                as_type="span",
                metadata={"dag_id": self.dag_id, "day": self.day, "ticket_id": ticket_id},
            )
        with self._lock:
            return self._tickets.setdefault(ticket_id, _Ticket(root, time.time_ns()))

    def metadata_for(self, ticket_id: str) -> dict[str, Any]:
        """Called when a ticket starts: opens its root observation. The dict (ids only) travels with
        the ticket's calls as litellm ``metadata``, which no longer drives any tracing."""
        if not self.enabled or self._ticket(ticket_id) is None:
            return {}
        return {"trace_id": self.trace_id(ticket_id), "session_id": self.run_id}

    def wrap_caller(self, caller: Caller) -> Caller:
        """A `Ladder` caller whose every call is a generation in the ticket's trace."""
        if not self.enabled:
            return caller

        async def traced(request: CallRequest) -> tuple[str | None, CallRecord]:
            generation = self._start_generation(request)
            try:
                content, record = await caller(request)
            except BaseException as exc:
                self._finish_generation(request, generation, None, None, error=type(exc).__name__)
                raise
            self._finish_generation(request, generation, content, record)
            return content, record

        return traced

    def _start_generation(self, request: CallRequest) -> Any:
        try:
            ticket_id = request.ticket_id
            ticket = self._ticket(ticket_id)
            if ticket is None:
                return None
            self._close_generation(ticket)  # the previous call's verdict is known now
            rung, group, repair = request.rung, request.group, request.repair
            judge = request.response_format is not None  # the judge has its own prompt
            link = None if judge or self.prompt is None else self.prompt.langfuse_link
            with self._trace_attributes(ticket_id, prompt=link):
                return ticket.root.start_observation(
                    name=f"rung {rung} ({group})"
                    + (" judge" if judge else "")
                    + (" repair" if repair else ""),
                    as_type="generation",
                    input=self._input(request.messages, judge),
                    model=group,
                    metadata={"rung": rung, "model_group": group, "repair": repair},
                )
        except Exception as exc:  # tracing never fails a call
            log.warning("Langfuse generation not started: %s", type(exc).__name__)
            return None

    def _input(self, messages: Any, judge: bool) -> Any:
        """The messages, with the (long, identical for every call) system prompt of a triage call
        replaced by its ref: the generation links that prompt version anyway, and masking and
        exporting it on every call was most of tracing's CPU."""
        if judge or self.prompt is None or not isinstance(messages, list):
            return messages
        return [
            {**m, "content": f"[system prompt {self.prompt.ref}]"}
            if isinstance(m, dict) and m.get("role") == "system"
            else m
            for m in messages
        ]

    def _finish_generation(
        self,
        request: CallRequest,
        generation: Any,
        content: str | None,
        record: CallRecord | None,
        error: str | None = None,
    ) -> None:
        if generation is None:
            return
        end_ns = time.time_ns()
        try:
            if record is not None:
                generation.update(output=content, **_generation_fields(record, self.prompt))
            else:
                generation.update(level="ERROR", status_message=error)
        except Exception as exc:
            log.warning("Langfuse generation not updated: %s", type(exc).__name__)
        with self._lock:
            ticket = self._tickets.get(request.ticket_id)
            if ticket is None:  # the ticket was ended meanwhile
                generation.end(end_time=end_ns)
                return
            ticket.generation = _OpenGeneration(generation, record, end_ns)
            ticket.last_end_ns = max(ticket.last_end_ns, end_ns)

    @staticmethod
    def _close_generation(ticket: _Ticket) -> None:
        open_generation, ticket.generation = ticket.generation, None
        if open_generation is None:
            return
        record = open_generation.record
        if record is not None and record.status != CallStatus.OK:
            open_generation.observation.update(
                level="ERROR" if record.status == CallStatus.ERROR else "WARNING",
                status_message=(record.error or record.status.value)[:500],
            )
        open_generation.observation.end(end_time=open_generation.end_ns)

    def end_ticket(self, ticket_id: str) -> None:
        """Closes the ticket's trace (its root ends when its last call ended)."""
        with self._lock:
            ticket = self._tickets.pop(ticket_id, None)
        if ticket is None:
            return
        try:
            self._close_generation(ticket)
            ticket.root.end(end_time=ticket.last_end_ns)
        except Exception as exc:
            log.warning("Langfuse trace of %s not closed: %s", ticket_id, type(exc).__name__)

    # ------------------------------------------------------------------ scores
    def score_gate(self, ticket_id: str, route: str, reasons: list[str], page_engineering: bool) -> None:
        """``gate_decision`` (categorical route, comment = reasons) and ``paged`` (boolean) on the trace."""
        if not self.enabled:
            return
        self._score(ticket_id, "gate_decision", route, "CATEGORICAL", "; ".join(reasons) or None)
        self._score(ticket_id, "paged", 1 if page_engineering else 0, "BOOLEAN", None)

    def score_review_outcome(self, ticket_id: str, outcome: str, comment: str = "") -> None:
        """``review_outcome`` (categorical) from a human review; a later review of the ticket replaces it."""
        if not self.enabled:
            return
        self._score(ticket_id, "review_outcome", outcome, "CATEGORICAL", comment or None)
        # and the evaluation's `triage_correct`, so a reviewer's verdict sits next to the labels' one
        from llm_operators.llm.langfuse_datasets import review_score

        assert self.settings is not None
        extra = review_score(self.trace_id(ticket_id), outcome, environment=self.settings.environment)
        if extra is not None:
            if self._scores is None:
                self._scores = ScoreSender(self.settings)
            self._scores.add(extra)

    def _score(self, ticket_id: str, name: str, value: Any, data_type: str, comment: str | None) -> None:
        assert self.settings is not None
        trace_id = self.trace_id(ticket_id)
        try:
            score = Score(
                id=f"{trace_id}-{name}",
                traceId=trace_id,
                name=name,
                value=value,
                dataType=data_type,
                comment=comment,
                metadata={
                    "dag_id": self.dag_id,
                    "run_id": self.run_id,
                    "day": self.day,
                    "ticket_id": ticket_id,
                },
                environment=self.settings.environment,
            )
            if self._scores is None:
                self._scores = ScoreSender(self.settings)
            self._scores.add(score)
        except Exception as exc:  # tracing must never fail a task
            log.warning("Langfuse score %s for %s not sent: %s", name, ticket_id, exc)

    # ------------------------------------------------------------------ flush
    def flush(self) -> None:
        """Closes the open tickets and sends all spans and scores. Call it before the task ends."""
        if not self.enabled:
            return
        with self._lock:
            open_tickets = list(self._tickets)
        for ticket_id in open_tickets:
            self.end_ticket(ticket_id)
        if self._client is not None:
            try:
                self._client.flush()
            except Exception as exc:
                log.warning("Langfuse spans not flushed: %s", type(exc).__name__)
        if self._scores is not None:
            self._scores.flush()

    async def aflush(self) -> None:
        """`flush()` from inside a running event loop (the export is blocking I/O)."""
        import asyncio

        await asyncio.to_thread(self.flush)

    def shutdown(self) -> None:
        """Flushes and closes this task's tracing. Idempotent. The SDK client stays for the process
        (it is one per public key, see langfuse_client) and is shut down by the SDK at exit."""
        if not self.enabled:
            return
        try:
            self.flush()
        finally:
            self.enabled = False
            if self._scores is not None:
                self._scores.close()


def _generation_fields(record: CallRecord, prompt: ResolvedPrompt | None) -> dict[str, Any]:
    cost = 0.0 if record.cache_hit else record.cost_usd  # a hit costs nothing (the record keeps the savings)
    metadata: dict[str, Any] = {
        "rung": record.rung,
        "model_group": record.model_group,
        "deployment": record.deployment,
        "repair": record.repair,
        "fallback_used": record.fallback_used,
        "cache_hit": record.cache_hit,
        "attempts": record.attempts,
        "latency_ms": round(record.latency_ms, 1),
        "status": record.status.value,
        "purpose": record.purpose,
    }
    if prompt is not None and record.purpose == "triage":
        metadata["prompt"] = prompt.ref
    fields: dict[str, Any] = {
        "model": record.deployment or record.model_group,
        "usage_details": {
            "input": record.prompt_tokens,
            "output": record.completion_tokens,
            "total": record.prompt_tokens + record.completion_tokens,
        },
        "cost_details": {"total": cost},
        "metadata": metadata,
    }
    if record.status == CallStatus.ERROR:
        fields.update(level="ERROR", status_message=(record.error or "error")[:500])
    return fields
