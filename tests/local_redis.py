"""The real Redis on 127.0.0.1:6379 for the tests that need one: without it (or redis-py) they skip, not fail.

Each test file keeps its own database number, so that files run in parallel never clean each other's keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


def redis_or_skip(db: int) -> Any:
    """A client of `db` that answered a ping; skips the calling test when there is no Redis to ask."""
    redis = pytest.importorskip("redis")
    client = redis.Redis(host="127.0.0.1", port=6379, db=db, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"no Redis on 127.0.0.1:6379: {exc}")
    return client


@contextmanager
def redis_keys_under(db: int, prefix: str) -> Iterator[Any]:
    """A client of `db` (see `redis_or_skip`); on the way out the `prefix:*` keys go, the rest stay."""
    client = redis_or_skip(db)
    try:
        yield client
    finally:
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
        client.close()
