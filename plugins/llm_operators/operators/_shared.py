"""What the operators share: storage paths, connections that may be absent, the ledger."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseHook, ObjectStoragePath
from airflow.sdk.exceptions import AirflowNotFoundException

from llm_operators.core.ledger import MemoryLedger, RedisLedger, SideEffectLedger
from llm_operators.core.outputs import DayOutputs

log = logging.getLogger(__name__)


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


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)
