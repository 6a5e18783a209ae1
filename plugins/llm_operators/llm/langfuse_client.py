"""Langfuse settings and the one langfuse SDK client a process uses for them.

The langfuse SDK keeps one set of resources (exporter, tracer provider, prompt cache) per public key
for the whole process, whatever host a later client names. An Airflow task is one process with one
connection, so that is harmless there; in a process that meets two configurations with one public
key (a test session) `langfuse_client` refuses the second instead of silently sending to the first
one's host. Redaction of personal data is the SDK's `mask`, so it covers everything the SDK sends.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from llm_operators.core.pii import redact

if TYPE_CHECKING:
    from langfuse import Langfuse

log = logging.getLogger(__name__)

DEFAULT_HOST = "https://cloud.langfuse.com"
SERVICE_NAME = "ticket-triage-airflow"
# Langfuse's environment rule (lowercase, <= 40 chars, not starting with "langfuse"): the server
# silently maps anything else to "default" (langfuse/langfuse packages/shared/src/server/ingestion/
# types.ts, PublicEnvironmentName), so a typo would hide the traces in another environment.
_ENV_RE = re.compile(r"^(?!langfuse)[a-z0-9_-]{1,40}$")


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = (environ.get(name) or "").strip()
    return value or None


class LangfuseSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    public_key: str
    secret_key: SecretStr
    environment: str | None = None

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"Langfuse host must be an http(s) URL, got {value!r}")
        return value

    @field_validator("public_key")
    @classmethod
    def _public_key(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("public_key is empty")
        return value.strip()

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_RE.match(value):
            raise ValueError(
                "environment must be lowercase letters, digits, '-' or '_', at most 40 characters, "
                f"not starting with 'langfuse' (Langfuse's rule), got {value!r}"
            )
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LangfuseSettings | None:
        """LANGFUSE_PUBLIC_KEY + LANGFUSE_SECRET_KEY (both, else None), LANGFUSE_HOST (or LANGFUSE_BASE_URL,
        default cloud.langfuse.com), LANGFUSE_TRACING_ENVIRONMENT. Empty values count as unset."""
        environ = os.environ if environ is None else environ
        public_key = _env(environ, "LANGFUSE_PUBLIC_KEY")
        secret_key = _env(environ, "LANGFUSE_SECRET_KEY")
        if not public_key or not secret_key:
            if public_key or secret_key:
                missing = "LANGFUSE_SECRET_KEY" if public_key else "LANGFUSE_PUBLIC_KEY"
                log.warning("Langfuse off: %s is not set", missing)
            return None
        return cls(
            host=_env(environ, "LANGFUSE_HOST") or _env(environ, "LANGFUSE_BASE_URL") or DEFAULT_HOST,
            public_key=public_key,
            secret_key=SecretStr(secret_key),
            environment=_env(environ, "LANGFUSE_TRACING_ENVIRONMENT"),
        )


class LangfuseConfigError(RuntimeError):
    """Two Langfuse configurations with one public key in one process (see the module doc)."""


def mask_pii(*, data: Any, **_: Any) -> Any:
    """The SDK's `mask`: personal data out of every input, output and metadata value it sends.
    The prompt is redacted before the call already; this catches what a model echoes back."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, Mapping):
        return {key: mask_pii(data=value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [mask_pii(data=value) for value in data]
    return data


_clients: dict[str, tuple[LangfuseSettings, Langfuse]] = {}
_clients_lock = threading.Lock()


def langfuse_client(settings: LangfuseSettings) -> Langfuse:
    """The process's SDK client for these settings, with its own tracer provider (the global
    OpenTelemetry provider is left alone) and PII masking."""
    with _clients_lock:
        known = _clients.get(settings.public_key)
        if known is not None:
            if known[0] != settings:
                raise LangfuseConfigError(
                    f"a Langfuse client for public key {settings.public_key!r} already sends to "
                    f"{known[0].host} in this process; the langfuse SDK keeps one per public key"
                )
            return known[1]
        from langfuse import Langfuse
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider

        client = Langfuse(
            public_key=settings.public_key,
            secret_key=settings.secret_key.get_secret_value(),
            base_url=settings.host,
            environment=settings.environment,
            tracer_provider=TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME})),
            mask=mask_pii,
        )
        _clients[settings.public_key] = (settings, client)
        return client
