"""Posting to Slack channels the way Slack allows it: rate limits retried, posts paced, errors explained.

`chat.postMessage` allows about one message per second per channel and answers 429 with
`Retry-After` beyond that; slack_sdk retries 429 only with a `RateLimitErrorRetryHandler`, which the
Slack provider's hook takes as `retry_handlers`. Posts to one channel are spaced by
`min_interval_s` so a day with many pages does not lean on the retries. A bot that is not in the
channel, or a channel name that does not exist, fails with what to do about it (docs/slack.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from typing import Any

from airflow.providers.slack.hooks.slack import SlackHook

from llm_operators.core.actions import PermanentActionError

SLACK_MIN_INTERVAL_S = 1.0  # "chat.postMessage ... one message per second per channel"
RATE_LIMIT_RETRIES = 5

_WHAT_TO_DO = {
    "not_in_channel": "the Slack app is not a member of {channel}: invite it there (`/invite @<app name>`) "
    "or give it the chat:write.public scope",
    "channel_not_found": "Slack has no channel {channel} visible to the app: check the channel name "
    "(or use its id, e.g. C0123456789) and that the app is invited to private channels",
    "is_archived": "{channel} is archived: unarchive it or configure another channel",
}


class SlackChannelError(PermanentActionError):
    """A channel the bot cannot post to: a configuration problem that a retry does not fix."""


class SlackPoster:
    """One Slack connection's poster: the provider's hook (with rate-limit retries), paced per channel."""

    def __init__(
        self,
        slack_conn_id: str,
        *,
        min_interval_s: float = SLACK_MIN_INTERVAL_S,
        rate_limit_retries: int = RATE_LIMIT_RETRIES,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.slack_conn_id = slack_conn_id
        self.min_interval_s = min_interval_s
        self.rate_limit_retries = rate_limit_retries
        self._clock, self._sleep = clock, sleep
        self._last_post: dict[str, float] = {}

    @cached_property
    def hook(self) -> SlackHook:
        from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

        return SlackHook(
            slack_conn_id=self.slack_conn_id,
            retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=self.rate_limit_retries)],
        )

    def _pace(self, channel: str) -> None:
        last = self._last_post.get(channel)
        if last is not None:
            wait = self.min_interval_s - (self._clock() - last)
            if wait > 0:
                self._sleep(wait)

    def post(self, channel: str, text: str) -> dict[str, Any]:
        """Post `text` (already mrkdwn-escaped where it carries ticket text) and return channel and ts."""
        from slack_sdk.errors import SlackApiError

        self._pace(channel)
        try:
            response = self.hook.client.chat_postMessage(channel=channel, text=text)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "")) if exc.response is not None else ""
            if error in _WHAT_TO_DO:
                raise SlackChannelError(
                    f"Slack {error} for channel {channel!r}: {_WHAT_TO_DO[error].format(channel=channel)}"
                ) from exc
            raise
        finally:
            self._last_post[channel] = self._clock()
        return {"channel": response["channel"], "ts": response["ts"]}
