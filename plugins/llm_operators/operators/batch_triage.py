"""`BatchTriageOperator`: the ladder on provider batch APIs, deferrable, re-attaching on retry.

A round submits one provider batch per model group (core/batch_rounds.py decides what goes in): the
round's plan is saved to `batch_state.json` next to the day's outputs first, then each batch is created
and its ids saved, then the task defers to `BatchPollTrigger`, so no worker slot is held while the
provider works. `resume` reads the results, merges them and submits the next round, or writes the
outcomes when every ticket's ladder is done. A retry, a killed worker or a re-run finds the saved state
and re-attaches to the batches it has; a planned batch the state does not hold as created (the worker
died between the provider's answer and the state write) is looked up at the provider by its metadata
and adopted, so a round is never submitted twice. Cache hits are never sent; small rounds, rounds past
the deadline and requests a batch failed are asked live, through the same Router as live mode.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from airflow.sdk import Context

from llm_operators.core.batch_rounds import (
    BatchRunState,
    BatchSettings,
    LineAnswer,
    PlannedBatch,
    RoundBatch,
    RoundPlan,
    answered_record,
    discard_state,
    finish_live,
    load_state,
    merge_round,
    past_deadline,
    plan_round,
    replay,
    save_state,
)
from llm_operators.core.batches import BatchSpec
from llm_operators.core.call_request import CallRequest
from llm_operators.core.fingerprint import ladder_fingerprint
from llm_operators.core.ladder import LadderPolicy
from llm_operators.core.models import RejectedLine, Ticket, TicketOutcome
from llm_operators.core.outputs import DayOutputs, write_jsonl
from llm_operators.core.prompts import response_format as triage_schema
from llm_operators.core.report import render_days_table, summarise
from llm_operators.core.ticket_source import DayRead, DuplicateLine, check_rejected_share
from llm_operators.hooks.litellm_batch import LiteLLMBatchHook
from llm_operators.operators.observability import prompt_source_for
from llm_operators.operators.triage_common import TriageTaskBase, run_id_of

if TYPE_CHECKING:
    from llm_operators.llm.prompt_source import ResolvedPrompt

STATE_FILE = "batch_state.json"
# The prompt the run's batches were asked with, kept while batches are in flight: a Langfuse label
# moved between two rounds must not change the fingerprint the saved state is keyed on.
PROMPT_FILE = "batch_prompt.json"
_MAX_PASSES = 100  # each pass answers something (batch, cache or live): a bound, never reached
# A batch planned by an earlier try is looked up among those created since its plan was saved, less this
# much for the provider's clock being behind the worker's.
LOOKUP_MARGIN_S = 600.0


@dataclass
class _Run:
    day: date
    spec: BatchSpec | None
    outputs: DayOutputs
    hook: LiteLLMBatchHook
    policy: LadderPolicy
    batch: BatchSettings
    fingerprint: str
    tickets: list[Ticket]
    rejected: list[RejectedLine]
    max_cost_usd: float | None
    run_id: str
    _router: Any = field(default=None, repr=False)
    # one event loop per task attempt: LiteLLM's HTTP clients live on the loop that made them
    _runner: asyncio.Runner = field(default_factory=asyncio.Runner, repr=False)

    def run(self, coro: Any) -> Any:
        return self._runner.run(coro)

    @property
    def state_path(self) -> Any:
        return self.outputs.path(STATE_FILE)

    @property
    def router(self) -> Any:
        """The live `TriageRouter` (cache and live calls), built only when needed."""
        if self._router is None:
            self._router = self.hook.client
        return self._router

    def close(self) -> None:
        if self._router is not None:
            self._router.close()
        self._runner.close()


class BatchTriageOperator(TriageTaskBase):
    """Triage one day (or one mapped batch of it) through provider batch APIs, round by round.

    Arguments as `TriageOperator`'s (the same prompt, reply mode and templates give the same
    fingerprint and cache namespace, so live and batch runs share answers); `batch_settings` (a
    `BatchSettings` dict) overrides the connection's `batch` settings. Returns the same summary
    payload, plus the provider batches.
    """

    ui_color = "#eef7e8"

    def __init__(
        self,
        *,
        batch_settings: dict[str, Any] | None = None,
        litellm_conn_id: str = LiteLLMBatchHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(litellm_conn_id=litellm_conn_id, **kwargs)
        self.batch_settings = batch_settings

    # -- entry points ----------------------------------------------------------------------------
    def execute(self, context: Context) -> dict[str, Any]:
        run = self._open(context)
        state = load_state(run.state_path, run.fingerprint)
        try:
            if state.in_flight:
                self.log.info(
                    "re-attaching to %d batch(es) of round %d submitted by an earlier attempt: %s",
                    len(state.in_flight),
                    state.round,
                    ", ".join(b.ref["batch_id"] for b in state.in_flight),
                )
            self._finish_submitting(run, state)
            if state.in_flight:
                self._defer(run, state)
            return self._advance(run, state, context)
        finally:
            run.close()

    def resume(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        run = self._open(context)
        state = load_state(run.state_path, run.fingerprint)
        event = event or {}
        self.log.info("round %d: trigger says %s", state.round, event.get("status"))
        try:
            if state.submitting:  # a round cut short while being submitted: finish it and wait for it
                self._finish_submitting(run, state)
                if state.in_flight:
                    self._defer(run, state)
            if state.in_flight:
                run.run(self._collect(run, state, cancel=event.get("status") == "deadline"))
                save_state(run.state_path, state)
            return self._advance(run, state, context)
        finally:
            run.close()

    # -- the rounds ------------------------------------------------------------------------------
    def _advance(self, run: _Run, state: BatchRunState, context: Context) -> dict[str, Any]:
        day = run.day.isoformat()
        for _ in range(_MAX_PASSES):
            rep = run.run(replay(run.tickets, run.policy, state.book, day, budget_limit_usd=run.max_cost_usd))
            if not rep.pending:
                return self._finish(run, state, rep.finished, context)
            if self._from_cache(run, state, rep.pending):
                continue
            late = past_deadline(state, run.batch, time.time())
            plan = plan_round(rep.pending, state.book, run.batch, past_deadline=late)
            if plan.live:
                self._go_live(run, state, plan)
                continue
            run.run(self._submit(run, state, plan))
            if state.in_flight:
                self._defer(run, state)
            # every group's batch was refused: those requests are failed now and go live next pass
        raise RuntimeError(f"batch triage of {day} made no progress in {_MAX_PASSES} passes")

    def _from_cache(self, run: _Run, state: BatchRunState, pending: dict[str, CallRequest]) -> int:
        """Answers the cache holds go into the book as cache hits (cost nothing, never sent)."""
        router = run.router
        if router.cache is None:
            return 0
        hits = 0
        for request in pending.values():
            # TriageRouter's own key, so that live and batch runs share their answers
            hit = router.cached_answer(request.group, request.messages, request.response_format)
            if hit is None:
                continue
            hits += 1
            state.book.add(
                request.key,
                hit.content,
                answered_record(request, hit, hit, cache_hit=True, attempts=0),
            )
        if hits:
            self.log.info("%d requests answered from the cache: not sent", hits)
        return hits

    def _go_live(self, run: _Run, state: BatchRunState, plan: RoundPlan) -> None:
        reasons = Counter(why.split(":")[0] for why in plan.why_live.values())
        self.log.info(
            "%d tickets finish live: %s", len(plan.live), ", ".join(f"{n} {r}" for r, n in reasons.items())
        )
        wanted = set(plan.live)
        run.run(
            finish_live(
                [t for t in run.tickets if t.id in wanted],
                run.policy,
                state.book,
                run.day.isoformat(),
                run.router.call,
                budget_limit_usd=run.max_cost_usd,
            )
        )
        state.live_tickets += len(wanted)
        save_state(run.state_path, state)

    async def _submit(self, run: _Run, state: BatchRunState, plan: RoundPlan) -> None:
        state.round += 1
        now = time.time()
        if state.started_at is None:
            state.started_at = now
        for group, requests in plan.batches.items():
            state.pending.update({r.key: r for r in requests})
            state.submitting.append(
                PlannedBatch(round=state.round, group=group, keys=[r.key for r in requests], planned_at=now)
            )
        # the plan is on disk before any batch is created: a batch created but not recorded (the worker
        # died in between) is then one a retry knows to look for
        save_state(run.state_path, state)
        await self._create(run, state, look_up=False)

    def _finish_submitting(self, run: _Run, state: BatchRunState) -> None:
        """Batches an earlier try planned but did not record as created: found at the provider, or created."""
        if not state.submitting:
            return
        self.log.info(
            "round %d: %d batch(es) planned by an earlier try were not recorded as created (%s): looking "
            "for them at the provider before creating any",
            state.round,
            len(state.submitting),
            ", ".join(f"{p.group}: {len(p.keys)} requests" for p in state.submitting),
        )
        run.run(self._create(run, state, look_up=True))

    async def _create(self, run: _Run, state: BatchRunState, *, look_up: bool) -> None:
        """Create (or, with `look_up`, first look for) each planned batch; the state is saved after each."""
        from llm_operators.llm.batch_client import BatchCreateError, BatchLine

        client = run.hook.batch_client
        while state.submitting:
            planned = state.submitting[0]
            requests = [state.pending[key] for key in planned.keys]
            lines = [
                BatchLine(
                    custom_id=r.key, messages=r.messages, response_format=r.response_format or triage_schema()
                )
                for r in requests
            ]
            metadata = self._batch_metadata(run, planned)
            ref = await self._look_up(client, planned, metadata) if look_up else None
            if ref is None:
                try:
                    ref = await client.submit(planned.group, lines, metadata=metadata)
                except BatchCreateError as exc:
                    self.log.warning(
                        "round %d: %s; its %d requests go live", planned.round, exc, len(requests)
                    )
                    for r in requests:
                        state.book.fail(r.key, f"batch not created: {exc}"[:300])
                        state.pending.pop(r.key, None)
                    state.submitting.pop(0)
                    save_state(run.state_path, state)
                    continue
            state.submitting.pop(0)
            state.in_flight.append(
                RoundBatch(
                    round=planned.round,
                    group=planned.group,
                    answered_group=ref.answered_group,
                    deployment=ref.deployment,
                    api_base=ref.api_base,
                    submitted_at=ref.submitted_at,
                    keys=list(planned.keys),
                    ref=ref.model_dump(mode="json"),
                )
            )
            save_state(run.state_path, state)  # before anything else can fail: the batch is paid for
            if not ref.adopted:
                self.log.info(
                    "round %d: batch %s, %d requests for %s on %s%s",
                    planned.round,
                    ref.batch_id,
                    len(requests),
                    planned.group,
                    ref.deployment,
                    f" (refused by: {'; '.join(ref.tried)})" if ref.tried else "",
                )

    async def _look_up(self, client: Any, planned: PlannedBatch, metadata: dict[str, str]) -> Any:
        """The batch an earlier try created for exactly this plan, or None (then it is created)."""
        since = planned.planned_at - LOOKUP_MARGIN_S
        try:
            lookup = await client.find(planned.group, planned.keys, metadata, since=since)
        except Exception as exc:  # a lookup must never fail the task: creating is what was done before
            self.log.warning(
                "round %d: looking up the %s batch failed (%s): creating it; if an earlier try created it, "
                "this round of %s is paid twice",
                planned.round,
                planned.group,
                exc,
                planned.group,
            )
            return None
        for problem in lookup.problems:
            self.log.warning("round %d, %s: %s", planned.round, planned.group, problem)
        for skipped in lookup.skipped:
            self.log.info("round %d: batch %s of an earlier try is not adopted", planned.round, skipped)
        ref = lookup.ref
        if ref is not None:
            self.log.info(
                "round %d: adopted batch %s created by an earlier try (%d requests for %s on %s; "
                "%d batch(es) read on %d page(s))",
                planned.round,
                ref.batch_id,
                len(planned.keys),
                planned.group,
                ref.deployment,
                lookup.seen,
                lookup.pages,
            )
        elif lookup.problems:
            self.log.warning(
                "round %d: the %s batch was not found where it could be looked for; creating it: if an "
                "earlier try created it where it could not be checked, this round of %s is paid twice",
                planned.round,
                planned.group,
                planned.group,
            )
        else:
            self.log.info(
                "round %d: no batch for %s created by an earlier try (%d batch(es) read at %s): creating it",
                planned.round,
                planned.group,
                lookup.seen,
                ", ".join(lookup.listed) or "no endpoint",
            )
        return ref

    def _batch_metadata(self, run: _Run, planned: PlannedBatch) -> dict[str, str]:
        """Who asked for the batch (the client adds the group, the deployment and the requests' digest)."""
        metadata = {
            "dag_run": run.run_id[:512],
            "task": f"{self.dag_id}.{self.task_id}"[:512],
            "day": run.day.isoformat(),
            "round": str(planned.round),
        }
        if run.spec is not None:
            metadata["batch"] = f"{run.spec.index + 1}/{run.spec.of}"
        return metadata

    async def _collect(self, run: _Run, state: BatchRunState, *, cancel: bool) -> None:
        from llm_operators.llm.batch_client import BatchRef
        from llm_operators.llm.cache import CachedAnswer

        client = run.hook.batch_client
        cache = run.router.cache
        for batch in state.in_flight:
            ref = BatchRef.model_validate(batch.ref)
            poll = await client.poll(ref)
            if not poll.terminal and cancel:
                self.log.warning(
                    "batch %s still %s past the deadline: cancelling it", ref.batch_id, poll.status
                )
                await client.cancel(ref)
                for _ in range(30):
                    poll = await client.poll(ref)
                    if poll.terminal:
                        break
                    await asyncio.sleep(1.0)
            results = await client.results(ref, poll, batch.keys) if poll.terminal else {}
            answers = {
                key: LineAnswer(
                    key=key,
                    content=r.content,
                    error=r.error,
                    prompt_tokens=r.prompt_tokens,
                    completion_tokens=r.completion_tokens,
                    cost_usd=client.line_cost(ref, r.prompt_tokens, r.completion_tokens) if r.ok else 0.0,
                )
                for key, r in results.items()
            }
            batch.status, batch.finished_at = poll.status, time.time()
            answered, failed = merge_round(state.book, batch, state.pending, answers)
            self.log.info(
                "batch %s %s: %d answered, %d failed (to be asked again)",
                ref.batch_id,
                poll.status,
                answered,
                failed,
            )
            if cache is not None:
                for key, answer in answers.items():
                    request = state.pending.get(key)
                    if request is None or answer.error is not None or answer.content is None:
                        continue
                    cache_key = run.router.cache_key(request.group, request.messages, request.response_format)
                    if cache_key is None:
                        continue
                    cache.put(
                        cache_key,
                        CachedAnswer(
                            content=answer.content,
                            answered_group=batch.answered_group,
                            deployment=batch.deployment,
                            api_base=batch.api_base,
                            prompt_tokens=answer.prompt_tokens,
                            completion_tokens=answer.completion_tokens,
                            cost_usd=answer.cost_usd,
                        ),
                    )
            for key in batch.keys:
                state.pending.pop(key, None)
            state.done.append(batch)
        state.in_flight = []

    def _defer(self, run: _Run, state: BatchRunState) -> None:
        from llm_operators.triggers.batch import BatchPollTrigger

        self.defer(
            trigger=BatchPollTrigger(
                refs=[b.ref for b in state.in_flight],
                litellm_conn_id=self.litellm_conn_id,
                settings_overrides=self._overrides(),
                poll_interval_s=run.batch.poll_interval_s,
                deadline_at=(state.started_at or time.time()) + run.batch.deadline_s,
            ),
            method_name="resume",
        )

    # -- setup and outputs -----------------------------------------------------------------------
    def _open(self, context: Context) -> _Run:
        window = self._window(context)
        spec, day, outputs = window.spec, window.day, window.outputs
        outputs.ensure_dir()
        choices, catalogue = self._choices()
        prompt = self._prompt(outputs)
        hook = self._hook(LiteLLMBatchHook, catalogue, prompt)
        settings = hook.settings
        batch = BatchSettings.model_validate(
            {**_model_dump(getattr(settings, "batch", None)), **(self.batch_settings or {})}
        )
        hook.batch_settings = batch
        policy = self._policy(settings, choices, catalogue, prompt)
        tickets, rejected = self._read(day, spec)
        return _Run(
            day=day,
            spec=spec,
            outputs=outputs,
            hook=hook,
            policy=policy,
            batch=batch,
            fingerprint=ladder_fingerprint(settings, policy),
            tickets=tickets,
            rejected=rejected,
            max_cost_usd=settings.max_cost_usd,
            run_id=run_id_of(context),
        )

    def _prompt(self, outputs: DayOutputs) -> ResolvedPrompt:
        """The prompt this run's batches are asked with: resolved when no batch is in flight, else
        the one they were asked with (saved next to the batch state)."""
        from llm_operators.llm.prompt_source import ResolvedPrompt

        pinned = outputs.path(PROMPT_FILE)
        if outputs.path(STATE_FILE).exists() and pinned.exists():
            prompt = ResolvedPrompt.model_validate_json(pinned.read_text())
            self.log.info("triage prompt %s, as for the batches already submitted", prompt.ref)
            return prompt
        prompt = prompt_source_for(self.langfuse_conn_id).resolve()
        pinned.write_text(prompt.model_dump_json())
        return prompt

    def _read(self, day: date, spec: BatchSpec | None) -> tuple[list[Ticket], list[RejectedLine]]:
        """The window's tickets, read again on every resume (the state holds answers, not tickets)."""
        source = self._source()
        first = spec.first if spec else 0
        end = first + spec.count if spec else None
        limit = None if spec else self.max_tickets
        tickets: list[Ticket] = []
        rejected: list[RejectedLine] = []
        stats = DayRead(source="")
        for position, item in enumerate(source.read_day(day, stats, first), start=first):
            if end is not None and position >= end:
                break
            if isinstance(item, DuplicateLine):
                self.log.info("skipped %s", item.describe())
            elif isinstance(item, RejectedLine):
                rejected.append(item)
            elif limit is None or len(tickets) < limit:
                tickets.append(item)
        check_rejected_share(stats)
        note = stats.unknown_fields_note()
        if note is not None:
            self.log.info(note)
        return tickets, rejected

    def _finish(
        self, run: _Run, state: BatchRunState, finished: dict[str, TicketOutcome], context: Context
    ) -> dict[str, Any]:
        outcomes = [finished[t.id] for t in run.tickets]
        write_jsonl(run.outputs.outcomes, outcomes)
        write_jsonl(run.outputs.rejected, run.rejected)
        summary = summarise(run.day.isoformat(), outcomes, rejected_lines=len(run.rejected))
        batches = [
            {
                "round": b.round,
                "batch_id": b.ref.get("batch_id"),
                "group": b.group,
                "deployment": b.deployment,
                "fallback_used": b.answered_group != b.group,
                "refused_by": b.ref.get("tried", []),
                "requests": len(b.keys),
                "status": b.status,
                "adopted": b.ref.get("adopted", False),
            }
            for b in state.done
        ]
        self.log.info(
            "batch triage of %s done: %d round(s), %d provider batch(es), %d tickets finished live\n%s",
            run.day,
            state.round,
            len(batches),
            state.live_tickets,
            render_days_table([summary]),
        )
        discard_state(run.state_path)
        discard_state(run.outputs.path(PROMPT_FILE))
        payload = {
            **summary.model_dump(mode="json"),
            "output_dir": str(run.outputs.dir),
            "run_id": run.run_id,
            "offline": False,
            "batch": self.batch,
            "mode": "batch",
            "rounds": state.round,
            "provider_batches": batches,
            "live_tickets": state.live_tickets,
        }
        self._publish(context, payload)
        return payload


def _model_dump(value: Any) -> dict[str, Any]:
    """The connection's batch settings once `LiteLLMSettings` has them (a model or a dict), else {}."""
    if value is None:
        return {}
    return value.model_dump() if hasattr(value, "model_dump") else dict(value)
