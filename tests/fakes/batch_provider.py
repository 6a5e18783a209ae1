"""A loopback OpenAI-compatible provider with the Batch API: `chaos.batch_api.BatchAPI` mounted in front
of a live `/v1/chat/completions` that answers with the same `LineAnswerer`, so live calls (small
rounds, fallbacks) and batch lines get the same answer for the same request."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chaos_provider.batch_api import BatchAPI, BatchBehaviour, ChaosLineAnswerer
from chaos_provider.config import ChaosConfig
from fakes.base import FakeServer, Request, Response, json_response

ContentFn = Callable[[str, list[dict[str, Any]]], str]


class FakeBatchProvider(FakeServer):
    name = "fake-batch-provider"

    def __init__(self, content_fn: ContentFn, behaviour: BatchBehaviour | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.content_fn = content_fn
        self.batch = BatchAPI(ChaosLineAnswerer(ChaosConfig, lambda: self.content_fn), behaviour)

    @property
    def openai_base(self) -> str:
        return f"{self.url}/v1"

    def live_requests(self) -> list[Request]:
        return self.requests_to("/chat/completions", "POST")

    def handle(self, request: Request) -> Response:
        reply = self.batch.handle(request.method, request.path, request.headers, request.body, request.query)
        if reply is not None:
            return Response(reply.status, reply.body, {"Content-Type": reply.content_type})
        if request.method == "POST" and request.path.rstrip("/") in (
            "/v1/chat/completions",
            "/chat/completions",
        ):
            status, payload = self.batch_answer(json.loads(request.body or b"null"))
            return json_response(payload, status)
        return json_response({"error": {"message": f"no route {request.method} {request.path}"}}, 404)

    def batch_answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return ChaosLineAnswerer(ChaosConfig, lambda: self.content_fn)(body)
