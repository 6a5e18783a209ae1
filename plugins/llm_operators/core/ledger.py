"""The side-effect ledger: an external action happens at most once per (dag, ticket, action).

Before acting, a task claims the key atomically (Redis `SET NX`). A claim that finds `done` returns
the earlier result and the task skips the action: a retry, re-run or backfill never posts the same
Slack message, Jira issue or reply twice. A failed action releases its claim so a retry may try
again; a worker killed mid-action leaves a `pending` claim that expires after `pending_ttl_s`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Literal, Protocol

ClaimState = Literal["claimed", "done", "in_progress"]


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    result: dict[str, Any] | None = None  # what the earlier, successful action returned

    @property
    def acquired(self) -> bool:
        return self.state == "claimed"


class SideEffectLedger(Protocol):
    def claim(self, action: str, ticket_key: str) -> Claim: ...
    def complete(self, action: str, ticket_key: str, result: dict[str, Any]) -> None: ...
    def release(self, action: str, ticket_key: str) -> None: ...


_PENDING = "pending"
_DONE = "done:"

DEFAULT_NAMESPACE = "ticket-triage:ledger"


def ledger_key(scope: str, action: str, ticket_key: str, namespace: str = DEFAULT_NAMESPACE) -> str:
    """The one name of an action: the Redis key of its claim, and the seed of its idempotency key."""
    return f"{namespace}:{scope}:{action}:{ticket_key}"


def idempotency_key(scope: str, action: str, ticket_key: str) -> str:
    """A stable opaque key for the receiver of an action, derived from the ledger key.

    The ledger stops us from repeating an action; this key lets the receiver stop a repeat we could
    not see (our request arrived, its answer was lost, the retry sends it again). Hashed so that no
    ticket id or DAG name leaks into another system's logs, and the same on every retry and re-run.
    """
    digest = hashlib.sha256(ledger_key(scope, action, ticket_key).encode()).hexdigest()
    return f"triage-{digest[:40]}"


# Delete a pending claim only if it is still ours: after our claim expired, another worker may hold it.
_RELEASE_IF_OWNER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisLedger:
    """Needs only a redis-py client; the Airflow shell gets one from the redis provider's `RedisHook`.

    A pending claim stores a token unique to this ledger object, so `release` can never delete a
    claim that expired and was taken by another worker in the meantime.
    """

    def __init__(
        self,
        client: Any,
        scope: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        pending_ttl_s: int = 900,
        done_ttl_s: int = 400 * 24 * 3600,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.scope = scope
        self.pending_ttl_s = pending_ttl_s
        self.done_ttl_s = done_ttl_s
        self._pending = f"{_PENDING}:{uuid.uuid4().hex}"

    def _key(self, action: str, ticket_key: str) -> str:
        return ledger_key(self.scope, action, ticket_key, self.namespace)

    def claim(self, action: str, ticket_key: str) -> Claim:
        key = self._key(action, ticket_key)
        if self.client.set(key, self._pending, nx=True, ex=self.pending_ttl_s):
            return Claim("claimed")
        value = self.client.get(key)
        if isinstance(value, bytes):
            value = value.decode()
        if value is None:  # expired between SET and GET: try once more
            return (
                Claim("claimed")
                if self.client.set(key, self._pending, nx=True, ex=self.pending_ttl_s)
                else Claim("in_progress")
            )
        if value.startswith(_DONE):
            return Claim("done", json.loads(value[len(_DONE) :]))
        return Claim("in_progress")

    def complete(self, action: str, ticket_key: str, result: dict[str, Any]) -> None:
        self.client.set(
            self._key(action, ticket_key), _DONE + json.dumps(result, default=str), ex=self.done_ttl_s
        )

    def release(self, action: str, ticket_key: str) -> None:
        self.client.eval(_RELEASE_IF_OWNER, 1, self._key(action, ticket_key), self._pending)


class MemoryLedger:
    """For tests and for a run with no Redis: correct within one process, forgotten at its end."""

    def __init__(self) -> None:
        self._state: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def claim(self, action: str, ticket_key: str) -> Claim:
        with self._lock:
            value = self._state.get((action, ticket_key))
            if value is None:
                self._state[(action, ticket_key)] = _PENDING
                return Claim("claimed")
            if value.startswith(_DONE):
                return Claim("done", json.loads(value[len(_DONE) :]))
            return Claim("in_progress")

    def complete(self, action: str, ticket_key: str, result: dict[str, Any]) -> None:
        with self._lock:
            self._state[(action, ticket_key)] = _DONE + json.dumps(result, default=str)

    def release(self, action: str, ticket_key: str) -> None:
        with self._lock:
            if self._state.get((action, ticket_key)) == _PENDING:
                del self._state[(action, ticket_key)]
