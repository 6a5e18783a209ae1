"""Connections that may be absent, and the side-effect ledger they decide."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from llm_operators.core.ledger import MemoryLedger, RedisLedger, SideEffectLedger
from llm_operators.hooks.errors import ConnectionConfigError
from llm_operators.hooks.redis_settings import redis_settings
from llm_operators.operators.deployment_flags import ALLOW_MEMORY_LEDGER, allow_memory_ledger

log = logging.getLogger(__name__)


def connection_exists(conn_id: str | None) -> bool:
    if not conn_id:
        return False
    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


def ledger_for(
    redis_conn_id: str | None, scope: str, *, real_targets: Sequence[str] = ()
) -> SideEffectLedger:
    """Redis when the connection exists; else the in-process ledger, for local queues only.

    `real_targets` names the external systems the caller is about to act on (e.g. `["jira",
    "slack"]`). Without Redis their at-most-once guarantee would not survive a task retry, so that
    fails the task at once unless the deployment opted in (Variable `triage_allow_memory_ledger`).
    """
    if connection_exists(redis_conn_id):
        assert redis_conn_id is not None
        settings = redis_settings(redis_conn_id)
        log.info("side-effect ledger in Redis %s", settings.describe())
        return RedisLedger(settings.client(), scope)
    name = redis_conn_id or "redis_default"
    if real_targets and not allow_memory_ledger():
        raise ConnectionConfigError(
            f"No Redis connection {name!r} for the side-effect ledger, and this task acts on "
            f"{', '.join(real_targets)}: without Redis a retried task may repeat those actions. Define "
            f"{name!r} (e.g. AIRFLOW_CONN_{name.upper()}='redis://host:6379/1'), or accept the risk with "
            f"the Airflow Variable {ALLOW_MEMORY_LEDGER}=true "
            f"(AIRFLOW_VAR_{ALLOW_MEMORY_LEDGER.upper()}=true)."
        )
    if real_targets:
        log.warning(
            "No Redis connection %r: the side-effect ledger for %s lives in this process only (%s is "
            "set), so a retried task may repeat an external action.",
            name,
            ", ".join(real_targets),
            ALLOW_MEMORY_LEDGER,
        )
    else:
        log.info("No Redis connection %r: in-process ledger (local queues only, no external action)", name)
    return MemoryLedger()
