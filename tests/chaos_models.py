"""Model lists on the chaos provider for the LiteLLM tests: priced deployments, and a primary with a fallback.

Every deployment has a price so that a cost of zero means nothing was billed, never that nothing was priced.
"""

from __future__ import annotations

from typing import Any

from chaos_provider import ChaosServer

PRICE = {
    "input_cost_per_token": 1e-6,
    "output_cost_per_token": 2e-6,
    "cache_creation_input_token_cost": 0.0,
    "cache_read_input_token_cost": 0.0,
}


def hosted(group: str, model: str, api_base: str, **params: Any) -> dict[str, Any]:
    """One `model_list` entry: `group` served by `model` at `api_base`, at PRICE (`params` added last)."""
    return {
        "model_name": group,
        "litellm_params": {"model": model, "api_base": api_base, "api_key": "sk-test", **PRICE, **params},
    }


def fallback_settings_data(server: ChaosServer, **router_settings: Any) -> dict[str, Any]:
    """The ladder cheap -> strong, where cheap falls back to `cheap-backup`: another wire format (Anthropic's)
    on the same chaos server, so that an outage configured for `cheap` alone leaves the backup answering."""
    return {
        "model_list": [
            hosted("cheap", "openai/cheap", server.openai_base),
            hosted("cheap-backup", "anthropic/claude-test", server.url),
            hosted("strong", "openai/strong", server.openai_base),
        ],
        "ladder": ["cheap", "strong"],
        "router_settings": {
            "num_retries": 0,
            "timeout": 5,
            "fallbacks": [{"cheap": ["cheap-backup"]}],
            **router_settings,
        },
    }
