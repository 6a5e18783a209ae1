"""One reading of a Redis connection for everything this project keeps in Redis (LLM cache, ledger).

Airflow's `RedisHook.get_conn()` is where a connection becomes a client (host, port, username,
password, ssl options, db); the settings here are read back from that client, so the LLM cache and
the side-effect ledger talk to exactly the database the hook would. One gap of the hook is closed
here: it reads the database only from the extra (`{"db": N}`), so a URI such as
`redis://host:6379/13` (path `13`, stored as the connection's schema) would silently use database 0.
The path is honoured; a path that is not a number, or that contradicts the extra, is an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook
from pydantic import BaseModel, ConfigDict, Field

from llm_operators.hooks.errors import ConnectionConfigError

if TYPE_CHECKING:  # redis-py costs ~0.2 s to import; the DAG file imports this module at parse time
    import redis

# The TLS options redis-py's SSLConnection takes that a connection's extra can set (RedisHook passes
# exactly these through).
_SSL_OPTIONS = ("ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_check_hostname")


class RedisSettings(BaseModel):
    """What a redis-py client needs; `password` is excluded from dumps and reprs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    conn_id: str
    host: str
    port: int
    db: int = Field(ge=0)
    username: str | None = None
    password: str | None = Field(default=None, repr=False, exclude=True)
    ssl: bool = False
    ssl_options: dict[str, Any] = Field(default_factory=dict)

    def client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "db": self.db,
            "username": self.username,
            "password": self.password,
        }
        if self.ssl:
            kwargs |= {"ssl": True, **self.ssl_options}
        return kwargs

    def client(self) -> redis.Redis:
        import redis

        return redis.Redis(**self.client_kwargs())

    def describe(self) -> str:
        """For logs: where, never the password."""
        scheme = "rediss" if self.ssl else "redis"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}/{self.db} (connection {self.conn_id!r})"


def _db_from_path(conn_id: str, schema: str | None, extra_db: Any) -> int | None:
    """The database a URI's path names, checked against the extra's `db`."""
    path = (schema or "").strip().strip("/")
    if not path:
        return None
    if not path.isdigit():
        raise ConnectionConfigError(
            f"Redis connection {conn_id!r}: the URI path {path!r} is not a database number; "
            'write redis://host:6379/13 or set the extra {"db": 13}'
        )
    db = int(path)
    if extra_db not in (None, "") and int(extra_db) != db:
        raise ConnectionConfigError(
            f"Redis connection {conn_id!r} names database {db} in its URI path and {extra_db} in its "
            "extra 'db': keep one of them"
        )
    return db


def redis_settings(redis_conn_id: str) -> RedisSettings:
    """The client settings of `redis_conn_id` as `RedisHook` builds its client, the URI path honoured."""
    import redis
    from airflow.providers.redis.hooks.redis import RedisHook

    conn = BaseHook.get_connection(redis_conn_id)
    extra = conn.extra_dejson
    path_db = _db_from_path(redis_conn_id, conn.schema, extra.get("db"))
    if extra.get("cluster"):
        raise ConnectionConfigError(
            f"Redis connection {redis_conn_id!r} is in cluster mode, which the LLM cache and the "
            "side-effect ledger do not support: point it at a single Redis (or a proxy in front of it)"
        )
    try:
        client = RedisHook(redis_conn_id=redis_conn_id).get_conn()
    except ValueError as exc:
        raise ConnectionConfigError(f"Redis connection {redis_conn_id!r}: {exc}") from exc
    kwargs = client.get_connection_kwargs()
    ssl = issubclass(client.connection_pool.connection_class, redis.SSLConnection)
    if not kwargs.get("host"):
        raise ConnectionConfigError(f"Redis connection {redis_conn_id!r} has no host")
    db = path_db if path_db is not None else kwargs.get("db")
    try:
        return RedisSettings(
            conn_id=redis_conn_id,
            host=kwargs["host"],
            port=int(kwargs.get("port") or 6379),
            db=int(db or 0),
            username=kwargs.get("username") or None,
            password=kwargs.get("password") or None,
            ssl=ssl,
            ssl_options={k: kwargs[k] for k in _SSL_OPTIONS if ssl and kwargs.get(k) is not None},
        )
    except ValueError as exc:
        raise ConnectionConfigError(f"Redis connection {redis_conn_id!r}: {exc}") from exc
