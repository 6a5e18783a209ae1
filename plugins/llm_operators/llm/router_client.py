"""A LiteLLM Router built from `LiteLLMSettings`, and one call that returns content plus its record.

Retries, cooldowns, rpm/tpm limits, provider fallback and response caching are the Router's; this
module only translates settings into Router arguments and a Router response into a `CallRecord`.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import litellm
from litellm import Router
from litellm.integrations.custom_logger import CustomLogger
from litellm.types.router import RetryPolicy

from llm_operators.core.config import ConfigError, LiteLLMSettings
from llm_operators.core.models import CallRecord, CallStatus
from llm_operators.core.prompts import response_format
from llm_operators.llm.callbacks import register_callback, unregister_callback
from llm_operators.llm.offline_provider import register_offline_provider

# Like the model cost map (see llm/__init__.py): litellm fetches Anthropic's beta-header table from
# GitHub on the first Anthropic call unless told not to. Read at call time, so setting it here works.
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "True")

_CALL_ID_KEY = "triage_call_id"
_LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")


def quiet_litellm() -> None:
    """No banners, and no INFO line per request or per Router build (the retry policy dict...).

    Warnings and errors still get through; `LITELLM_LOG=DEBUG` (litellm's own switch) is respected.
    """
    litellm.suppress_debug_info = True
    if os.environ.get("LITELLM_LOG"):
        return
    for name in _LITELLM_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)


class _AttemptCounter(CustomLogger):
    """Counts the provider requests of each call: litellm's own retry header under-reports them.

    Counted in `log_pre_api_call`, which litellm runs synchronously just before each request leaves
    (every Router retry and every fallback is a new request). The success and failure events are no
    use for this: litellm fires them from background tasks, often after `acompletion()` returned.
    """

    def __init__(self) -> None:
        super().__init__()
        self.attempts: dict[str, int] = {}

    def start(self, call_id: str) -> None:
        self.attempts[call_id] = 0

    def finish(self, call_id: str) -> int:
        return self.attempts.pop(call_id, 0)

    def log_pre_api_call(self, model, messages, kwargs):
        metadata = (kwargs.get("litellm_params") or {}).get("metadata") or {}
        call_id = metadata.get(_CALL_ID_KEY)
        # only calls this counter started: other routers' counters see the same requests
        if call_id in self.attempts:
            self.attempts[call_id] += 1


def validate_models(settings: LiteLLMSettings) -> None:
    """Fail at start-up, naming the deployment, if LiteLLM cannot tell which provider a model is."""
    register_offline_provider()
    for dep in settings.model_list:
        try:
            litellm.get_llm_provider(dep.model, api_base=dep.litellm_params.get("api_base"))
        except Exception as exc:  # litellm raises BadRequestError with a long message
            raise ConfigError(
                f"model_list[{dep.model_name!r}]: LiteLLM does not know model {dep.model!r} "
                f"(use '<provider>/<model>', e.g. 'openai/gpt-4o-mini'): {str(exc).splitlines()[0][:200]}"
            ) from None


def build_model_list(
    settings: LiteLLMSettings, api_key: str | None = None, api_base: str | None = None
) -> list[dict[str, Any]]:
    """Connection-level key and base apply to hosted deployments that do not set their own.

    Hosted deployments get `max_retries=0` unless they set it: the OpenAI SDK under litellm retries
    5xx/429/timeouts twice by itself otherwise (plain `litellm.acompletion` does), invisibly
    multiplying the Router's retries. litellm 1.106.2's Router already defaults to 0; this keeps it
    so whatever the version. Offline deployments get zero cache-token prices, which they have (no
    prompt cache), so litellm does not warn about missing cache prices at every Router build.
    """
    out = []
    for dep in settings.model_list:
        params = dict(dep.litellm_params)
        if dep.is_offline:
            params.setdefault("cache_creation_input_token_cost", 0.0)
            params.setdefault("cache_read_input_token_cost", 0.0)
        else:
            if api_key and "api_key" not in params:
                params["api_key"] = api_key
            if api_base and "api_base" not in params:
                params["api_base"] = api_base
            params.setdefault("max_retries", 0)
        out.append({"model_name": dep.model_name, "litellm_params": params, "model_info": dep.model_info})
    return out


def build_retry_policy(settings: LiteLLMSettings) -> RetryPolicy:
    """Only the per-class counts the connection sets explicitly; every other class gets `num_retries`.

    litellm lets a retry policy entry override `num_retries` for its exception class, so passing the
    whole policy with its defaults would make `num_retries` dead for every class it names (a
    `num_retries: 0` would still retry a 503 twice). Errors that no retry can fix (400, 401, 404)
    are never retried.
    """
    explicit = settings.router_settings.retry_policy.model_dump(exclude_none=True)
    return RetryPolicy(
        **{
            **explicit,
            "BadRequestErrorRetries": 0,
            "AuthenticationErrorRetries": 0,
            "NotFoundErrorRetries": 0,
        }
    )


class TriageRouter:
    """Owns one `litellm.Router`; `call()` asks one model group and never raises for provider errors."""

    def __init__(
        self,
        settings: LiteLLMSettings,
        *,
        api_key: str | None = None,
        api_base: str | None = None,
        cache_responses: bool = False,
    ) -> None:
        quiet_litellm()
        validate_models(settings)
        self.settings = settings
        rs = settings.router_settings
        self.router = Router(
            model_list=build_model_list(settings, api_key, api_base),
            fallbacks=rs.fallbacks or [],
            num_retries=rs.num_retries,
            retry_policy=build_retry_policy(settings),
            timeout=rs.timeout,
            allowed_fails=rs.allowed_fails,
            cooldown_time=rs.cooldown_time,
            retry_after=rs.retry_after,
            routing_strategy=rs.routing_strategy,
            cache_responses=cache_responses,
        )
        self._counter = _AttemptCounter()
        register_callback(self._counter)
        self._closed = False
        self._groups = {
            d["model_info"]["id"]: d["model_name"] for d in self.router.model_list if "id" in d["model_info"]
        }
        self._models = {
            d["model_info"]["id"]: d["litellm_params"]["model"]
            for d in self.router.model_list
            if "id" in d["model_info"]
        }

    def close(self) -> None:
        """Unregister this router's callback from litellm's global lists (idempotent)."""
        if not self._closed:
            self._closed = True
            unregister_callback(self._counter)

    def __enter__(self) -> TriageRouter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def call(
        self,
        *,
        ticket_id: str,
        rung: int,
        group: str,
        messages: list[dict[str, str]],
        repair: bool = False,
        metadata: dict[str, Any] | None = None,
        cache_key_extra: dict[str, Any] | None = None,
    ) -> tuple[str | None, CallRecord]:
        call_id = f"{ticket_id}:{rung}:{uuid.uuid4().hex}"
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        kwargs: dict[str, Any] = {
            "model": group,
            "messages": messages,
            "response_format": response_format(),
            "metadata": {**(metadata or {}), _CALL_ID_KEY: call_id},
        }
        if cache_key_extra:
            kwargs.update(cache_key_extra)
        self._counter.start(call_id)
        try:
            try:
                response = await self.router.acompletion(**kwargs)
            finally:
                attempts = self._counter.finish(call_id)
        except Exception as exc:  # every deployment and fallback failed: the ladder decides what next
            return None, CallRecord(
                ticket_id=ticket_id,
                rung=rung,
                model_group=group,
                repair=repair,
                status=CallStatus.ERROR,
                error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}",
                latency_ms=(time.perf_counter() - t0) * 1000,
                attempts=attempts,  # 0 when no request left at all (every deployment cooling down)
                started_at=started,
            )
        hidden = getattr(response, "_hidden_params", {}) or {}
        model_id = hidden.get("model_id")
        answered_group = self._groups.get(model_id, group)
        usage = getattr(response, "usage", None)
        cache_hit = hidden.get("cache_hit") is True
        record = CallRecord(
            ticket_id=ticket_id,
            rung=rung,
            model_group=group,
            deployment=self._models.get(model_id) or getattr(response, "model", None),
            api_base=hidden.get("api_base"),
            repair=repair,
            status=CallStatus.OK,  # the ladder downgrades to INVALID if the content fails validation
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
            cost_usd=float(hidden.get("response_cost") or 0.0),
            latency_ms=(time.perf_counter() - t0) * 1000,
            cache_hit=cache_hit,
            fallback_used=answered_group != group,
            attempts=attempts if cache_hit else max(1, attempts),
            started_at=started,
        )
        content = response.choices[0].message.content if response.choices else None
        return content, record
