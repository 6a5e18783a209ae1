"""`LiteLLMHook`: the `litellm` connection, and the Router (with its response cache) built from it.

Like the official provider hooks, the hook owns the connection and the client: operators ask it for
a ready `TriageRouter` (`client`, cached; `get_conn()` returns it) and never read connection fields.

Connection `litellm_default` (conn type `litellm`, or `AIRFLOW_CONN_LITELLM_DEFAULT` as JSON):
- host: default `api_base` for hosted deployments that do not set one (e.g. a LiteLLM proxy);
- password: default API key for those deployments (else the provider env vars, e.g.
  `OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, which litellm reads itself);
- extra: `LiteLLMSettings` as JSON (`model_list`, `ladder`, `router_settings`, thresholds), or
  `{"offline": true}` for the offline models (deterministic, no key, no network).
Nothing is assumed: no connection, or one with neither a model list nor the offline choice, fails the
task at once, saying what to set. Empty or null fields (as the UI form saves them) mean "default".
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from llm_operators.core.config import ConfigError, LiteLLMSettings, offline_settings
from llm_operators.hooks.errors import ConnectionConfigError

# re-exported: callers (and tests) know the hook as the place that prepares litellm's environment
from llm_operators.llm.environment import (  # noqa: F401
    LITELLM_ENVIRONMENT_DEFAULTS,
    set_litellm_environment_defaults,
)

if TYPE_CHECKING:
    from llm_operators.hooks.redis_settings import RedisSettings

OFFLINE_CONNECTION = '{"conn_type": "litellm", "extra": {"offline": true}}'
# Keys the connection form stores even when left empty; empty means "the default".
_FORM_KEYS = ("model_list", "ladder", "router_settings")


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in {"true", "1", "yes", "on"})


def form_extra(extra: dict[str, Any]) -> dict[str, Any]:
    """The extra without the fields the form left empty (null, "", [] or {})."""
    out: dict[str, Any] = {}
    for key, value in extra.items():
        if value is None or value == "":
            continue
        if key in _FORM_KEYS and value in ([], {}):
            continue
        out[key] = value
    return out


class LiteLLMHook(BaseHook):
    conn_name_attr = "litellm_conn_id"
    default_conn_name = "litellm_default"
    conn_type = "litellm"
    hook_name = "LiteLLM"

    def __init__(
        self,
        litellm_conn_id: str = default_conn_name,
        *,
        redis_conn_id: str | None = "redis_default",
        settings_overrides: dict[str, Any] | None = None,
        prompt_version: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.litellm_conn_id = litellm_conn_id
        # the version of what the models are shown (rules from Langfuse or bundled, templates): part
        # of the cache namespace, so a new prompt is never served answers made for the old one
        self.prompt_version = prompt_version
        self.redis_conn_id = redis_conn_id
        self.settings_overrides = {k: v for k, v in (settings_overrides or {}).items() if v is not None}
        self._api_key: str | None = None
        self._api_base: str | None = None
        self._offline = False

    @property
    def offline(self) -> bool:
        """True when the connection chose the offline models (reads the connection)."""
        _ = self.settings
        return self._offline

    def _missing_connection(self) -> ConnectionConfigError:
        env = f"AIRFLOW_CONN_{self.litellm_conn_id.upper()}"
        return ConnectionConfigError(
            f"No LiteLLM connection {self.litellm_conn_id!r}. Define it (Admin > Connections, type "
            f'\'LiteLLM\', or {env}=\'{{"conn_type": "litellm", "extra": {{"model_list": [...], '
            f"\"ladder\": [...]}}}}'), or choose the offline models explicitly: {env}='{OFFLINE_CONNECTION}'"
        )

    @cached_property
    def settings(self) -> LiteLLMSettings:
        where = f"connection {self.litellm_conn_id!r}"
        try:
            conn = self.get_connection(self.litellm_conn_id)
        except AirflowNotFoundException:
            raise self._missing_connection() from None
        self._api_key = conn.password or None
        self._api_base = conn.host or None
        extra = form_extra(dict(conn.extra_dejson))
        offline = _is_true(extra.pop("offline", False))
        if offline and extra.get("model_list"):
            raise ConnectionConfigError(
                f"{where}: 'offline' is true and 'model_list' is filled; choose one (clear model_list, "
                "or untick offline)"
            )
        if offline:
            self._offline = True
            default = offline_settings()
            extra["model_list"] = [d.model_dump() for d in default.model_list]
            extra.setdefault("ladder", default.ladder)
            self.log.info(
                "%s chooses the offline models (%s): deterministic, no key, no network",
                where,
                " -> ".join(extra["ladder"]),
            )
        elif not extra.get("model_list"):
            raise ConnectionConfigError(
                f"{where}: fill 'model_list' (LiteLLM deployments) and 'ladder' (model groups, cheapest "
                "first), or tick 'offline' to use the offline models"
            )
        try:
            settings = LiteLLMSettings.parse({**extra, **self.settings_overrides}, where)
        except ConfigError as exc:
            raise ConnectionConfigError(str(exc)) from None
        self._mask_keys(settings)
        return settings

    @staticmethod
    def _mask_keys(settings: LiteLLMSettings) -> None:
        """Keys may also sit in the extra's litellm_params; make sure the log masker knows them."""
        from airflow.sdk.log import mask_secret

        for dep in settings.model_list:
            key = dep.litellm_params.get("api_key")
            if isinstance(key, str) and key:
                mask_secret(key)

    @cached_property
    def redis(self) -> RedisSettings | None:
        """The Redis connection's client settings (as `RedisHook` reads it), None without one."""
        if not self.redis_conn_id:
            return None
        try:
            self.get_connection(self.redis_conn_id)
        except AirflowNotFoundException:
            return None
        from llm_operators.hooks.redis_settings import redis_settings

        return redis_settings(self.redis_conn_id)

    def cache_settings(self) -> dict[str, Any]:
        """The answer cache's settings (llm/cache.py `install_cache`): Redis if the connection exists,
        else in-process; the namespace carries the version of what the models are shown."""
        if self.prompt_version is not None:
            version = self.prompt_version
        else:
            from llm_operators.core.prompts import prompt_version

            version = prompt_version()  # the bundled rules and catalogue (read now, not at import)
        common = {"namespace": f"{self.settings.cache_namespace}:{version}", "ttl": self.settings.cache_ttl_s}
        if self.redis is not None:
            return {"type": "redis", **self.redis.client_kwargs(), **common}
        return {"type": "local", **common}

    @cached_property
    def client(self) -> Any:
        """A ready `TriageRouter`, its answer cache installed (imports litellm: call inside a task).

        With Redis, the Router's circuit breaker and rate limiter share state through it with every
        other task of the deployment."""
        settings = self.settings
        set_litellm_environment_defaults()
        from llm_operators.llm.cache import install_cache
        from llm_operators.llm.router_client import TriageRouter

        cache_kwargs = self.cache_settings()
        install_cache(cache_kwargs)
        if self.redis is not None:
            self.log.info(
                "LLM answers cached in Redis %s (namespace %r, ttl %ss)",
                self.redis.describe(),
                cache_kwargs["namespace"],
                cache_kwargs["ttl"],
            )
        else:
            self.log.info(
                "No Redis connection %r: LLM answers cached in-process only (lost at task end)",
                self.redis_conn_id,
            )
        try:
            return TriageRouter(
                settings,
                api_key=self._api_key,
                api_base=self._api_base,
                cache_responses=True,
                redis=self.redis.client() if self.redis is not None else None,
            )
        except ConfigError as exc:
            raise ConnectionConfigError(str(exc)) from None
        except Exception as exc:
            raise ConnectionConfigError(
                f"connection {self.litellm_conn_id!r}: cannot build the LiteLLM Router: {exc}"
            ) from exc

    def get_conn(self) -> Any:
        return self.client

    def test_connection(self) -> tuple[bool, str]:
        """The UI's Test button: validate settings and models without calling any provider."""
        try:
            settings = self.settings
            set_litellm_environment_defaults()
            from llm_operators.llm.router_client import validate_models

            validate_models(settings)
        except Exception as exc:
            return False, str(exc)
        kind = "offline models" if self.offline else f"{len(settings.model_list)} deployments"
        return True, f"ladder {' -> '.join(settings.ladder)} with {kind}"
