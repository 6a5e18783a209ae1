"""A caller that builds the Router on its first call.

Importing litellm and building the Router and its cache costs about 2 s of every triage task before
its first ticket; a re-run whose tickets are all reused from the checkpoint asks nothing, so it should
not pay that. Nothing here imports litellm.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llm_operators.core.call_request import CallRequest
    from llm_operators.core.models import CallRecord


class LazyRouter:
    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._router: Any = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return self._router is not None

    def get(self) -> Any:
        if self._router is None:
            with self._lock:
                if self._router is None:
                    # blocks the event loop once, like the imports it does; the workers wait anyway
                    self._router = self._build()
        return self._router

    async def call(self, request: CallRequest, **kwargs: Any) -> tuple[str | None, CallRecord]:
        return await self.get().call(request, **kwargs)

    def close(self) -> None:
        if self._router is not None:
            self._router.close()
