"""`LiteLLMBatchHook`: the `litellm` connection's deployments as a `BatchClient` (provider batch APIs).

Same connection as `LiteLLMHook` (its settings, host and password); the client is built on first use,
so the triggerer, which only polls, never builds a Router.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from llm_operators.core.batch_rounds import BatchSettings
from llm_operators.hooks.litellm import LiteLLMHook, set_litellm_environment_defaults


class LiteLLMBatchHook(LiteLLMHook):
    hook_name = "LiteLLM (batch)"

    def __init__(self, *args: Any, batch_settings: BatchSettings | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batch_settings = batch_settings or BatchSettings()

    @cached_property
    def batch_client(self) -> Any:
        """A `BatchClient` (imports litellm: call inside a task or trigger)."""
        settings = self.settings
        conn = self.get_connection(self.litellm_conn_id)
        set_litellm_environment_defaults()
        from llm_operators.llm.batch_client import BatchClient

        return BatchClient(
            settings,
            api_key=conn.password or None,
            api_base=conn.host or None,
            discount=self.batch_settings.discount,
            completion_window=self.batch_settings.completion_window,
        )
