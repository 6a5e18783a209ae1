"""Provider metadata: makes Airflow register the `litellm` connection type and its form.

Airflow 3 takes connection types only from providers (an `apache_airflow_provider` entry point,
declared in pyproject.toml), not from plugins. A mistake here breaks `import airflow` for the whole
environment, which is why tests/test_provider_info.py checks it.
"""

from __future__ import annotations

from typing import Any


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
                        "extra": '{"model_list": [{"model_name": "cheap", "litellm_params": {"model": '
                        '"openai/gpt-4o-mini"}}], "ladder": ["cheap"], "router_settings": '
                        '{"num_retries": 2}}',
                    },
                },
                "conn-fields": {
                    "escalate_below": {
                        "label": "Escalate below confidence",
                        "schema": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
                        "description": "Ask the next rung when the answer's confidence is below this (0.7).",
                    },
                    "concurrency": {
                        "label": "Concurrent LLM calls per task",
                        "schema": {"type": ["integer", "null"], "minimum": 1},
                        "description": "Bounded asyncio concurrency of the triage task (16).",
                    },
                    "max_cost_usd": {
                        "label": "Budget per run (USD)",
                        "schema": {"type": ["number", "null"], "minimum": 0},
                        "description": "Once spent, no more escalations in that run.",
                    },
                },
            }
        ],
    }
