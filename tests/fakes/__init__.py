"""Loopback fake servers speaking the real Slack, Jira and Langfuse/OTLP protocols."""

from .base import FakeServer, Request, Response, json_response
from .jira import FakeJira, JQLError, parse_jql
from .otlp import FakeLangfuseOTLP
from .slack import FakeSlack

__all__ = [
    "FakeJira",
    "FakeLangfuseOTLP",
    "FakeServer",
    "FakeSlack",
    "JQLError",
    "Request",
    "Response",
    "json_response",
    "parse_jql",
]
