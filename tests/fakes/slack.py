"""Fake Slack Web API on loopback, for driving the real ``slack_sdk`` / Airflow ``SlackHook``.

Methods (``POST`` or ``GET`` on ``/api/<method>``; body as JSON, form-urlencoded, multipart or
query string -- ``slack_sdk``'s ``chat_postMessage`` sends JSON, ``api_call(params=...)`` and
``api_call(data=...)`` send form-urlencoded, adding ``files=`` makes it multipart):

* ``chat.postMessage`` -> ``{"ok": true, "channel": "C...", "ts": "...", "message": {...}}``;
  ``ts`` is unique and increasing. Errors like Slack: ``no_text`` (no text/blocks/attachments),
  ``channel_not_found`` (only when a ``channels`` mapping is given and the channel is not in it),
  ``invalid_blocks`` (blocks not a JSON list).
* ``auth.test`` -> the fake bot identity.
* ``conversations.list`` -> the known channels, paginated with ``limit``/``cursor``.
* anything else -> ``{"ok": false, "error": "unknown_method"}``.

Auth, as Slack: token from ``Authorization: Bearer <token>`` (or a ``token`` parameter);
missing -> ``not_authed``, wrong -> ``invalid_auth`` (HTTP 200 with ``ok: false``, so
``slack_sdk`` raises ``SlackApiError``).

Failure injection: ``fail_next(n, error="ratelimited", status=429, retry_after=1)`` answers the
next ``n`` API calls with ``{"ok": false, "error": error}`` (HTTP ``status``; a ``Retry-After``
header is added for 429). ``slack_sdk`` only retries 429 when given a
``RateLimitErrorRetryHandler``; it then sleeps ``Retry-After`` + up to 1 s of jitter.

Assertions: ``fake.messages`` -> list of dicts with ``channel`` (as sent), ``channel_id``,
``text``, ``blocks`` (decoded list or None), ``thread_ts``, ``ts``, ``body`` (all parameters as
received, decoded).

Real client::

    with FakeSlack(token="xoxb-test") as slack:
        client = slack_sdk.WebClient(token="xoxb-test", base_url=slack.url + "/api/")
        client.chat_postMessage(channel="#triage", text="hi")

Airflow connection (``SlackHook(slack_conn_id="slack_api_default")``). The provider's hook
(``airflow/providers/slack/hooks/slack.py``, ``_get_conn_params``) builds
``WebClient(token=conn.password, base_url=extra["base_url"], timeout=extra["timeout"], ...)``;
host/port/schema/login are ignored, and ``base_url`` must end with ``/api/``::

    AIRFLOW_CONN_SLACK_API_DEFAULT='{"conn_type": "slack", "password": "xoxb-test",
                                     "extra": {"base_url": "http://127.0.0.1:<port>/api/"}}'

``FakeSlack.airflow_conn_json()`` returns exactly that string for the running fake.
"""

from __future__ import annotations

import itertools
import json
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs

from .base import FakeServer, Request, Response, json_response

__all__ = ["FakeSlack"]

BOT_USER_ID = "U0FAKEBOT"
BOT_ID = "B0FAKEBOT"
TEAM_ID = "T0FAKE"


def _parse_params(request: Request) -> dict[str, Any]:
    """Slack accepts parameters in the query string and in a JSON, urlencoded or multipart body."""
    params: dict[str, Any] = {k: v[-1] for k, v in request.query.items()}
    ctype = request.content_type
    if not request.body:
        return params
    if ctype == "application/json":
        body = request.json()
        if not isinstance(body, dict):
            raise ValueError("JSON body must be an object")
        params.update(body)
    elif ctype == "application/x-www-form-urlencoded":
        form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
        params.update({k: v[-1] for k, v in form.items()})
    elif ctype == "multipart/form-data":
        head = f"Content-Type: {request.header('content-type')}\r\n\r\n".encode()
        message = BytesParser(policy=policy.HTTP).parsebytes(head + request.body)
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                payload = part.get_payload(decode=True) or b""
                params[name] = payload.decode("utf-8", errors="replace")
    return params


