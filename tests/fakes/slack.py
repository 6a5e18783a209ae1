"""Fake Slack Web API on loopback, as strict as Slack where the product posts: ``chat.postMessage``.

Driven through the real ``slack_sdk`` / Airflow ``SlackHook``. Each rule cites its source:

* Auth: ``Authorization: Bearer <token>`` (or a ``token`` parameter); missing -> ``not_authed``,
  wrong -> ``invalid_auth``, HTTP 200 with ``ok: false``.
  (https://docs.slack.dev/authentication/tokens, https://docs.slack.dev/reference/methods/auth.test)
* ``chat.postMessage`` (https://docs.slack.dev/reference/methods/chat.postMessage):
  - ``channel_not_found`` for a channel name/id the workspace does not have; ``not_in_channel``
    for a channel the bot is not a member of; ``is_archived`` for an archived one.
  - ``no_text`` without text/blocks; ``msg_too_long`` beyond 40,000 characters of text.
  - rate limit: "generally allows posting one message per second per channel"
    (https://docs.slack.dev/apis/web-api/rate-limits): a second post to a channel within
    ``min_interval_s`` answers HTTP 429 ``ratelimited`` with ``Retry-After`` in whole seconds.
    ``min_interval_s`` is configurable so tests stay fast.
  - text is mrkdwn (https://api.slack.com/reference/surfaces/formatting): ``<!channel>``,
    ``<!here>``, ``<!everyone>``, ``<!subteam^..>``, ``<@U..>`` are mentions, ``<#C..>`` a channel
    link, ``<url|label>`` / ``<url>`` a link; ``&amp;`` ``&lt;`` ``&gt;`` render as ``& < >``. Each
    stored message carries ``rendered`` (the visible text), ``mentions`` and ``links`` as Slack would
    render them, so a test can assert that nothing pinged and nothing hid a link.
* ``auth.test`` (used by the Airflow connection's Test button). Anything else: ``unknown_method``.

Airflow connection (``SlackHook``): ``WebClient(token=conn.password, base_url=extra["base_url"])``;
``FakeSlack.airflow_conn_json()`` returns the ``AIRFLOW_CONN_<ID>`` JSON for the running fake.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import time
from typing import Any
from urllib.parse import parse_qs

from .base import FakeServer, Request, Response, json_response

__all__ = ["FakeSlack", "render_mrkdwn"]

BOT_USER_ID = "U0FAKEBOT"
BOT_ID = "B0FAKEBOT"
TEAM_ID = "T0FAKE"
MAX_TEXT_CHARS = 40_000  # chat.postMessage: msg_too_long
DEFAULT_CHANNELS = {"general": "C0GENERAL", "triage-review": "C0REVIEW", "eng-oncall": "C0ONCALL"}
_MARKUP = re.compile(r"<([^<>]*)>")


def render_mrkdwn(text: str) -> tuple[str, list[str], list[dict[str, str]]]:
    """(visible text, mentions, links) of a mrkdwn text, as a Slack client shows it."""
    mentions: list[str] = []
    links: list[dict[str, str]] = []

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("!"):
            name = target[1:].split("^", 1)[0]
            if name == "date":
                return label or target
            mentions.append(target[1:])
            return "@" + (label or name)
        if target.startswith("@"):
            mentions.append(target[1:])
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        links.append({"url": target, "label": label or target})
        return label or target

    visible = _MARKUP.sub(replace, text)
    visible = visible.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return visible, mentions, links


def _parse_params(request: Request) -> dict[str, Any]:
    """Query string plus a JSON or urlencoded body (what slack_sdk sends)."""
    params: dict[str, Any] = {k: v[-1] for k, v in request.query.items()}
    if not request.body:
        return params
    if request.content_type == "application/json":
        body = request.json()
        if not isinstance(body, dict):
            raise ValueError("JSON body must be an object")
        params.update(body)
    elif request.content_type == "application/x-www-form-urlencoded":
        form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
        params.update({k: v[-1] for k, v in form.items()})
    return params


class FakeSlack(FakeServer):
    name = "fake-slack"

    def __init__(
        self,
        token: str = "xoxb-test",
        channels: dict[str, str] | None = None,
        member_of: set[str] | None = None,
        archived: set[str] | None = None,
        min_interval_s: float = 1.0,
        retry_after_s: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """``channels`` maps names (without ``#``) to ids; default: general, triage-review and
        eng-oncall. ``member_of`` names the channels the bot was invited to (default: all).
        ``retry_after_s`` overrides the ``Retry-After`` of rate-limited answers (default: the whole
        seconds left of the interval, at least 1, as Slack sends)."""
        super().__init__(host, port)
        self.token = token
        self._channels = dict(channels if channels is not None else DEFAULT_CHANNELS)
        self._members = {self._channels.get(c.lstrip("#"), c) for c in (member_of or self._channels)}
        self._archived = {self._channels.get(c.lstrip("#"), c) for c in (archived or ())}
        self.min_interval_s = min_interval_s
        self.retry_after_s = retry_after_s
        self._last_post: dict[str, float] = {}
        self._ts = itertools.count(1)
        self._messages: list[dict[str, Any]] = []

    # ----------------------------------------------------------------- helpers for tests
    @property
    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m) for m in self._messages]

    def airflow_conn_json(self) -> str:
        """JSON for ``AIRFLOW_CONN_<ID>`` pointing a ``SlackHook`` at this fake."""
        return json.dumps(
            {
                "conn_type": "slack",
                "password": self.token,
                "extra": {"base_url": self.url + "/api/"},
            }
        )

    def rate_limited(self) -> int:
        """How many posts Slack refused with 429 so far."""
        return sum(1 for r in self.requests_to("chat.postMessage") if r.status == 429)

    # ----------------------------------------------------------------- protocol
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
        if token != self.token:
            return json_response({"ok": False, "error": "invalid_auth"})
        if method == "chat.postMessage":
            return self._post_message(params)
        if method == "auth.test":
            return json_response(
                {
                    "ok": True,
                    "url": "https://fake-workspace.slack.com/",
                    "team": "Fake Workspace",
                    "user": "triage-bot",
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "bot_id": BOT_ID,
                }
            )
        return json_response({"ok": False, "error": "unknown_method", "req_method": method}, 404)

    def _channel_id(self, channel: str) -> str | None:
        name = channel.lstrip("#")
        if name in self._channels:
            return self._channels[name]
        return name if name in self._channels.values() else None

    def _post_message(self, params: dict[str, Any]) -> Response:
        def error(code: str) -> Response:
            return json_response({"ok": False, "error": code})

        channel = str(params.get("channel") or "")
        channel_id = self._channel_id(channel)
        if channel_id is None:
            return error("channel_not_found")
        if channel_id in self._archived:
            return error("is_archived")
        if channel_id not in self._members:
            return error("not_in_channel")
        text = params.get("text")
        blocks = params.get("blocks")
        if not text and not blocks:
            return error("no_text")
        if text and len(str(text)) > MAX_TEXT_CHARS:
            return error("msg_too_long")
        with self._lock:
            now = time.monotonic()
            last = self._last_post.get(channel_id)
            if last is not None and now - last < self.min_interval_s:
                left = self.min_interval_s - (now - last)
                retry_after = (
                    self.retry_after_s if self.retry_after_s is not None else max(1, math.ceil(left))
                )
                return json_response(
                    {"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(retry_after)}
                )
            self._last_post[channel_id] = now
            ts = f"{1700000000 + next(self._ts)}.000100"
            rendered, mentions, links = render_mrkdwn(str(text or ""))
            self._messages.append(
                {
                    "channel": channel,
                    "channel_id": channel_id,
                    "text": text,
                    "rendered": rendered,
                    "mentions": mentions,
                    "links": links,
                    "thread_ts": params.get("thread_ts") or None,
                    "ts": ts,
                }
            )
        self.notify()
        message = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "text": text or "", "ts": ts}
        return json_response({"ok": True, "channel": channel_id, "ts": ts, "message": message})
