"""What the operators share: storage paths, connections that may be absent, the ledger."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseHook, ObjectStoragePath
from airflow.sdk.exceptions import AirflowNotFoundException

from llm_operators.core.ledger import MemoryLedger, RedisLedger, SideEffectLedger
from llm_operators.core.outputs import DayOutputs
from llm_operators.core.run_day import RunDay, resolve_run_day

log = logging.getLogger(__name__)


def run_day_for(run_date: Any, context: Any, task_log: Any) -> RunDay:
    """The day a run processes (see core/run_day.py), said in the task log."""
    run_day = resolve_run_day(run_date, context.get("logical_date"), datetime.now(UTC))
    task_log.info("%s", run_day.describe())
    return run_day


def storage_path(url: str) -> ObjectStoragePath:
    """A local path or any fsspec URL (`s3://bucket/x`, `file:///data`), as an ObjectStoragePath."""
    url = str(url)
    return ObjectStoragePath(url if "://" in url else f"file://{url}")


def day_outputs(output_root: str, day: str) -> DayOutputs:
    return DayOutputs(storage_path(output_root), day)


def connection_exists(conn_id: str | None) -> bool:
    if not conn_id:
        return False
    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


def ledger_for(redis_conn_id: str | None, scope: str) -> SideEffectLedger:
    """Redis when the connection exists; otherwise a per-process ledger, said clearly in the log."""
    if connection_exists(redis_conn_id):
        from airflow.providers.redis.hooks.redis import RedisHook

        client = RedisHook(redis_conn_id=redis_conn_id).get_conn()
        return RedisLedger(client, scope)
    log.warning(
        "No Redis connection %r: the side-effect ledger lives in this process only, so a retried task "
        "may repeat an external action. Define %r in production.",
        redis_conn_id,
        redis_conn_id or "redis_default",
    )
    return MemoryLedger()


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


def ticket_source_for(kind: str, source_root: str, jira_conn_id: str | None, jira_project: str) -> Any:
    """`(read_day, count)` for the configured source: day files under `source_root`, or Jira Service
    Management issues (JQL) through the Jira provider's hook."""
    from datetime import date

    from llm_operators.core.batches import count_items
    from llm_operators.core.ticket_source import DayRead, read_day

    if kind == "files":
        root = storage_path(source_root)
        return (lambda day, stats, skip: read_day(root, day, stats, skip=skip)), (
            lambda day: count_items(root, day)
        )
    if kind == "jira":
        from airflow.providers.atlassian.jira.hooks.jira import JiraHook

        from llm_operators.core.jira_source import JiraTicketSource

        source = JiraTicketSource(JiraHook(jira_conn_id=jira_conn_id).get_conn(), jira_project)

        def count(day: date) -> int:
            return sum(1 for _ in source.read_day(day, DayRead(source="")))

        return source.read_day, count
    raise ValueError(f"ticket_source={kind!r}: expected 'files' or 'jira'")


def optional_int(value: Any) -> int | None:
    """A templated param rendered as None, "", "None" or a number."""
    return None if value in (None, "", "None") else int(value)


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)
