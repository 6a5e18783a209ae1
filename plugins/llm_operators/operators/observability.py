"""The Langfuse settings, tracing and prompt source a task uses, from its connection or the environment.

Connection `langfuse_default`: host, login = public key, password = secret key; extra (all optional):
`environment`, `prompt_name` (default `ticket-triage-rules`), `prompt_label` (default `production`),
`prompt_cache_ttl_s` (default 60, the SDK's).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from llm_operators.operators.connections import connection_exists

if TYPE_CHECKING:
    from llm_operators.llm.langfuse_client import LangfuseSettings
    from llm_operators.llm.prompt_source import PromptSource, ResolvedPrompt
    from llm_operators.llm.tracing import Tracing

log = logging.getLogger(__name__)


def _extra(langfuse_conn_id: str | None) -> dict[str, Any]:
    if not connection_exists(langfuse_conn_id):
        return {}
    return dict(BaseHook.get_connection(langfuse_conn_id).extra_dejson or {})


def langfuse_settings_for(langfuse_conn_id: str | None, *, quiet: bool = False) -> LangfuseSettings | None:
    """From the connection, else LANGFUSE_* env vars; None with neither (Langfuse off).

    `quiet`: the caller says itself that Langfuse is off (the prompt source does, once)."""
    from llm_operators.llm.langfuse_client import LangfuseSettings

    if connection_exists(langfuse_conn_id):
        conn = BaseHook.get_connection(langfuse_conn_id)
        return LangfuseSettings(
            host=conn.host or "https://cloud.langfuse.com",
            public_key=conn.login or "",
            secret_key=conn.password or "",
            environment=(conn.extra_dejson or {}).get("environment"),
        )
    settings = LangfuseSettings.from_env()
    if settings is None and not quiet:
        log.info("Langfuse off: no connection %r and no LANGFUSE_PUBLIC_KEY/SECRET_KEY", langfuse_conn_id)
    return settings


def tracing_for(
    langfuse_conn_id: str | None,
    *,
    run_id: str,
    dag_id: str,
    day: str,
    prompt: ResolvedPrompt | None = None,
) -> Tracing:
    """With no Langfuse configured, a `Tracing` that does nothing."""
    from llm_operators.llm.tracing import Tracing

    return Tracing(
        langfuse_settings_for(langfuse_conn_id), run_id=run_id, dag_id=dag_id, day=day, prompt=prompt
    )


def prompt_source_for(langfuse_conn_id: str | None) -> PromptSource:
    """The triage prompt's source; bundled when Langfuse is not configured or not reachable.

    Neither litellm nor (without Langfuse) the langfuse SDK is imported, and nothing is asked over
    the network when Langfuse is not configured."""
    from llm_operators.llm.prompt_source import (
        DEFAULT_CACHE_TTL_S,
        DEFAULT_LABEL,
        DEFAULT_PROMPT_NAME,
        PromptSource,
    )

    extra = _extra(langfuse_conn_id)
    return PromptSource(
        langfuse_settings_for(langfuse_conn_id, quiet=True),
        name=str(extra.get("prompt_name") or DEFAULT_PROMPT_NAME),
        label=str(extra.get("prompt_label") or DEFAULT_LABEL),
        cache_ttl_seconds=int(extra.get("prompt_cache_ttl_s", DEFAULT_CACHE_TTL_S)),
    )
