"""A LiteLLM Router built from `LiteLLMSettings`, and one call that returns content plus its record.

Retries within a model group and cooldowns of a group's deployments are the Router's. Around it,
per call: the answer cache (keyed by the group asked, llm/cache.py), the fallback chain with a
circuit breaker per group (llm/breaker.py), and a requests-per-minute limiter per deployment
(llm/limits.py) that the Router awaits before each request (llm/request_hook.py). With Redis the
breaker and the limiter are shared by every task and worker. See docs/limits.md.

Importing this module does not import litellm: building a `TriageRouter` (or `validate_models`)
does, after setting litellm's environment defaults (llm/environment.py).
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from llm_operators.core.call_request import CallRequest
from llm_operators.core.config import ConfigError, LiteLLMSettings
from llm_operators.core.models import CallRecord, CallStatus
from llm_operators.core.prompts import response_format as triage_schema
from llm_operators.llm.breaker import Admission, CircuitBreaker, LocalBreakerStore, RedisBreakerStore
from llm_operators.llm.cache import AnswerCache, CachedAnswer, installed_cache
from llm_operators.llm.environment import (
    add_callback,
    import_litellm,
    install_offline_provider,
    quiet_litellm,
    remove_callback,
)
from llm_operators.llm.limits import WINDOW_S, DeploymentRateLimiter, LocalWindowStore, RedisWindowStore

if TYPE_CHECKING:
    from litellm.types.router import RetryPolicy

__all__ = [
    "TriageRouter",
    "build_model_list",
    "build_retry_policy",
    "fallback_chains",
    "quiet_litellm",  # batch_client.py imports it from here
    "validate_models",
]

# Errors that say the request was wrong, not the deployment: they do not count against its breaker.
_REQUEST_FAULTS = frozenset({400, 413, 422})


def validate_models(settings: LiteLLMSettings) -> None:
    """Fail at start-up, naming the deployment, if LiteLLM cannot tell which provider a model is."""
    litellm = import_litellm()
    install_offline_provider()
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
    from litellm.types.router import RetryPolicy

    explicit = settings.router_settings.retry_policy.model_dump(exclude_none=True)
    return RetryPolicy(
        **{
            **explicit,
            "BadRequestErrorRetries": 0,
            "AuthenticationErrorRetries": 0,
            "NotFoundErrorRetries": 0,
        }
    )


def fallback_chains(settings: LiteLLMSettings) -> dict[str, list[str]]:
    """Each group followed by its fallbacks, in the order `router_settings.fallbacks` gives them."""
    fallbacks: dict[str, list[str]] = {}
    for mapping in settings.router_settings.fallbacks:
        for src, targets in mapping.items():
            fallbacks.setdefault(src, []).extend(t for t in targets if t != src)
    groups = {d.model_name for d in settings.model_list}
    return {g: [g, *dict.fromkeys(fallbacks.get(g, []))] for g in groups}


def _is_health_failure(exc: Exception) -> bool:
    status = getattr(exc, "status_code", None)
    return not (isinstance(status, int) and status in _REQUEST_FAULTS)


def _error_text(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"


class TriageRouter:
    """Owns one `litellm.Router`; `call()` asks one model group and never raises for provider errors.

    `redis`: a redis-py client for the breaker and limiter shared by all tasks (the hook passes the
    Redis connection's); None keeps them in this process. `limits_window_s` exists for tests only
    (60 s in production).
    """

    def __init__(
        self,
        settings: LiteLLMSettings,
        *,
        api_key: str | None = None,
        api_base: str | None = None,
        cache_responses: bool = False,
        redis: Any | None = None,
        limits_window_s: float = WINDOW_S,
    ) -> None:
        quiet_litellm()  # imports litellm, with its environment defaults set first
        validate_models(settings)
        from litellm import Router

        from llm_operators.llm.request_hook import RequestHook

        self.settings = settings
        rs = settings.router_settings
        self.router = Router(
            model_list=build_model_list(settings, api_key, api_base),
            fallbacks=[],  # walked here, so that an open breaker sends a ticket straight to the fallback
            num_retries=rs.num_retries,
            retry_policy=build_retry_policy(settings),
            timeout=rs.timeout,
            allowed_fails=rs.allowed_fails,
            cooldown_time=rs.cooldown_time,
            retry_after=rs.retry_after,
            routing_strategy=rs.routing_strategy,
            cache_responses=False,  # our answer cache, checked before the Router (llm/cache.py)
        )
        self.cache: AnswerCache | None = installed_cache() if cache_responses else None
        self.shared = redis is not None
        prefix = f"{settings.cache_namespace}:limits"
        self.breaker = CircuitBreaker(
            RedisBreakerStore(redis, f"{prefix}:breaker") if redis is not None else LocalBreakerStore(),
            allowed_fails=rs.allowed_fails,
            cooldown_s=rs.cooldown_time,
            probe_ttl_s=rs.timeout * (rs.num_retries + 1) + 1,
        )
        self.limiter = DeploymentRateLimiter(
            RedisWindowStore(redis, f"{prefix}:rpm") if redis is not None else LocalWindowStore(),
            window_s=limits_window_s,
            hold_s=rs.timeout * (rs.num_retries + 1) + 5,  # the longest a call can be in flight
        )
        self._chains = fallback_chains(settings)
        # a group that has a fallback is not retried beyond its other deployments: the fallback is
        # the retry, and the breaker needs one request per failure to bound what a dead group costs
        self._retries = {
            g: (min(rs.num_retries, len(settings.deployments_of(g)) - 1) if len(chain) > 1 else None)
            for g, chain in self._chains.items()
        }
        self._schema_digest = hashlib.sha256(json.dumps(triage_schema(), sort_keys=True).encode()).hexdigest()
        self.request_hook = RequestHook(self.limiter)
        add_callback(self.request_hook)
        self._closed = False
        self._models = {
            d["model_info"]["id"]: d["litellm_params"]["model"]
            for d in self.router.model_list
            if "id" in d["model_info"]
        }

    def close(self) -> None:
        """Take this router's hook and the Router's own callbacks out of litellm's global lists
        (idempotent); `Router.discard` is litellm's pseudo-destructor for the latter."""
        if not self._closed:
            self._closed = True
            remove_callback(self.request_hook)
            self.router.discard()

    def __enter__(self) -> TriageRouter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cache_key(
        self, group: str, messages: list[dict[str, str]], schema: dict[str, Any] | None
    ) -> str | None:
        """The answer cache's key for a request to `group` (None without a cache); batch runs use it
        too, so that live and batch answers are shared."""
        if self.cache is None:
            return None
        digest = (
            self._schema_digest
            if schema is None
            else hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()
        )
        payload = json.dumps([group, messages, digest], separators=(",", ":"))
        return f"{self.cache.namespace}:answer:{hashlib.sha256(payload.encode()).hexdigest()}"

    def cached_answer(
        self, group: str, messages: list[dict[str, str]], schema: dict[str, Any] | None = None
    ) -> CachedAnswer | None:
        key = self.cache_key(group, messages, schema)
        return None if key is None or self.cache is None else self.cache.get(key)

    async def call(
        self, request: CallRequest, *, cache_key_extra: dict[str, Any] | None = None
    ) -> tuple[str | None, CallRecord]:
        """The ladder's `Caller`. `cache_key_extra`: more arguments for litellm, which the answer cache
        does not key on, so a call with them skips the cache."""
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        group, messages, response_format = request.group, request.messages, request.response_format
        key = None if cache_key_extra else self.cache_key(group, messages, response_format)
        if key is not None:
            assert self.cache is not None
            hit = self.cache.get(key)
            if hit is not None:
                return hit.content, self._record(request, started, t0, hit, cache_hit=True, attempts=0)

        attempts = 0
        errors: list[str] = []
        for asked in self._chains.get(group, [group]):
            admission = await self.breaker.admit(asked)
            if admission is Admission.SKIP:
                errors.append(f"{asked}: circuit open")
                continue
            kwargs: dict[str, Any] = {
                "model": asked,
                "messages": messages,
                "response_format": response_format or triage_schema(),
                "metadata": dict(request.metadata or {}),
            }
            if self._retries.get(asked) is not None:
                kwargs["num_retries"] = self._retries[asked]
            if cache_key_extra:
                kwargs.update(cache_key_extra)
            try:
                with self.request_hook.call() as sent:
                    try:
                        response = await self.router.acompletion(**kwargs)
                    finally:
                        attempts += sent.attempts
            except Exception as exc:  # the next group of the chain, or the ladder, decides what next
                if _is_health_failure(exc):
                    self.breaker.failure(asked, admission)
                else:
                    self.breaker.release(asked, admission)
                errors.append(f"{asked}: {_error_text(exc)}")
                continue
            self.breaker.success(asked, admission)
            # `_hidden_params` is litellm's documented place for these despite its name: response_cost
            # (docs.litellm.ai/docs/completion/token_usage), model_id (docs.litellm.ai/docs/routing)
            hidden = getattr(response, "_hidden_params", {}) or {}
            usage = getattr(response, "usage", None)
            answer = CachedAnswer(
                content=response.choices[0].message.content if response.choices else None,
                answered_group=asked,
                deployment=self._models.get(hidden.get("model_id")) or getattr(response, "model", None),
                api_base=hidden.get("api_base"),
                prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
                cost_usd=float(hidden.get("response_cost") or 0.0),
            )
            if key is not None and answer.content is not None:
                assert self.cache is not None
                self.cache.put(key, answer)
            record = self._record(request, started, t0, answer, cache_hit=False, attempts=max(1, attempts))
            return answer.content, record
        # every group of the chain failed or is open: the ladder decides what next
        return None, request.record(
            status=CallStatus.ERROR,
            error="; ".join(errors)[:600],
            latency_ms=(time.perf_counter() - t0) * 1000,
            attempts=attempts,  # 0 when no request left at all (every group open or cooling down)
            started_at=started,
        )

    @staticmethod
    def _record(
        request: CallRequest,
        started: datetime,
        t0: float,
        answer: CachedAnswer,
        *,
        cache_hit: bool,
        attempts: int,
    ) -> CallRecord:
        return request.record(
            deployment=answer.deployment,
            api_base=answer.api_base,
            status=CallStatus.OK,  # the ladder downgrades to INVALID if the content fails validation
            prompt_tokens=answer.prompt_tokens,
            completion_tokens=answer.completion_tokens,
            cost_usd=answer.cost_usd,  # for a hit: what it would have cost (the savings)
            latency_ms=(time.perf_counter() - t0) * 1000,
            cache_hit=cache_hit,
            fallback_used=answer.answered_group != request.group,
            attempts=attempts,
            started_at=started,
        )
