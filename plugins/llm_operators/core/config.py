"""Settings of the `litellm` connection's extra: LiteLLM's own config-as-data, plus the ladder.

The extra reads like a LiteLLM proxy `config.yaml`: a `model_list` of deployments (one model group
per rung, several deployments per group for provider fallback) and `router_settings`, plus what is
ours: the `ladder` (model groups, cheapest first) and its knobs. Unknown keys are errors, because a
misspelt `num_retires` that is silently ignored is how an outage becomes a bill.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

OFFLINE_PROVIDER = "offline"

# Nominal prices for the offline model, close to a small and a large hosted model, so that cost and
# the ladder's savings are visible in the demo. USD per token.
OFFLINE_PRICES = {
    "fast": (0.15e-6, 0.60e-6),
    "careful": (2.50e-6, 10.00e-6),
}


class ConfigError(ValueError):
    """Invalid connection/operator configuration; the message names the setting."""


class Deployment(BaseModel):
    """One entry of LiteLLM's `model_list`: a model group name and how to reach one deployment of it."""

    model_config = ConfigDict(extra="forbid")

    model_name: str = Field(min_length=1)
    litellm_params: dict[str, Any]
    model_info: dict[str, Any] = Field(default_factory=dict)

    @field_validator("litellm_params")
    @classmethod
    def _needs_model(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(value.get("model"), str) or not value["model"]:
            raise ValueError("litellm_params.model is required, e.g. 'openai/gpt-4o-mini'")
        return value

    @property
    def model(self) -> str:
        return self.litellm_params["model"]

    @property
    def is_offline(self) -> bool:
        return self.model.startswith(f"{OFFLINE_PROVIDER}/")


class RetryPolicy(BaseModel):
    """Retries per exception class (litellm's `RetryPolicy`); a class left unset gets `num_retries`.

    400, 401 and 404 are never worth a retry: they may only be set to 0.
    """

    model_config = ConfigDict(extra="forbid")

    BadRequestErrorRetries: int | None = Field(default=None, ge=0, le=0)
    AuthenticationErrorRetries: int | None = Field(default=None, ge=0, le=0)
    NotFoundErrorRetries: int | None = Field(default=None, ge=0, le=0)
    TimeoutErrorRetries: int | None = Field(default=None, ge=0, le=10)
    RateLimitErrorRetries: int | None = Field(default=None, ge=0, le=10)
    ContentPolicyViolationErrorRetries: int | None = Field(default=None, ge=0, le=3)
    InternalServerErrorRetries: int | None = Field(default=None, ge=0, le=10)
    ServiceUnavailableErrorRetries: int | None = Field(default=None, ge=0, le=10)


class RouterSettings(BaseModel):
    """The subset of `litellm.Router` arguments this product supports (all others are rejected)."""

    model_config = ConfigDict(extra="forbid")

    fallbacks: list[dict[str, list[str]]] = Field(default_factory=list)
    num_retries: int = Field(default=2, ge=0, le=10)
    retry_policy: RetryPolicy = Field(default_factory=RetryPolicy)
    timeout: float = Field(default=30.0, gt=0, le=600)
    allowed_fails: int = Field(default=3, ge=0, le=100)
    cooldown_time: float = Field(default=30.0, ge=0, le=3600)
    retry_after: float = Field(default=0.0, ge=0, le=60)
    routing_strategy: str = "simple-shuffle"


# Providers whose batch endpoints LiteLLM's files/batches API reaches (not anthropic: retrieve only).
BATCH_PROVIDERS = frozenset({"openai", "azure", "vertex_ai", "bedrock", "hosted_vllm", "litellm_proxy"})


class BatchSettings(BaseModel):
    """Batch mode knobs (the `batch` object of the `litellm` connection's extra)."""

    model_config = ConfigDict(extra="forbid")

    min_round_size: int = Field(default=20, ge=1, description="a group's round with fewer requests goes live")
    deadline_s: float = Field(
        default=6 * 3600, gt=0, description="after this long since the first batch, every round goes live"
    )
    poll_interval_s: float = Field(default=60.0, gt=0, le=3600)
    discount: float = Field(
        default=0.5, gt=0, le=1, description="batch price / live price, where LiteLLM has none"
    )
    max_batch_failures: int = Field(default=1, ge=1, le=5)
    completion_window: Literal["24h"] = "24h"


class LiteLLMSettings(BaseModel):
    """Everything the hook needs to build a Router and climb the ladder."""

    model_config = ConfigDict(extra="forbid")

    model_list: list[Deployment]
    ladder: list[str] = Field(min_length=1, description="model groups, cheapest first")
    router_settings: RouterSettings = Field(default_factory=RouterSettings)
    escalate_below: float = Field(default=0.7, ge=0.0, le=1.0)
    repair_attempts: int = Field(default=1, ge=0, le=3)
    concurrency: int = Field(default=16, ge=1, le=512)
    max_body_chars: int = Field(default=6000, ge=200, le=200_000)
    max_cost_usd: float | None = Field(default=None, ge=0)
    redact_pii_for_llm: bool = True
    cache_ttl_s: int = Field(default=30 * 24 * 3600, ge=1)
    cache_namespace: str = "ticket-triage"
    # live: one request per call; batch: the ladder in rounds on provider batch APIs (half price)
    mode: Literal["live", "batch"] = "live"
    batch: BatchSettings = Field(default_factory=BatchSettings)

    @model_validator(mode="after")
    def _batch_needs_a_batch_api(self) -> LiteLLMSettings:
        if self.mode != "batch":
            return self
        fallbacks = {src: targets for m in self.router_settings.fallbacks for src, targets in m.items()}
        for group in self.ladder:
            candidates = [group, *fallbacks.get(group, [])]
            if not any(
                str(d.litellm_params.get("model", "")).split("/", 1)[0] in BATCH_PROVIDERS
                for name in candidates
                for d in self.deployments_of(name)
            ):
                raise ValueError(
                    f"mode=batch: model group {group!r} has no deployment on a provider with a batch API "
                    f"({', '.join(sorted(BATCH_PROVIDERS))})"
                )
        return self

    @model_validator(mode="after")
    def _groups_exist(self) -> LiteLLMSettings:
        groups = {d.model_name for d in self.model_list}
        for name in self.ladder:
            if name not in groups:
                raise ValueError(
                    f"ladder rung {name!r} has no deployment in model_list (have {sorted(groups)})"
                )
        for mapping in self.router_settings.fallbacks:
            for src, targets in mapping.items():
                for name in (src, *targets):
                    if name not in groups:
                        raise ValueError(f"router_settings.fallbacks names unknown model group {name!r}")
        return self

    def deployments_of(self, group: str) -> list[Deployment]:
        return [d for d in self.model_list if d.model_name == group]

    @classmethod
    def parse(cls, data: dict[str, Any], where: str) -> LiteLLMSettings:
        """Validate, turning pydantic's error into one message that names the setting and its source."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"invalid LiteLLM settings in {where}: {problems}") from None


def offline_settings(**overrides: Any) -> LiteLLMSettings:
    """The default ladder: two offline models, no key, no network. Used when no connection exists."""
    model_list = [
        {
            "model_name": tier,
            "litellm_params": {
                "model": f"{OFFLINE_PROVIDER}/{tier}",
                "input_cost_per_token": price_in,
                "output_cost_per_token": price_out,
            },
        }
        for tier, (price_in, price_out) in OFFLINE_PRICES.items()
    ]
    data: dict[str, Any] = {"model_list": model_list, "ladder": list(OFFLINE_PRICES)}
    data.update(overrides)
    return LiteLLMSettings.parse(data, "offline default")
