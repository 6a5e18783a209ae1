"""Provider metadata: makes Airflow register the `litellm` connection type and its form.

Airflow 3 takes connection types only from providers (an `apache_airflow_provider` entry point,
declared in pyproject.toml), not from plugins. A mistake here breaks `import airflow` for the whole
environment, which is why tests/test_provider_info.py checks it.
"""

from __future__ import annotations

from typing import Any

MODEL_LIST_EXAMPLE = (
    '[{"model_name": "cheap", "litellm_params": {"model": "openai/gpt-4o-mini"}}, '
    '{"model_name": "strong", "litellm_params": {"model": "openai/gpt-4o"}}]'
)
EXTRA_EXAMPLE = (
    '{"model_list": ' + MODEL_LIST_EXAMPLE + ', "ladder": ["cheap", "strong"], '
    '"router_settings": {"num_retries": 2, "timeout": 30}}'
)

# Rendered by Airflow 3.3's React connection form like DAG params: an array of objects and an object
# get a JSON editor, an array of strings a text box with one value per line, a boolean a switch.
# The form stores every field at the top level of the extra, null when left empty; the hook reads
# null as "default". No `default` values here: the form would save an example as configuration.
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "offline": {
        "label": "Offline models (no key, no network)",
        "schema": {"type": ["boolean", "null"]},
        "description": "Tick to use the built-in offline models (demo, tests). Leave unticked and fill "
        "Model list and Ladder for real providers. One of the two is required.",
    },
    "model_list": {
        "label": "Model list (LiteLLM deployments)",
        "schema": {"type": ["array", "null"], "items": {"type": "object"}},
        "description": "LiteLLM's model_list as JSON: one entry per deployment, several entries with "
        f"the same model_name are one model group. Example: {MODEL_LIST_EXAMPLE}",
    },
    "ladder": {
        "label": "Ladder (model groups, cheapest first)",
        "schema": {"type": ["array", "null"], "items": {"type": "string"}},
        "description": "One model_name of the model list per line, cheapest first, e.g. cheap then "
        "strong. A ticket climbs while its answer's confidence is below 'Escalate below'.",
    },
    "router_settings": {
        "label": "Router settings (optional)",
        "schema": {"type": ["object", "null"]},
        "description": 'JSON object of litellm Router settings, e.g. {"fallbacks": [{"cheap": '
        '["cheap-backup"]}], "num_retries": 2, "timeout": 30}. Supported keys: fallbacks, '
        "num_retries, retry_policy, timeout, allowed_fails, cooldown_time, retry_after, "
        "routing_strategy. Empty: the defaults.",
    },
    "escalate_below": {
        "label": "Escalate below confidence",
        "schema": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
        "description": "Ask the next rung when the answer's confidence is below this. Empty: 0.7.",
    },
    "concurrency": {
        "label": "Concurrent LLM calls per task",
        "schema": {"type": ["integer", "null"], "minimum": 1},
        "description": "Bounded asyncio concurrency of the triage task. Empty: 16.",
    },
    "max_cost_usd": {
        "label": "Budget per run (USD)",
        "schema": {"type": ["number", "null"], "minimum": 0},
        "description": "Once spent, no more escalations in that run. Empty: no budget.",
    },
    "mode": {
        "label": "Mode (live or batch)",
        "schema": {"type": ["string", "null"], "enum": ["live", "batch", None]},
        "description": "live (default): one request per call. batch: the ladder in rounds on provider "
        "batch APIs at about half the price, results within hours; needs a triggerer and a provider with "
        "a batch API (openai, azure, vertex_ai, bedrock). Set TRIAGE_LLM_MODE=batch for the DAG too.",
    },
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "ticket-triage-llm-operators",
        "name": "Ticket triage LLM operators",
        "description": "LiteLLM hook (model ladder, fallbacks, cache) and ticket triage operators.",
        "versions": ["0.1.0"],
        "hooks": [{"integration-name": "LiteLLM", "python-modules": ["llm_operators.hooks.litellm"]}],
        "connection-types": [
            {
                "connection-type": "litellm",
                "hook-class-name": "llm_operators.hooks.litellm.LiteLLMHook",
                "hook-name": "LiteLLM",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login"],
                    "relabeling": {
                        "host": "Default API base (optional)",
                        "password": "Default API key (optional)",
                    },
                    "placeholders": {
                        "host": "https://my-litellm-proxy.example/v1 (empty: each provider's default)",
                        "password": "empty: use OPENAI_API_KEY / ANTHROPIC_API_KEY from the environment",
                        "extra": EXTRA_EXAMPLE,
                    },
                },
                "conn-fields": CONN_FIELDS,
            }
        ],
    }
