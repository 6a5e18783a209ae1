"""Connections that may be absent, and the side-effect ledger they decide."""

from __future__ import annotations

import logging

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from llm_operators.core.ledger import MemoryLedger, RedisLedger, SideEffectLedger

log = logging.getLogger(__name__)


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
