"""The Langfuse tracing a task uses, from its connection or the environment."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseHook

from llm_operators.operators.connections import connection_exists

log = logging.getLogger(__name__)


def tracing_for(langfuse_conn_id: str | None, *, run_id: str, dag_id: str, day: str) -> Any:
    """Langfuse from the `langfuse_default` connection (host, login = public key, password = secret
    key), else from LANGFUSE_* env vars; with neither, a `Tracing` that does nothing."""
    from llm_operators.llm.tracing import LangfuseSettings, Tracing

    settings = None
    if connection_exists(langfuse_conn_id):
        conn = BaseHook.get_connection(langfuse_conn_id)
        settings = LangfuseSettings(
            host=conn.host or "https://cloud.langfuse.com",
            public_key=conn.login or "",
            secret_key=conn.password or "",
        )
    else:
        settings = LangfuseSettings.from_env()
    if settings is None:
        log.info(
            "Langfuse tracing off: no connection %r and no LANGFUSE_PUBLIC_KEY/SECRET_KEY", langfuse_conn_id
        )
    return Tracing(settings, run_id=run_id, dag_id=dag_id, day=day)
