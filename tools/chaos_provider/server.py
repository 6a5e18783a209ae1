"""The chaos LLM provider: a loopback-only HTTP server speaking OpenAI Chat Completions and
Anthropic Messages, injecting latency, errors, hangs, outages and malformed answers; the OpenAI
Files and Batches endpoints are mounted in front (chaos/batch_api.py, `ChaosServer.batch_api`).

Stdlib (served by ``tools/loopback_http.py``) + pydantic only; no litellm / airflow imports.
See ``python -m chaos_provider --help`` (``__main__.py``) for the operator documentation.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import select
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Self, cast
from urllib.parse import parse_qs, urlsplit

from loopback_http import LoopbackHandler, LoopbackServer
from pydantic import ValidationError

from .config import ChaosConfig, ModelBehaviour

__all__ = [
    "ADMIN_PREFIX",
    "ChaosServer",
    "ContentFn",
    "estimate_tokens",
    "malform",
    "messages_text",
    "normalise_messages",
    "success_payload",
]

#: ``content_fn(model, messages) -> content``; ``messages`` are OpenAI-style ``{"role", "content": str}``
#: dicts (Anthropic ``system`` becomes a leading system message, content blocks are joined to text).
ContentFn = Callable[[str, list[dict[str, Any]]], str]

ADMIN_PREFIX = "/_chaos"
OPENAI_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
ANTHROPIC_PATHS = frozenset({"/v1/messages", "/messages"})
MODELS_PATHS = frozenset({"/v1/models", "/models"})
_REDACTED_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie", "x-goog-api-key"}
)
_UNKNOWN_MODEL = "(unknown)"
_POLL_S = 0.05

# (type, code) per status for OpenAI-shaped errors.
_OPENAI_ERRORS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", "permission_denied"),
    404: ("invalid_request_error", "model_not_found"),
    408: ("timeout", "request_timeout"),
    409: ("invalid_request_error", "conflict"),
    413: ("invalid_request_error", "request_too_large"),
    422: ("invalid_request_error", "unprocessable_entity"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", "internal_error"),
    502: ("server_error", "bad_gateway"),
    503: ("server_error", "service_unavailable"),
    504: ("server_error", "timeout"),
}
# error.type per status for Anthropic-shaped errors.
_ANTHROPIC_ERRORS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    # 503 is not an Anthropic status; "api_error" keeps litellm's mapping on the status code
    # (ServiceUnavailableError).  "overloaded_error" (529) is mapped to InternalServerError by litellm.
    504: "timeout_error",
    529: "overloaded_error",
}


def estimate_tokens(text: str) -> int:
    """~len(text)/4, rounded up (0 for empty text)."""
    return (len(text) + 3) // 4


def _content_to_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict) and isinstance(block.get("text"), str):
                parts.append(block["text"])
            elif isinstance(block, str):
                parts.append(block)
            else:
                parts.append(json.dumps(block, default=str))
        return "\n".join(parts)
    return json.dumps(content, default=str)


def normalise_messages(api: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """OpenAI-style ``[{"role", "content": str}]`` from either API's request body."""
    out: list[dict[str, Any]] = []
    if api == "anthropic" and body.get("system"):
        out.append({"role": "system", "content": _content_to_text(body["system"])})
    for message in body.get("messages") or []:
        if isinstance(message, dict):
            out.append(
                {"role": message.get("role", "user"), "content": _content_to_text(message.get("content"))}
            )
    return out


def messages_text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(_content_to_text(m.get("content")) for m in messages)


