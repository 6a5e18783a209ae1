"""Fake Langfuse server on loopback: OTLP/HTTP trace receiver plus the public REST bits the SDK uses.

Endpoints:

* ``POST /api/public/otel/v1/traces`` (also plain ``/v1/traces``): OTLP/HTTP with a protobuf
  ``ExportTraceServiceRequest`` body (``application/x-protobuf``) or OTLP/JSON
  (``application/json``, hex trace/span ids as the spec says); ``Content-Encoding: gzip`` or
  ``deflate`` is honoured (the langfuse SDK gzips by default). Answers an empty
  ``ExportTraceServiceResponse`` in the request's encoding.
* ``POST /api/public/scores``: how langfuse 5.x sends scores (``Langfuse.create_score``,
  ``span.score``, ``score_current_trace``...): a JSON **list** of score objects, batched by a
  background thread (``flush()`` drains it). Answers 202 ``{"message": "Accepted"}``, or 207
  ``{"accepted", "rejected", "errors"}`` when an item lacks ``name``/``value``. A single JSON object
  (older SDKs) gets 200 ``{"id": ...}``.
* ``POST /api/public/ingestion``: the legacy JSON batch API (``{"batch": [{id, type, body, ...}]}``)
  -> 207 ``{"successes": [{"id", "status": 201}], "errors": []}``; ``score-create`` events are also
  added to ``.scores``.
* ``GET /api/public/projects`` and ``GET /api/public/health`` minimal answers.

Auth: HTTP Basic ``public_key:secret_key`` on every ``/api/public`` endpoint except health
(401 otherwise).

Assertions: ``.spans`` is a flat list of dicts (``trace_id``/``span_id``/``parent_span_id`` as
hex or None, ``name``, ``kind``, ``attributes`` decoded from AnyValue to str/int/float/bool/
list/dict/bytes, ``resource`` attributes, ``scope``, ``start_time_unix_nano``,
``end_time_unix_nano``, ``status_code``, ``status_message``, ``events``); ``.scores`` the score
dicts as sent; ``.ingestion_events``; ``wait_for_spans(n, timeout)`` / ``wait_for_scores``.

Attribute keys observed from the real clients (see tests/fakes/test_fakes.py):

* langfuse SDK 5.0.4 (``propagate_attributes(session_id=..., trace_name=..., user_id=...)``):
  ``session.id``, ``langfuse.trace.name``, ``user.id``, ``langfuse.observation.type``
  (``span``/``generation``), ``langfuse.observation.model.name``,
  ``langfuse.observation.usage_details`` / ``langfuse.observation.cost_details`` (JSON strings),
  ``langfuse.observation.input``/``output`` (JSON strings).
* litellm 1.106.2 ``langfuse_otel`` callback (``metadata={"session_id", "trace_name",
  "generation_name", "tags"}``): ``session.id``, ``langfuse.trace.name``, span name and
  ``langfuse.generation.name``, ``langfuse.observation.type`` = ``generation``, ``llm.model_name``,
  ``llm.token_count.prompt``/``.completion``/``.total``, ``llm.cost.total``/``llm.response.cost``,
  ``langfuse.trace.tags`` (JSON string). Details in the docstring of tests/fakes/test_fakes.py.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import uuid
import zlib
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from .base import FakeServer, Request, Response, json_response

__all__ = ["FakeLangfuseOTLP", "decode_any_value"]

TRACES_PATHS = ("/api/public/otel/v1/traces", "/v1/traces")


def decode_any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [decode_any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: decode_any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def _attrs(key_values: Any) -> dict[str, Any]:
    return {kv.key: decode_any_value(kv.value) for kv in key_values}


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP/JSON carries trace/span ids as hex; protobuf's JSON mapping expects base64."""
    if isinstance(node, list):
        return [_hex_ids_to_base64(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id") and value:
            out[key] = base64.b64encode(bytes.fromhex(value)).decode()
        else:
            out[key] = _hex_ids_to_base64(value)
    return out


class FakeLangfuseOTLP(FakeServer):
    name = "fake-langfuse"

    def __init__(
        self,
        public_key: str = "pk-lf-test",
        secret_key: str = "sk-lf-test",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.public_key = public_key
        self.secret_key = secret_key
        self._spans: list[dict[str, Any]] = []
        self._scores: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []

    # ----------------------------------------------------------------- helpers for tests
    @property
    def auth_header(self) -> str:
        token = base64.b64encode(f"{self.public_key}:{self.secret_key}".encode()).decode()
        return f"Basic {token}"

    @property
    def traces_endpoint(self) -> str:
        return self.url + TRACES_PATHS[0]

    @property
    def spans(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(s) for s in self._spans]

    @property
    def scores(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(s) for s in self._scores]

    @property
    def ingestion_events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._events]

    def spans_named(self, name: str) -> list[dict[str, Any]]:
        return [s for s in self.spans if s["name"] == name]

    def wait_for_spans(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        if not self.wait_until(lambda: len(self._spans) >= n, timeout):
            names = [s["name"] for s in self.spans]
            raise AssertionError(f"expected {n} spans within {timeout}s, got {len(names)}: {names}")
        return self.spans

    def wait_for_scores(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        if not self.wait_until(lambda: len(self._scores) >= n, timeout):
            raise AssertionError(f"expected {n} scores within {timeout}s, got {self.scores}")
        return self.scores

    def fail_next(self, n: int = 1, status: int = 503, path: str | None = None) -> None:
        self.inject_failure(
            json_response({"message": f"injected failure {status}"}, status), n, path or "/api/public"
        )

    # ----------------------------------------------------------------- protocol
    def _authorized(self, request: Request) -> bool:
        return (request.header("authorization") or "").strip() == self.auth_header

    def handle(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path == "/api/public/health":
            return json_response({"status": "OK", "version": "3.0.0-fake"})
        if path not in TRACES_PATHS and not path.startswith("/api/public/"):
            return json_response({"message": "Not found"}, 404)
        if not self._authorized(request):
            return json_response(
                {"message": "Invalid credentials. Confirm that you've configured the correct host."}, 401
            )
        if path in TRACES_PATHS and request.method == "POST":
            return self._traces(request)
        if path == "/api/public/scores" and request.method == "POST":
            return self._post_scores(request)
        if path == "/api/public/ingestion" and request.method == "POST":
            return self._ingestion(request)
        if path == "/api/public/projects" and request.method == "GET":
            return json_response(
                {"data": [{"id": "fake-project", "name": "Fake project", "metadata": {}, "organization": {}}]}
            )
        return json_response({"message": f"No {request.method} {path} in the fake"}, 404)

    def _decode_body(self, request: Request) -> bytes:
        encoding = (request.header("content-encoding") or "identity").strip().lower()
        if encoding == "gzip":
            return gzip.decompress(request.body)
        if encoding == "deflate":
            return zlib.decompress(request.body)
        if encoding in ("identity", ""):
            return request.body
        raise ValueError(f"unsupported Content-Encoding {encoding!r}")

    def _traces(self, request: Request) -> Response:
        try:
            body = self._decode_body(request)
        except (ValueError, OSError, zlib.error) as exc:
            return Response(400, str(exc).encode(), {"Content-Type": "text/plain"})
        message = ExportTraceServiceRequest()
        as_json = request.content_type == "application/json"
        try:
            if as_json:
                json_format.ParseDict(_hex_ids_to_base64(json.loads(body)), message)
            else:
                message.ParseFromString(body)
        except (ValueError, json_format.ParseError, binascii.Error) as exc:
            return Response(400, f"cannot decode OTLP body: {exc}".encode(), {"Content-Type": "text/plain"})

        new_spans = []
        for resource_spans in message.resource_spans:
            resource = _attrs(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                scope = scope_spans.scope.name
                for span in scope_spans.spans:
                    new_spans.append(
                        {
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_span_id": span.parent_span_id.hex() or None,
                            "name": span.name,
                            "kind": Span.SpanKind.Name(span.kind),
                            "attributes": _attrs(span.attributes),
                            "resource": resource,
                            "scope": scope,
                            "start_time_unix_nano": span.start_time_unix_nano,
                            "end_time_unix_nano": span.end_time_unix_nano,
                            "status_code": Status.StatusCode.Name(span.status.code),
                            "status_message": span.status.message,
                            "events": [
                                {"name": e.name, "attributes": _attrs(e.attributes)} for e in span.events
                            ],
                        }
                    )
        with self._lock:
            self._spans.extend(new_spans)
        self.notify()
        if as_json:
            return json_response({})
        return Response(
            200,
            ExportTraceServiceResponse().SerializeToString(),
            {"Content-Type": "application/x-protobuf"},
        )

    def _post_scores(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return json_response({"message": "Invalid JSON"}, 400)
        if isinstance(body, dict):
            if not body.get("name") or "value" not in body:
                return json_response({"message": "Invalid request data", "error": "name and value"}, 400)
            score = {"id": str(uuid.uuid4()), **body}
            with self._lock:
                self._scores.append(score)
            self.notify()
            return json_response({"id": score["id"]})
        if not isinstance(body, list):
            return json_response({"message": "Invalid request data"}, 400)
        accepted, errors = [], []
        for index, item in enumerate(body):
            if isinstance(item, dict) and item.get("name") and "value" in item:
                accepted.append(item)
            else:
                errors.append({"message": f"score {index}: name and value are required"})
        with self._lock:
            self._scores.extend(accepted)
        self.notify()
        if errors:
            return json_response({"accepted": len(accepted), "rejected": len(errors), "errors": errors}, 207)
        return json_response({"message": "Accepted"}, 202)

    def _ingestion(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return json_response({"message": "Invalid JSON"}, 400)
        batch = body.get("batch") if isinstance(body, dict) else None
        if not isinstance(batch, list):
            return json_response({"message": "Invalid request data: batch must be a list"}, 400)
        successes, errors = [], []
        with self._lock:
            for event in batch:
                if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
                    errors.append(
                        {
                            "id": str(event.get("id", "")) if isinstance(event, dict) else "",
                            "status": 400,
                            "message": "Invalid event",
                        }
                    )
                    continue
                self._events.append(event)
                if event["type"] == "score-create" and isinstance(event.get("body"), dict):
                    self._scores.append(event["body"])
                successes.append({"id": event["id"], "status": 201})
        self.notify()
        return json_response({"successes": successes, "errors": errors}, 207)
