"""The reply webhook: each customer reply as one JSON POST through Airflow's `HttpHook`.

Connection `triage_reply_webhook` (conn type `http`): host = the full URL that receives replies
(e.g. `https://helpdesk.example/hooks/replies`), login/password = basic auth if the receiver wants
it, extra = extra request headers (e.g. `{"Authorization": "Bearer ..."}`) and `timeout` (seconds);
both are `HttpHook`'s own conventions.

The body is `ReplyMessage` (ticket_id, customer, channel, subject, body) and the request carries an
`Idempotency-Key` header (draft-ietf-httpapi-idempotency-key-header-06, §2.1: a Structured Field
String, hence the quotes) derived from the side-effect ledger's key, so a receiver that honours it
drops a repeat our ledger could not see (request arrived, answer lost). Retried here on 5xx, 429
(waiting at least its `Retry-After`, RFC 9110 §10.2.3, in seconds or as an HTTP date) and transport
errors; never on another 4xx, which refuses the message itself (408 and 409 are left to a task
retry).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from llm_operators.core.actions import PermanentActionError
from llm_operators.core.delivery import ReplyMessage

if TYPE_CHECKING:  # imported when a reply is sent, not when the DAG file is parsed
    import tenacity

DEFAULT_CONN_ID = "triage_reply_webhook"


class TransientDeliveryError(Exception):
    """Worth sending again shortly, within this attempt: 5xx, 429, or no answer at all."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class DeliveryDeferred(Exception):
    """Not now, maybe later (a task retry): 408/409, or a Retry-After too long to hold a worker for."""


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds from now: delay-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def structured_string(value: str) -> str:
    """An RFC 8941 sf-string (§3.3.3): quoted, with `\\` and `"` escaped; printable ASCII only."""
    if any(not (0x20 <= ord(c) <= 0x7E) for c in value):
        raise ValueError(f"idempotency key {value!r} is not printable ASCII")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class WebhookReplyChannel:
    """A `ReplyChannel` over `HttpHook` (http provider), POSTing JSON to the connection's URL."""

    name = "webhook"

    def __init__(
        self,
        http_conn_id: str = DEFAULT_CONN_ID,
        *,
        max_attempts: int = 4,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        max_retry_after_s: float = 120.0,
        timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.http_conn_id = http_conn_id
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_retry_after_s = max_retry_after_s
        self.timeout_s = timeout_s
        self.sleep = sleep

    @cached_property
    def http(self) -> Any:
        from airflow.providers.http.hooks.http import HttpHook

        return HttpHook(method="POST", http_conn_id=self.http_conn_id)

    @property
    def target(self) -> str:
        return f"webhook {self.http.url_from_endpoint(None)}"

    def deliver(self, message: ReplyMessage) -> dict[str, Any]:
        import tenacity

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientDeliveryError),
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=self._wait,
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(self._post_once, message)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """Exponential backoff, but never sooner than the receiver's Retry-After."""
        backoff = min(self.max_backoff_s, self.backoff_s * 2 ** (state.attempt_number - 1))
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after_s", None) or 0.0
        return max(backoff, retry_after)

    def _post_once(self, message: ReplyMessage) -> dict[str, Any]:
        import requests

        payload = message.model_dump(mode="json", exclude={"idempotency_key"})
        try:
            response = self.http.run(
                endpoint=None,
                json=payload,
                headers={
                    "Idempotency-Key": structured_string(message.idempotency_key),
                    "Accept": "application/json",
                },
                extra_options={
                    "check_response": False,  # the status decides below: retry, refuse or done
                    "allow_redirects": False,  # a redirected POST may become a GET that sends nothing
                    "timeout": self.timeout_s,
                },
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientDeliveryError(f"{type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return {"sent_at": datetime.now(UTC).isoformat(), "status_code": status, "channel": self.name}
        detail = f"HTTP {status} from the reply webhook: {response.text[:300]}"
        if status == 429 or status >= 500:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            if retry_after is not None and retry_after > self.max_retry_after_s:
                # too long to hold a worker: give up this attempt, a task retry comes back later
                raise DeliveryDeferred(f"{detail} (Retry-After {retry_after:.0f}s)")
            raise TransientDeliveryError(detail, retry_after)
        if status in (408, 409):  # request timeout / same key still being processed (draft §2.7)
            raise DeliveryDeferred(detail)
        if 300 <= status < 400:
            raise PermanentActionError(
                f"{detail}: redirected to {response.headers.get('Location')!r}; set connection "
                f"{self.http_conn_id!r} to the final URL"
            )
        raise PermanentActionError(detail)
