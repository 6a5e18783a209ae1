"""Pydantic (v2) configuration for the chaos LLM provider.

A :class:`ChaosConfig` holds a ``default`` :class:`ModelBehaviour` and per-model
overrides in ``models`` (keyed by the ``model`` field of the request body, i.e.
``cheap`` for litellm's ``openai/cheap``).  A model that is not listed uses
``default``.  Every model is *replaced*, not merged, by its entry: an entry in
``models`` starts from the ModelBehaviour defaults, not from ``default``.

Example (JSON, as accepted by ``--config`` and ``POST /_chaos/config``)::

    {
      "default": {"latency_ms": 50},
      "models": {
        "primary": {"error_rates": {"503": 0.2, "429": 0.1}, "seed": 7},
        "cheap": {"result": {"confidence": 0.3}},
        "flaky-json": {"malformed_rate": 0.5, "malformed_kind": "truncated_json"},
        "down-soon": {"outage_windows": [{"start_s": 10, "end_s": 70}]}
      }
    }

No litellm / airflow imports here: this module is stdlib + pydantic only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "DEFAULT_RESULT",
    "MALFORMED_KINDS",
    "ChaosConfig",
    "MalformedKind",
    "ModelBehaviour",
    "OutageWindow",
]

MalformedKind = Literal[
    "not_json",
    "truncated_json",
    "unknown_enum",
    "confidence_out_of_range",
    "missing_field",
    "oversized",
    "empty",
    "wrong_types",
]
MALFORMED_KINDS: tuple[str, ...] = MalformedKind.__args__  # type: ignore[attr-defined]

#: The canned, schema-valid triage result a successful answer carries (before ``result`` overrides).
DEFAULT_RESULT: dict[str, Any] = {
    "category": "technical",
    "priority": "P2",
    "sentiment": "neutral",
    "pii_detected": False,
    "needs_human": False,
    "suggested_reply": "Thanks for reaching out - we are looking into this and will update you shortly.",
    "confidence": 0.9,
    "rationale": "chaos provider canned answer",
}

DEFAULT_SEED = 20240601


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OutageWindow(_Strict):
    """A period, in seconds relative to when the config took effect (server start,
    ``configure()``, ``POST /_chaos/config`` or ``reset()``), during which every request
    fails with ``outage_status``.  ``start_s`` is inclusive, ``end_s`` exclusive."""

    start_s: float = Field(ge=0)
    end_s: float

    @model_validator(mode="after")
    def _ordered(self) -> OutageWindow:
        if self.end_s <= self.start_s:
            raise ValueError(f"outage window end_s ({self.end_s}) must be > start_s ({self.start_s})")
        return self

    def contains(self, elapsed_s: float) -> bool:
        return self.start_s <= elapsed_s < self.end_s


class ModelBehaviour(_Strict):
    """How the chaos provider answers requests for one model.

    Per request, in this order: the rate limit (``rate_limit_requests`` per ``rate_limit_window_s``,
    else 429 with Retry-After), added latency (``latency_ms`` + uniform ``[0, jitter_ms]``),
    then outage (``outage`` or an active ``outage_windows`` entry) -> ``outage_status``,
    then ONE random draw that picks an injected error status (``error_rates``) or a hang
    (``timeout_rate``), otherwise a success whose content is malformed with probability
    ``malformed_rate``.  The RNG is per model and seeded with ``seed``, and the number of
    draws per request is constant, so a fault sequence is reproducible.
    """

    latency_ms: float = Field(default=0, ge=0)
    jitter_ms: float = Field(default=0, ge=0)

    error_rates: dict[int, float] = Field(default_factory=dict)
    retry_after_s: int = Field(default=1, ge=0, description="Retry-After header value on 429 answers")

    # A hard requests-per-window limit, as providers enforce per model (OpenAI: requests per minute,
    # answered 429, https://platform.openai.com/docs/guides/rate-limits; Anthropic: 429 with a
    # `retry-after` header, https://docs.anthropic.com/en/api/rate-limits). Sliding window; a request
    # answered 429 is not counted. Checked before anything else.
    rate_limit_requests: int | None = Field(default=None, ge=1)
    rate_limit_window_s: float = Field(default=60.0, gt=0)

    timeout_rate: float = Field(default=0, ge=0, le=1)
    timeout_s: float = Field(default=30, gt=0)

    outage: bool = False
    outage_status: int = 503
    outage_windows: list[OutageWindow] = Field(default_factory=list)

    malformed_rate: float = Field(default=0, ge=0, le=1)
    malformed_kind: MalformedKind = "not_json"

    reply: str | None = Field(default=None, description="Verbatim success content (overrides result)")
    result: dict[str, Any] = Field(default_factory=dict, description="Overrides merged onto DEFAULT_RESULT")

    seed: int = DEFAULT_SEED

    @field_validator("error_rates")
    @classmethod
    def _check_error_rates(cls, value: dict[int, float]) -> dict[int, float]:
        for status, rate in value.items():
            if not 400 <= status <= 599:
                raise ValueError(f"error_rates status {status} is not an HTTP error status (400-599)")
            if not 0 <= rate <= 1:
                raise ValueError(f"error_rates[{status}]={rate} is not a probability in [0, 1]")
        return value

    @field_validator("outage_status")
    @classmethod
    def _check_outage_status(cls, value: int) -> int:
        if not 400 <= value <= 599:
            raise ValueError(f"outage_status {value} is not an HTTP error status (400-599)")
        return value

    @model_validator(mode="after")
    def _rates_sum(self) -> ModelBehaviour:
        total = sum(self.error_rates.values()) + self.timeout_rate
        if total > 1 + 1e-9:
            raise ValueError(f"sum of error_rates and timeout_rate is {total:.3f} > 1")
        return self

    def result_dict(self) -> dict[str, Any]:
        """DEFAULT_RESULT with ``result`` merged on top."""
        return {**DEFAULT_RESULT, **self.result}

    def success_content(self) -> str:
        """The content of a successful, well-formed answer (``reply`` or the merged result as JSON)."""
        if self.reply is not None:
            return self.reply
        return json.dumps(self.result_dict())

    def in_outage(self, elapsed_s: float) -> bool:
        return self.outage or any(w.contains(elapsed_s) for w in self.outage_windows)


class ChaosConfig(_Strict):
    """``default`` behaviour plus per-model overrides keyed by the request's ``model``."""

    default: ModelBehaviour = Field(default_factory=ModelBehaviour)
    models: dict[str, ModelBehaviour] = Field(default_factory=dict)

    def behaviour_for(self, model: str | None) -> ModelBehaviour:
        if model is not None and model in self.models:
            return self.models[model]
        return self.default

    @classmethod
    def from_file(cls, path: str | Path) -> ChaosConfig:
        """Load a JSON file (or YAML, if the name ends in .yaml/.yml and PyYAML is installed)."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() in {".yaml", ".yml"}:
            import yaml  # optional dependency, only for YAML configs

            return cls.model_validate(yaml.safe_load(text) or {})
        return cls.model_validate_json(text)
