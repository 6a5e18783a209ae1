"""`LiteLLMHook`: the `litellm` connection, and the Router and cache built from it.

Like the official provider hooks, the hook owns the connection and the client: operators ask it for
a ready `TriageRouter` and never read connection fields themselves.

Connection `litellm_default` (conn type `litellm`, or `AIRFLOW_CONN_LITELLM_DEFAULT` as JSON):
- host: default `api_base` for hosted deployments that do not set one (e.g. a LiteLLM proxy);
- password: default API key for those deployments (else the provider env vars, e.g.
  `OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, which litellm reads itself);
- extra: `LiteLLMSettings` as JSON (`model_list`, `ladder`, `router_settings`, thresholds).
With no such connection the hook uses the offline ladder and says so once in the log.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from llm_operators.core.config import ConfigError, LiteLLMSettings, offline_settings
from llm_operators.core.prompts import PROMPT_VERSION


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
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.litellm_conn_id = litellm_conn_id
        self.redis_conn_id = redis_conn_id
        self.settings_overrides = settings_overrides or {}
        self._api_key: str | None = None
        self._api_base: str | None = None
        self.offline = False

    @cached_property
    def settings(self) -> LiteLLMSettings:
        try:
            conn = self.get_connection(self.litellm_conn_id)
        except AirflowNotFoundException:
            extra: dict[str, Any] = {}
            self.log.info("No connection %r.", self.litellm_conn_id)
        else:
            extra = dict(conn.extra_dejson)
            self._api_key = conn.password or None
            self._api_base = conn.host or None
        if not extra.get("model_list"):
            self.offline = True
            self.log.info(
                "Using the offline ladder (offline/fast -> offline/careful): deterministic, no key, no "
                "network. Set model_list in connection %r to use real providers.",
                self.litellm_conn_id,
            )
            default = offline_settings()
            extra["model_list"] = [d.model_dump() for d in default.model_list]
            extra.setdefault("ladder", default.ladder)
        settings = LiteLLMSettings.parse(
            {**extra, **self.settings_overrides}, f"connection {self.litellm_conn_id!r}"
        )
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

    def cache_description(self) -> tuple[str, dict[str, Any]]:
        """Which LLM cache to use: Redis when its connection exists, else an in-process cache."""
        namespace = f"{self.settings.cache_namespace}:{PROMPT_VERSION}"
        if self.redis_conn_id:
            try:
                self.get_connection(self.redis_conn_id)
            except AirflowNotFoundException:
                pass
            else:
                from airflow.providers.redis.hooks.redis import RedisHook

                hook = RedisHook(redis_conn_id=self.redis_conn_id)
                hook.get_conn()  # resolves host/port/password/db from the connection
                return "redis", {
                    "type": "redis",
                    "host": hook.host,
                    "port": str(hook.port),
                    "password": hook.password,
                    "db": int(hook.db or 0),
                    "namespace": namespace,
                    "ttl": self.settings.cache_ttl_s,
                }
        return "local", {"type": "local", "namespace": namespace, "ttl": self.settings.cache_ttl_s}

    def get_conn(self) -> Any:
        """A ready `TriageRouter` (imports litellm, so only call it inside a task)."""
        from llm_operators.llm.cache import install_cache
        from llm_operators.llm.router_client import TriageRouter

        settings = self.settings
        kind, cache_kwargs = self.cache_description()
        install_cache(cache_kwargs)
        if kind == "redis":
            self.log.info(
                "LLM answers cached in Redis (connection %r, namespace %r, ttl %ss)",
                self.redis_conn_id,
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
                settings, api_key=self._api_key, api_base=self._api_base, cache_responses=True
            )
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(
                f"connection {self.litellm_conn_id!r}: cannot build the LiteLLM Router: {exc}"
            ) from exc

    def test_connection(self) -> tuple[bool, str]:
        """The UI's Test button: validate settings and models without calling any provider."""
        try:
            from llm_operators.llm.router_client import validate_models

            validate_models(self.settings)
        except Exception as exc:
            return False, str(exc)
        return (
            True,
            f"ladder {' -> '.join(self.settings.ladder)} with {len(self.settings.model_list)} deployments",
        )
