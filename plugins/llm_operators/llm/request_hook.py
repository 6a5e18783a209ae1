"""What a TriageRouter does before each provider request the LiteLLM Router sends: count it for the
call it belongs to, and wait for the deployment's rpm slot (llm/limits.py).

litellm's own retry header under-reports attempts, so they are counted here. The hook is a
`CustomLogger` whose `async_pre_call_check` the Router awaits once per request, just before it
leaves (every retry is a new request; the fallbacks are TriageRouter's own calls). The Router runs
the pre-call checks of every `CustomLogger` in `litellm.callbacks`, i.e. of every router in the
process, so each hook acts only inside the calls its own router opened (a context variable says
which call is running). Importing this module imports litellm: call
`environment.set_litellm_environment_defaults()` first.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from llm_operators.llm.limits import DeploymentRateLimiter


@dataclass
class CallAttempts:
    """The requests one `TriageRouter.call` has sent so far (through every group it asked)."""

    hook: RequestHook
    attempts: int = 0


_current_call: contextvars.ContextVar[CallAttempts | None] = contextvars.ContextVar(
    "triage_current_call", default=None
)


class RequestHook(CustomLogger):
    def __init__(self, limiter: DeploymentRateLimiter) -> None:
        super().__init__()
        self.limiter = limiter

    @contextlib.contextmanager
    def call(self) -> Iterator[CallAttempts]:
        """Around one `Router.acompletion`: its requests are counted and their rpm slots held until
        it returns. Tasks litellm spawns inherit the context, so they count into the same object."""
        state = CallAttempts(self)
        token = _current_call.set(state)
        try:
            with self.limiter.tracking():
                yield state
        finally:
            _current_call.reset(token)

    async def async_pre_call_check(self, deployment: dict, parent_otel_span: Any = None) -> dict | None:
        state = _current_call.get()
        if state is None or state.hook is not self:
            return None  # another router's request, or a call not made through TriageRouter.call
        await self.limiter.acquire(deployment.get("litellm_params") or {})
        state.attempts += 1  # admitted: the request leaves now
        return None