def malform(kind: str, content: str, fallback_result: dict[str, Any]) -> str:
    """Break a successful answer's ``content`` the way ``kind`` says.

    Field-level kinds mutate ``content`` if it is a JSON object, otherwise ``fallback_result``.
    """
    try:
        parsed = json.loads(content)
    except ValueError:
        parsed = None
    result = dict(parsed) if isinstance(parsed, dict) else dict(fallback_result)
    if kind == "not_json":
        return (
            "Sure! I looked at the ticket. It seems to be a technical issue, priority P2, "
            "and the customer is neutral. Let me know if you need anything else."
        )
    if kind == "truncated_json":
        text = json.dumps(result)
        return text[: max(1, len(text) // 2)]
    if kind == "unknown_enum":
        result["category"] = "banana"
    elif kind == "confidence_out_of_range":
        result["confidence"] = 1.7
    elif kind == "missing_field":
        result.pop("priority", None)
    elif kind == "oversized":
        unit = "We are so sorry for the trouble, this is a very long reply. "
        result["suggested_reply"] = (unit * (50_000 // len(unit) + 1))[:50_000]
    elif kind == "empty":
        return ""
    elif kind == "wrong_types":
        result["confidence"] = "high"
    else:  # pragma: no cover - guarded by the pydantic Literal
        raise ValueError(f"unknown malformed kind {kind!r}")
    return json.dumps(result)


@dataclass(frozen=True)
class _Decision:
    outcome: str  # ok | malformed | error | outage | timeout
    status: int
    delay_s: float
    behaviour: ModelBehaviour


class _Handler(LoopbackHandler):
    server_version = "ChaosLLM/1.0"

    @property
    def chaos(self) -> ChaosServer:
        return cast(ChaosServer, self.owner)

    def _send_json(self, status: int, payload: Any, extra_headers: dict[str, str] | None = None) -> None:
        request_id = f"req_chaos_{uuid.uuid4().hex[:20]}"
        headers = {"Content-Type": "application/json", "x-request-id": request_id, "request-id": request_id}
        self.send(status, json.dumps(payload).encode(), {**headers, **(extra_headers or {})})

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    # -- routing ----------------------------------------------------------------------------
    def respond(self) -> None:
        method = self.command
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        body = self.read_body()
        query = parse_qs(split.query)
        batch_api = self.chaos.batch_api
        if path.startswith(ADMIN_PREFIX):
            self._admin(method, path, query, body)
        elif (reply := batch_api.handle(method, path, dict(self.headers), body, query)) is not None:
            self.send(reply.status, reply.body, {"Content-Type": reply.content_type})
        elif method == "POST" and path in OPENAI_PATHS:
            self._llm("openai", path, body)
        elif method == "POST" and path in ANTHROPIC_PATHS:
            self._llm("anthropic", path, body)
        elif method == "GET" and path in MODELS_PATHS:
            self._send_json(200, self.chaos._models_payload())
        else:
            api = "anthropic" if path in ANTHROPIC_PATHS else "openai"
            self._send_json(*_error_payload(api, 404, f"chaos: no route for {method} {path}"))

    def _admin(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> None:
        chaos = self.chaos
        route = path[len(ADMIN_PREFIX) :] or "/"
        if method == "GET" and route == "/stats":
            self._send_json(200, chaos.stats())
        elif method == "GET" and route == "/requests":
            records = chaos.requests
            limit = (query.get("limit") or [""])[0]
            if limit.isdigit():
                records = records[len(records) - int(limit) :] if int(limit) < len(records) else records
            self._send_json(200, {"requests": records})
        elif method == "GET" and route == "/config":
            self._send_json(200, chaos.config.model_dump(mode="json"))
        elif method == "POST" and route == "/config":
            try:
                config = ChaosConfig.model_validate_json(body or b"{}")
            except ValidationError as exc:
                self._send_json(
                    422, {"error": {"message": str(exc), "type": "invalid_config", "code": "invalid"}}
                )
                return
            chaos.configure(config)
            self._send_json(200, config.model_dump(mode="json"))
        elif method == "POST" and route == "/reset":
            chaos.reset()
            self._send_json(200, {"status": "reset"})
        else:
            self._send_json(
                404, {"error": {"message": f"no admin route {method} {path}", "type": "not_found"}}
            )

    # -- the LLM endpoints ------------------------------------------------------------------
    def _llm(self, api: str, path: str, raw: bytes) -> None:
        chaos = self.chaos
        headers = {k.lower(): v for k, v in self.headers.items() if k.lower() not in _REDACTED_HEADERS}
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        model = body.get("model") if isinstance(body, dict) else None
        record = chaos._admit(api, path, model if isinstance(model, str) else None, body, headers)

        problem = None
        if not isinstance(body, dict):
            problem = "request body is not a JSON object"
        elif not isinstance(model, str) or not model:
            problem = "request body has no 'model'"
        elif not isinstance(body.get("messages"), list):
            problem = "request body has no 'messages' list"
        elif body.get("stream"):
            problem = "the chaos provider does not support stream=true"
        if problem is not None:
            chaos._set_outcome(record, "bad_request")
            chaos._set_status(record, 400)
            self._send_json(*_error_payload(api, 400, f"chaos: {problem}"))
            return

        assert isinstance(body, dict) and isinstance(model, str)
        messages = normalise_messages(api, body)
        retry_after = chaos._rate_limited(model)
        if retry_after is not None:
            chaos._set_outcome(record, "rate_limited")
            status, payload, extra = _error_payload(
                api, 429, f"chaos: rate limit of model {model!r} reached", retry_after
            )
            chaos._set_status(record, status)
            self._send_json(status, payload, extra)
            return
        decision = chaos._decide(model)
        behaviour = decision.behaviour

        if decision.outcome == "timeout":
            chaos._set_outcome(record, "timeout")
            deadline = time.monotonic() + behaviour.timeout_s
            while (remaining := deadline - time.monotonic()) > 0:
                if chaos.stopping.wait(min(_POLL_S, remaining)):
                    chaos._set_detail(record, "server_stopped")
                    self.close_connection = True  # no answer
                    return
                if self._client_gone():
                    stopped = chaos.stopping.is_set()
                    chaos._set_detail(record, "server_stopped" if stopped else "client_gave_up")
                    self.close_connection = True
                    return
            chaos._set_status(record, 504)
            self._send_json(
                *_error_payload(api, 504, f"chaos: injected timeout after {behaviour.timeout_s}s")
            )
            return

        if decision.outcome in ("error", "outage"):
            chaos._set_outcome(record, decision.outcome)
            if decision.outcome == "outage":
                message = f"chaos: model {model!r} is in a simulated outage"
            else:
                message = f"chaos: injected {decision.status} for model {model!r}"
            status, payload, extra = _error_payload(api, decision.status, message, behaviour.retry_after_s)
            chaos._set_status(record, status)
            if self._delay(decision.delay_s):
                self._send_json(status, payload, extra)
            return

        content_fn = chaos.content_fn
        try:
            content = content_fn(model, messages) if content_fn is not None else behaviour.success_content()
            if not isinstance(content, str):
                raise TypeError(f"content_fn returned {type(content).__name__}, expected str")
        except Exception as exc:  # a broken content_fn is reported to the client, not swallowed
            chaos._set_outcome(record, "content_fn_error", detail=repr(exc))
            chaos._set_status(record, 500)
            self._send_json(*_error_payload(api, 500, f"chaos: content_fn failed: {exc!r}"))
            return
        if decision.outcome == "malformed":
            content = malform(behaviour.malformed_kind, content, behaviour.result_dict())
            chaos._set_outcome(record, "malformed", detail=behaviour.malformed_kind)
        else:
            chaos._set_outcome(record, "ok")
        chaos._set_status(record, 200)
        payload = success_payload(api, model, messages, content)
        if self._delay(decision.delay_s):
            self._send_json(200, payload)

    def _delay(self, delay_s: float) -> bool:
        """Sleep ``delay_s`` unless the server stops meanwhile (then drop the connection, return False)."""
        if delay_s > 0 and self.chaos.stopping.wait(delay_s):
            self.close_connection = True
            return False
        return True


def _error_payload(
    api: str, status: int, message: str, retry_after_s: int | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    extra: dict[str, str] = {}
    if status == 429:
        extra["Retry-After"] = str(retry_after_s if retry_after_s is not None else 1)
    if api == "anthropic":
        etype = _ANTHROPIC_ERRORS.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return status, {"type": "error", "error": {"type": etype, "message": message}}, extra
    etype, code = _OPENAI_ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    if code is None:
        try:
            code = HTTPStatus(status).phrase.lower().replace(" ", "_")
        except ValueError:
            code = f"http_{status}"
    return status, {"error": {"message": message, "type": etype, "param": None, "code": code}}, extra


def success_payload(api: str, model: str, messages: list[dict[str, Any]], content: str) -> dict[str, Any]:
    """A successful answer of `api` ("openai" or "anthropic"): the live endpoints' and each line of a
    batch's output file (chaos/batch_api.py) are the same shape, with the same usage estimate."""
    prompt_tokens = estimate_tokens(messages_text(messages))
    completion_tokens = estimate_tokens(content)
    if api == "anthropic":
        return {
            "id": f"msg_chaos_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": content}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": prompt_tokens, "output_tokens": completion_tokens},
        }
    return {
        "id": f"chatcmpl-chaos-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_chaos",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class ChaosServer(LoopbackServer):
    """A fault-injecting OpenAI / Anthropic compatible LLM provider on 127.0.0.1.

    Example::

        with ChaosServer(ChaosConfig(models={"cheap": {"result": {"confidence": 0.3}}})) as server:
            litellm.completion(
                model="openai/cheap", api_base=server.openai_base, api_key="sk-x", messages=...
            )

    * ``configure(config)`` swaps the behaviour while running (re-seeds the RNGs and restarts the
      outage-window clock); ``reset()`` clears stats and the request log, re-seeds and restarts the clock.
    * ``stats()`` / ``requests`` expose what was received; same data over HTTP at ``/_chaos/stats``
      and ``/_chaos/requests``.
    * ``content_fn(model, messages) -> str``, when set, produces the content of successful answers
      (malformed kinds are then applied to its output).
    """

    name = "chaos"
    handler = _Handler

    def __init__(
        self,
        config: ChaosConfig | dict[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        content_fn: ContentFn | None = None,
        verbose: bool = False,
        max_recorded: int = 10_000,
    ) -> None:
        super().__init__(host, port, verbose=verbose)
        self.content_fn: ContentFn | None = content_fn
        self._config = self._coerce(config)
        self._lock = threading.Lock()
        self._rngs: dict[str, random.Random] = {}
        self._windows: dict[str, deque[float]] = {}
        self._seq = itertools.count(1)
        self._records: deque[dict[str, Any]] = deque(maxlen=max_recorded)
        self._model_stats: dict[str, dict[str, Any]] = {}
        self._started_mono = time.monotonic()
        self._epoch = self._started_mono
        from .batch_api import BatchAPI, ChaosLineAnswerer  # batch_api imports this module

        # each line answered like the live endpoint, with the configuration and content_fn of the moment
        self.batch_api = BatchAPI(ChaosLineAnswerer(lambda: self.config, lambda: self.content_fn))

    # -- lifecycle --------------------------------------------------------------------------
    @staticmethod
    def _coerce(config: ChaosConfig | dict[str, Any] | None) -> ChaosConfig:
        if config is None:
            return ChaosConfig()
        if isinstance(config, ChaosConfig):
            return config
        return ChaosConfig.model_validate(config)

    def start(self) -> Self:
        """Bind and serve in a background daemon thread; the outage-window clock starts now."""
        with self._lock:
            self._started_mono = self._epoch = time.monotonic()
        return super().start()

    def serve_forever(self) -> None:
        """Start (if needed) and block until ``stop()`` is called or Ctrl-C."""
        if not self.running:
            self.start()
        try:
            while not self.stopping.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    @property
    def openai_base(self) -> str:
        """``api_base`` for litellm ``openai/<model>``."""
        return self.url + "/v1"

    @property
    def anthropic_base(self) -> str:
        """``api_base`` for litellm ``anthropic/<model>`` (litellm appends ``/v1/messages``)."""
        return self.url

    # -- behaviour --------------------------------------------------------------------------
    @property
    def config(self) -> ChaosConfig:
        return self._config

    def configure(self, config: ChaosConfig | dict[str, Any]) -> None:
        """Replace the behaviour. Re-seeds the RNGs and restarts the outage-window clock; keeps stats."""
        new = self._coerce(config)
        with self._lock:
            self._config = new
            self._rngs.clear()
            self._windows.clear()
            self._epoch = time.monotonic()

    def reset(self) -> None:
        """Clear stats and the request log, re-seed the RNGs and restart the outage-window clock."""
        with self._lock:
            self._records.clear()
            self._model_stats.clear()
            self._rngs.clear()
            self._windows.clear()
            self._epoch = time.monotonic()

    # -- observability ----------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """JSON-ready snapshot: totals and per model ``requests``, ``outcomes`` and ``statuses``
        (status keys are strings, as over HTTP).  Outcomes: ok, malformed, error, outage,
        timeout, bad_request, content_fn_error."""
        with self._lock:
            models = {
                name: {
                    "requests": entry["requests"],
                    "outcomes": dict(entry["outcomes"]),
                    "statuses": dict(entry["statuses"]),
                }
                for name, entry in self._model_stats.items()
            }
            now = time.monotonic()
            uptime, config_age = now - self._started_mono, now - self._epoch
        outcomes: dict[str, int] = {}
        statuses: dict[str, int] = {}
        for entry in models.values():
            for key, count in entry["outcomes"].items():
                outcomes[key] = outcomes.get(key, 0) + count
            for key, count in entry["statuses"].items():
                statuses[key] = statuses.get(key, 0) + count
        return {
            "uptime_s": round(uptime, 3),
            "config_age_s": round(config_age, 3),
            "total_requests": sum(entry["requests"] for entry in models.values()),
            "outcomes": outcomes,
            "statuses": statuses,
            "models": models,
        }

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Copy of the (bounded) log of received LLM requests, oldest first: ``seq``, ``timestamp``,
        ``api``, ``path``, ``model``, ``body`` (parsed JSON), ``headers`` (auth removed),
        ``outcome``, ``detail`` (malformed kind; for hangs ``client_gave_up`` / ``server_stopped``),
        ``status`` (None until answered / if never answered)."""
        with self._lock:
            return [dict(record) for record in self._records]

    # -- internals used by the handler ------------------------------------------------------
    def _models_payload(self) -> dict[str, Any]:
        names = sorted(self._config.models) or ["chaos-default"]
        created = int(time.time())
        return {
            "object": "list",
            "data": [{"id": n, "object": "model", "created": created, "owned_by": "chaos"} for n in names],
        }

    def _admit(
        self, api: str, path: str, model: str | None, body: Any, headers: dict[str, str]
    ) -> dict[str, Any]:
        record = {
            "seq": next(self._seq),
            "timestamp": time.time(),
            "api": api,
            "path": path,
            "model": model,
            "body": body,
            "headers": headers,
            "outcome": "pending",
            "detail": None,
            "status": None,
        }
        with self._lock:
            self._records.append(record)
            entry = self._model_entry(model)
            entry["requests"] += 1
        if self.verbose:
            sys.stderr.write(f"[chaos] {api} {path} model={model}\n")
        return record

    def _model_entry(self, model: str | None) -> dict[str, Any]:
        key = model or _UNKNOWN_MODEL
        entry = self._model_stats.get(key)
        if entry is None:
            entry = self._model_stats[key] = {"requests": 0, "outcomes": {}, "statuses": {}}
        return entry

    def _set_outcome(self, record: dict[str, Any], outcome: str, detail: str | None = None) -> None:
        with self._lock:
            record["outcome"] = outcome
            record["detail"] = detail
            outcomes = self._model_entry(record["model"])["outcomes"]
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if self.verbose:
            sys.stderr.write(f"[chaos]   model={record['model']} outcome={outcome} {detail or ''}\n")

    def _set_detail(self, record: dict[str, Any], detail: str) -> None:
        with self._lock:
            record["detail"] = detail

    def _set_status(self, record: dict[str, Any], status: int) -> None:
        with self._lock:
            record["status"] = status
            statuses = self._model_entry(record["model"])["statuses"]
            statuses[str(status)] = statuses.get(str(status), 0) + 1

    def _rate_limited(self, model: str) -> int | None:
        """None if the request is within the model's rate limit (and counts), else Retry-After seconds."""
        with self._lock:
            behaviour = self._config.behaviour_for(model)
            if behaviour.rate_limit_requests is None:
                return None
            now = time.monotonic()
            window = self._windows.setdefault(model, deque())
            while window and window[0] <= now - behaviour.rate_limit_window_s:
                window.popleft()
            if len(window) < behaviour.rate_limit_requests:
                window.append(now)
                return None
            return max(1, math.ceil(window[0] + behaviour.rate_limit_window_s - now))

    def _decide(self, model: str) -> _Decision:
        """Pick this request's fate. Always 3 RNG draws per request, so sequences are reproducible."""
        with self._lock:
            config = self._config
            behaviour = config.behaviour_for(model)
            rng = self._rngs.get(model)
            if rng is None:
                rng = self._rngs[model] = random.Random(behaviour.seed)
            jitter_draw, fault_draw, malformed_draw = rng.random(), rng.random(), rng.random()
            elapsed = time.monotonic() - self._epoch
        delay_s = (behaviour.latency_ms + jitter_draw * behaviour.jitter_ms) / 1000.0
        if behaviour.in_outage(elapsed):
            return _Decision("outage", behaviour.outage_status, delay_s, behaviour)
        cumulative = 0.0
        for status in sorted(behaviour.error_rates):
            cumulative += behaviour.error_rates[status]
            if fault_draw < cumulative:
                return _Decision("error", status, delay_s, behaviour)
        if fault_draw < cumulative + behaviour.timeout_rate:
            return _Decision("timeout", 504, delay_s, behaviour)
        if malformed_draw < behaviour.malformed_rate:
            return _Decision("malformed", 200, delay_s, behaviour)
        return _Decision("ok", 200, delay_s, behaviour)
