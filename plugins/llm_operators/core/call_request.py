"""What the ladder asks of a caller: one model call, as a value, and the `Caller` protocol that answers it.

The same `CallRequest` is what a live call (llm/router_client.py), a replayed or batched call
(core/batch_rounds.py), tracing (llm/tracing.py) and every test fake receive, so the shape of a call
is written down once. Its `key` names the request by everything that decides the answer (not by
`metadata`, which only carries trace ids): a provider batch line's `custom_id`, and the answer book's
key, are the same for the same request in every round, process and retry.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol

from llm_operators.core.models import CallRecord


@dataclass(frozen=True)
class CallRequest:
    ticket_id: str
    rung: int
    group: str  # the model group asked
    messages: list[dict[str, str]]
    repair: bool = False
    metadata: dict[str, Any] | None = None  # trace ids, passed on to litellm; not part of the key
    # the structured-output schema; None: the triage answer's (only the judge's call passes its own)
    response_format: dict[str, Any] | None = None

    @functools.cached_property
    def key(self) -> str:
        """Computed when first asked (batch and replay ask; a live call never does), from the content:
        64 characters at most, OpenAI's limit for a batch line's custom_id."""
        payload = json.dumps(
            [self.ticket_id, self.rung, self.group, self.repair, self.messages, self.response_format],
            sort_keys=True,
            separators=(",", ":"),
        )
        return "r" + hashlib.sha256(payload.encode()).hexdigest()[:47]

    def record(self, **fields: Any) -> CallRecord:
        """The record of this request's call; `fields` say how it went."""
        return CallRecord(
            ticket_id=self.ticket_id, rung=self.rung, model_group=self.group, repair=self.repair, **fields
        )


class Caller(Protocol):
    """Asks one model group once (with whatever retries and fallbacks it has) and never raises for a
    provider error: a failed call is a record with status ERROR and no content."""

    async def __call__(self, request: CallRequest) -> tuple[str | None, CallRecord]: ...
