"""A LiteLLM Router built from `LiteLLMSettings`, and one call that returns content plus its record.

Retries, cooldowns, rpm/tpm limits, provider fallback and response caching are the Router's; this
module only translates settings into Router arguments and a Router response into a `CallRecord`.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import litellm
from litellm import Router
from litellm.integrations.custom_logger import CustomLogger
from litellm.types.router import RetryPolicy

from llm_operators.core.config import ConfigError, LiteLLMSettings
from llm_operators.core.models import CallRecord, CallStatus
from llm_operators.core.prompts import response_format
from llm_operators.llm.offline_provider import register_offline_provider

_CALL_ID_KEY = "triage_call_id"


class _AttemptCounter(CustomLogger):
    """Counts provider requests per call: litellm's own retry header under-reports them."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts: Counter[str] = Counter()

    def _count(self, kwargs: dict[str, Any]) -> None:
        metadata = (kwargs.get("litellm_params") or {}).get("metadata") or {}
        call_id = metadata.get(_CALL_ID_KEY)
        if call_id:
            self.attempts[call_id] += 1

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        self._count(kwargs)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self._count(kwargs)


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
    """Connection-level key and base apply to hosted deployments that do not set their own."""
    out = []
    for dep in settings.model_list:
        params = dict(dep.litellm_params)
        if not dep.is_offline:
            if api_key and "api_key" not in params:
                params["api_key"] = api_key
            if api_base and "api_base" not in params:
                params["api_base"] = api_base
        out.append({"model_name": dep.model_name, "litellm_params": params, "model_info": dep.model_info})
    return out


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
        validate_models(settings)
        self.settings = settings
        rs = settings.router_settings
        self.router = Router(
            model_list=build_model_list(settings, api_key, api_base),
            fallbacks=rs.fallbacks or [],
            num_retries=rs.num_retries,
            retry_policy=RetryPolicy(**rs.retry_policy.model_dump()),
            timeout=rs.timeout,
            allowed_fails=rs.allowed_fails,
            cooldown_time=rs.cooldown_time,
            retry_after=rs.retry_after,
            routing_strategy=rs.routing_strategy,
            cache_responses=cache_responses,
        )
        self._counter = _AttemptCounter()
        if self._counter not in litellm.callbacks:
            litellm.callbacks = [*litellm.callbacks, self._counter]
        self._ids = itertools.count()
        self._groups = {
            d["model_info"]["id"]: d["model_name"] for d in self.router.model_list if "id" in d["model_info"]
        }
        self._models = {
            d["model_info"]["id"]: d["litellm_params"]["model"]
            for d in self.router.model_list
            if "id" in d["model_info"]
        }

    def close(self) -> None:
        if self._counter in litellm.callbacks:
            litellm.callbacks = [cb for cb in litellm.callbacks if cb is not self._counter]

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
        call_id = f"{ticket_id}:{rung}:{next(self._ids)}"
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
        try:
            response = await self.router.acompletion(**kwargs)
        except Exception as exc:  # every deployment and fallback failed: the ladder decides what next
            return None, CallRecord(
                ticket_id=ticket_id,
                rung=rung,
                model_group=group,
                repair=repair,
                status=CallStatus.ERROR,
                error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}",
                latency_ms=(time.perf_counter() - t0) * 1000,
                attempts=max(1, self._counter.attempts.pop(call_id, 0)),
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
            attempts=0 if cache_hit else max(1, self._counter.attempts.pop(call_id, 0)),
            started_at=started,
        )
        self._counter.attempts.pop(call_id, None)
        content = response.choices[0].message.content if response.choices else None
        return content, record