class FakeSlack(FakeServer):
    name = "fake-slack"

    def __init__(
        self,
        token: str | list[str] = "xoxb-test",
        channels: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """``channels`` maps channel names (without ``#``) to ids. When ``None`` (default) any
        channel is accepted and unknown names get fresh ids; when given, other channels answer
        ``channel_not_found``."""
        super().__init__(host, port)
        self.tokens = {token} if isinstance(token, str) else set(token)
        self.strict_channels = channels is not None
        self._channels: dict[str, str] = dict(channels or {"general": "C123"})
        self._channel_ids = itertools.count(1)
        self._ts = itertools.count(1)
        self._messages: list[dict[str, Any]] = []

    # ----------------------------------------------------------------- helpers for tests
    @property
    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m) for m in self._messages]

    @property
    def channels(self) -> dict[str, str]:
        with self._lock:
            return dict(self._channels)

    def airflow_conn_json(self, token: str | None = None) -> str:
        """JSON for ``AIRFLOW_CONN_<ID>`` pointing a ``SlackHook`` at this fake."""
        return json.dumps(
            {
                "conn_type": "slack",
                "password": token or sorted(self.tokens)[0],
                "extra": {"base_url": self.url + "/api/"},
            }
        )

    def fail_next(
        self, n: int = 1, error: str = "ratelimited", status: int = 429, retry_after: int = 1
    ) -> None:
        headers = {"Retry-After": str(retry_after)} if status == 429 else {}
        self.inject_failure(json_response({"ok": False, "error": error}, status, headers), n, "/api/")

    def wait_for_messages(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        if not self.wait_until(lambda: len(self._messages) >= n, timeout):
            raise AssertionError(f"expected {n} Slack messages, got {len(self._messages)}: {self.messages}")
        return self.messages

    # ----------------------------------------------------------------- protocol
    def _resolve_channel(self, channel: str) -> str | None:
        name = channel.lstrip("#")
        with self._lock:
            if name in self._channels:
                return self._channels[name]
            if name in self._channels.values():
                return name
            if self.strict_channels:
                return None
            if name[:1] in "CDG" and name[1:].isalnum() and name.isupper():
                return name  # looks like an id already
            new_id = f"C{next(self._channel_ids):07d}"
            self._channels[name] = new_id
            return new_id

    def handle(self, request: Request) -> Response:
        if not request.path.startswith("/api/"):
            return Response(404, b"Not Found", {"Content-Type": "text/plain"})
        method = request.path[len("/api/") :].strip("/")
        try:
            params = _parse_params(request)
        except ValueError:
            return json_response({"ok": False, "error": "invalid_json"})

        auth = request.header("authorization") or ""
        token = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else params.pop("token", None)
        if not token:
            return json_response({"ok": False, "error": "not_authed"})
        if token not in self.tokens:
            return json_response({"ok": False, "error": "invalid_auth"})

        handler = {
            "chat.postMessage": self._post_message,
            "auth.test": self._auth_test,
            "conversations.list": self._conversations_list,
        }.get(method)
        if handler is None:
            return json_response({"ok": False, "error": "unknown_method", "req_method": method}, 404)
        return handler(params)

    def _auth_test(self, params: dict[str, Any]) -> Response:
        return json_response(
            {
                "ok": True,
                "url": "https://fake-workspace.slack.com/",
                "team": "Fake Workspace",
                "user": "triage-bot",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        )

    def _conversations_list(self, params: dict[str, Any]) -> Response:
        limit = int(params.get("limit") or 100)
        start = int(params.get("cursor") or 0)
        with self._lock:
            items = list(self._channels.items())
        page = items[start : start + limit]
        next_cursor = str(start + limit) if start + limit < len(items) else ""
        channels = [
            {
                "id": cid,
                "name": name,
                "is_channel": True,
                "is_private": False,
                "is_archived": False,
                "is_member": True,
            }
            for name, cid in page
        ]
        return json_response(
            {"ok": True, "channels": channels, "response_metadata": {"next_cursor": next_cursor}}
        )

    def _post_message(self, params: dict[str, Any]) -> Response:
        channel = params.get("channel")
        if not channel:
            return json_response({"ok": False, "error": "channel_not_found"})
        channel_id = self._resolve_channel(str(channel))
        if channel_id is None:
            return json_response({"ok": False, "error": "channel_not_found"})

        blocks = params.get("blocks")
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                return json_response({"ok": False, "error": "invalid_blocks"})
        if blocks is not None and not isinstance(blocks, list):
            return json_response({"ok": False, "error": "invalid_blocks"})
        attachments = params.get("attachments")
        if isinstance(attachments, str):
            attachments = json.loads(attachments)
        text = params.get("text")
        if not text and not blocks and not attachments:
            return json_response({"ok": False, "error": "no_text"})

        thread_ts = params.get("thread_ts") or None
        with self._lock:
            ts = f"{1700000000 + next(self._ts)}.000100"
            message = {
                "type": "message",
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "text": text or "",
                "ts": ts,
                "team": TEAM_ID,
            }
            if blocks is not None:
                message["blocks"] = blocks
            if attachments is not None:
                message["attachments"] = attachments
            if thread_ts:
                message["thread_ts"] = str(thread_ts)
            self._messages.append(
                {
                    "channel": channel,
                    "channel_id": channel_id,
                    "text": text,
                    "blocks": blocks,
                    "attachments": attachments,
                    "thread_ts": str(thread_ts) if thread_ts else None,
                    "ts": ts,
                    "body": params,
                }
            )
        return json_response({"ok": True, "channel": channel_id, "ts": ts, "message": message})
