"""`BatchPollTrigger`: waits in the triggerer until every provider batch of a round is finished.

It only reads batch status (`aretrieve_batch`): results are read by the operator when it resumes, so
the event stays small and a triggerer restart loses nothing (the batch ids are in the task's state
file, and in this trigger's kwargs). Past the run's deadline it fires anyway: the operator cancels
what is still running and asks the rest live.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class BatchPollTrigger(BaseTrigger):
    def __init__(
        self,
        *,
        refs: list[dict[str, Any]],
        litellm_conn_id: str,
        poll_interval_s: float,
        deadline_at: float,
        settings_overrides: dict[str, Any] | None = None,
        max_poll_errors: int = 10,
    ) -> None:
        super().__init__()
        self.refs = refs
        self.litellm_conn_id = litellm_conn_id
        self.poll_interval_s = poll_interval_s
        self.deadline_at = deadline_at
        self.settings_overrides = settings_overrides or {}
        self.max_poll_errors = max_poll_errors

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "refs": self.refs,
                "litellm_conn_id": self.litellm_conn_id,
                "poll_interval_s": self.poll_interval_s,
                "deadline_at": self.deadline_at,
                "settings_overrides": self.settings_overrides,
                "max_poll_errors": self.max_poll_errors,
            },
        )

    async def _client(self) -> Any:
        from asgiref.sync import sync_to_async

        from llm_operators.hooks.litellm_batch import LiteLLMBatchHook

        hook = LiteLLMBatchHook(
            self.litellm_conn_id, redis_conn_id=None, settings_overrides=self.settings_overrides
        )
        # reading the connection is synchronous (task-sdk comms): off the triggerer's event loop
        return await sync_to_async(lambda: hook.batch_client)()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from llm_operators.llm.batch_client import BatchRef

        client = await self._client()
        refs = [BatchRef.model_validate(r) for r in self.refs]
        errors = 0
        # The first poll waits an interval too. A trigger that fires within seconds of the deferral
        # races Airflow 3.3's scheduler: when it handles the executor's "success" of the deferring
        # process after the resumed task is already queued, it marks the task failed ("state
        # changed externally"; only a task still SCHEDULED is recognised as resumed). No provider
        # batch finishes that fast; the scheduler reads that event within a loop or two.
        await asyncio.sleep(self.poll_interval_s)
        while True:
            statuses: dict[str, str] = {}
            try:
                for ref in refs:
                    statuses[ref.batch_id] = (await client.poll(ref)).status
                errors = 0
            except Exception as exc:  # a provider hiccup: poll again; many in a row: let the task decide
                errors += 1
                self.log.warning("polling batches failed (%d in a row): %s", errors, exc)
                if errors >= self.max_poll_errors:
                    yield TriggerEvent({"status": "error", "message": str(exc)[:500]})
                    return
            else:
                if all(s in ("completed", "failed", "expired", "cancelled") for s in statuses.values()):
                    yield TriggerEvent({"status": "done", "batches": statuses})
                    return
            if time.time() >= self.deadline_at:
                yield TriggerEvent({"status": "deadline", "batches": statuses})
                return
            await asyncio.sleep(self.poll_interval_s)
