"""A strict loopback receiver of customer replies, as a helpdesk's reply webhook would be.

It enforces what a careful receiver of `POST` replies enforces, each rule citing where it comes from:

- JSON only: a body that is not `application/json` gets 415 (RFC 9110 §15.5.16), one that does not
  parse as a JSON object 400.
- `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header-06): missing -> 400 (§2.7); not a
  Structured Field String, i.e. not double-quoted printable ASCII -> 400 (§2.1, RFC 8941 §3.3.3);
  the same key again with the same payload -> the first answer again, nothing delivered twice
  (§2.6); the same key with a different payload -> 422 (§2.7).
- The fields a reply needs (`ticket_id`, `customer`, `subject`, `body`) -> 422 when missing or empty.
- `Authorization: Bearer <token>` when the fake has a token -> 401 otherwise (RFC 6750 §3.1).
- Injected failures (`fail_next`): 5xx, 429 with `Retry-After` (RFC 6585 §4, RFC 9110 §10.2.3),
  4xx; a request that comes back before the `Retry-After` it was given gets 429 again and is listed
  in `early_retries`, as a rate limiter would. `after_processing=True` stores the reply and then
  answers the failure, as when the answer is lost on the way back.

Only what the product's webhook path uses is implemented: one URL, POST.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from .base import FakeServer, Request, Response, json_response

REQUIRED = ("ticket_id", "customer", "subject", "body")
# RFC 8941 §3.3.3: sf-string = DQUOTE *( unescaped / "\" ( DQUOTE / "\" ) ) DQUOTE, printable ASCII.
_SF_STRING = re.compile(r'^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$')


@dataclass
class _Planned:
    status: int
    retry_after: int | None
    after_processing: bool


class FakeReplyWebhook(FakeServer):
    name = "fake-reply-webhook"

    def __init__(self, *, path: str = "/hooks/replies", token: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.token = token
        self._state = threading.Lock()
        self._plan: list[_Planned] = []
        self._by_key: dict[str, tuple[str, Response]] = {}  # key -> (payload fingerprint, answer)
        self._not_before: dict[str, float] = {}  # key -> monotonic time its Retry-After ends
        self.deliveries: list[dict[str, Any]] = []
        self.replays: list[str] = []
        self.early_retries: list[str] = []

    # --------------------------------------------------------------------------- test controls
    def airflow_conn_json(self) -> str:
        """`AIRFLOW_CONN_TRIAGE_REPLY_WEBHOOK` for `HttpHook`: full URL as host, headers in the extra."""
        extra = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return json.dumps({"conn_type": "http", "host": self.url + self.path, "extra": extra})

    def fail_next(
        self, n: int = 1, status: int = 503, *, retry_after: int | None = None, after_processing: bool = False
    ) -> None:
        with self._state:
            self._plan.extend(_Planned(status, retry_after, after_processing) for _ in range(n))

    # --------------------------------------------------------------------------- protocol
    def handle(self, request: Request) -> Response:
        if request.path != self.path:
            return json_response({"error": "not found"}, 404)
        if request.method != "POST":
            return json_response({"error": "method not allowed"}, 405, {"Allow": "POST"})
        if self.token and request.header("authorization") != f"Bearer {self.token}":
            return json_response({"error": "invalid token"}, 401, {"WWW-Authenticate": "Bearer"})
        if request.content_type != "application/json":
            return json_response({"error": f"unsupported content type {request.content_type!r}"}, 415)
        try:
            payload = request.json()
        except (UnicodeDecodeError, ValueError):
            return json_response({"error": "body is not JSON"}, 400)
        if not isinstance(payload, dict):
            return json_response({"error": "body must be a JSON object"}, 400)
        raw_key = request.header("idempotency-key")
        if raw_key is None:
            return json_response({"error": "Idempotency-Key header is required"}, 400)
        match = _SF_STRING.match(raw_key.strip())
        if not match:
            return json_response({"error": "Idempotency-Key must be a Structured Field String"}, 400)
        key = match.group(1)
        missing = [f for f in REQUIRED if f not in payload or (f != "customer" and not payload[f])]
        if missing:
            return json_response({"error": f"missing or empty fields: {missing}"}, 422)
        fingerprint = json.dumps(payload, sort_keys=True)

        with self._state:
            not_before = self._not_before.get(key)
            if not_before is not None and time.monotonic() < not_before:
                self.early_retries.append(key)
                wait = max(1, round(not_before - time.monotonic()))
                return json_response({"error": "retried before Retry-After"}, 429, {"Retry-After": str(wait)})
            seen = self._by_key.get(key)
            if seen is not None:
                if seen[0] != fingerprint:
                    return json_response({"error": "Idempotency-Key reused with another payload"}, 422)
                self.replays.append(key)
                return seen[1]
            planned = self._plan.pop(0) if self._plan else None
            if planned is not None and not planned.after_processing:
                headers = {}
                if planned.retry_after is not None:
                    headers["Retry-After"] = str(planned.retry_after)
                    self._not_before[key] = time.monotonic() + planned.retry_after
                return json_response({"error": f"injected {planned.status}"}, planned.status, headers)
            answer = json_response(
                {"id": f"reply-{len(self.deliveries) + 1}", "ticket_id": payload["ticket_id"]}, 201
            )
            self._by_key[key] = (fingerprint, answer)
            self.deliveries.append({**payload, "idempotency_key": key})
            self._not_before.pop(key, None)
        self.notify()
        if planned is not None:  # stored, but the answer is "lost"
            return json_response({"error": f"injected {planned.status}"}, planned.status)
        return answer
