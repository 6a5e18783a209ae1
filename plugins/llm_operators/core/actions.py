"""Run one external action at most once, through the ledger, with dry-run and failure bookkeeping."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from llm_operators.core.ledger import SideEffectLedger

log = logging.getLogger(__name__)

ActionStatus = Literal["done", "already_done", "dry_run", "failed", "in_progress"]


class PermanentActionError(Exception):
    """The target refused the action itself (e.g. an HTTP 4xx): the same request can never succeed,
    so a task retry is pointless and the record says so (`permanent=True`)."""


class ActionRecord(BaseModel):
    """One line of `review_actions.jsonl` / the outbox log: what happened to one action, and why."""

    model_config = ConfigDict(extra="forbid")

    action: str
    ticket_key: str
    status: ActionStatus
    target: str
    result: dict[str, Any] | None = None
    error: str | None = None
    permanent: bool = False  # failed in a way a retry cannot fix (see PermanentActionError)


def perform_once(
    ledger: SideEffectLedger,
    action: str,
    ticket_key: str,
    target: str,
    perform: Callable[[], dict[str, Any]],
    *,
    dry_run: bool = False,
    describe: str = "",
) -> ActionRecord:
    """`perform` returns what to remember (e.g. the Jira key); raising releases the claim for a retry."""
    if dry_run:
        log.info(
            "[dry run] would %s -> %s for %s%s",
            action,
            target,
            ticket_key,
            f": {describe}" if describe else "",
        )
        return ActionRecord(action=action, ticket_key=ticket_key, status="dry_run", target=target)
    claim = ledger.claim(action, ticket_key)
    if claim.state == "done":
        log.info("%s for %s already done earlier (%s): skipped", action, ticket_key, claim.result)
        return ActionRecord(
            action=action, ticket_key=ticket_key, status="already_done", target=target, result=claim.result
        )
    if claim.state == "in_progress":
        return ActionRecord(
            action=action,
            ticket_key=ticket_key,
            status="in_progress",
            target=target,
            error="another attempt holds the claim (or died holding it; it expires)",
        )
    try:
        result = perform()
    except Exception as exc:
        ledger.release(action, ticket_key)
        log.warning("%s for %s failed: %s", action, ticket_key, exc)
        return ActionRecord(
            action=action,
            ticket_key=ticket_key,
            status="failed",
            target=target,
            error=f"{type(exc).__name__}: {exc}"[:500],
            permanent=isinstance(exc, PermanentActionError),
        )
    ledger.complete(action, ticket_key, result)
    return ActionRecord(action=action, ticket_key=ticket_key, status="done", target=target, result=result)
