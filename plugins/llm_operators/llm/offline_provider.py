"""Registers the offline/demo model with LiteLLM as the custom provider `offline`.

Deployments `offline/fast` and `offline/careful` then behave like any hosted model: the Router routes,
retries, falls back, caches and prices them (prices come from the deployment's `litellm_params`).
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import litellm
from litellm import CustomLLM, ModelResponse
from litellm.types.utils import Choices, Message, Usage

from llm_operators.core.config import OFFLINE_PROVIDER
from llm_operators.core.offline_engine import answer_messages


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class OfflineTriageLLM(CustomLLM):
    """Deterministic, network-free; answers the triage prompt in the TriageResult JSON schema, and the
    judge's prompt (free-text reply mode) with a verdict."""

    def _answer(
        self, model: str, messages: list[dict[str, Any]], model_response: ModelResponse
    ) -> ModelResponse:
        tier = "careful" if model.endswith("careful") else "fast"
        content = json.dumps(answer_messages(messages, tier))
        prompt_text = "".join(str(m.get("content", "")) for m in messages)
        usage = Usage(
            prompt_tokens=_estimate_tokens(prompt_text),
            completion_tokens=_estimate_tokens(content),
            total_tokens=_estimate_tokens(prompt_text) + _estimate_tokens(content),
        )
        model_response.choices = [Choices(index=0, finish_reason="stop", message=Message(content=content))]
        model_response.model = f"{OFFLINE_PROVIDER}/{model}"
        model_response.created = int(time.time())
        model_response.usage = usage  # type: ignore[attr-defined]
        return model_response

    @staticmethod
    def _log_pre_call(kwargs: dict[str, Any]) -> None:
        """What every hosted provider does before its request: callbacks see one attempt each."""
        logging_obj = kwargs.get("logging_obj")
        if logging_obj is None:
            return
        with contextlib.suppress(Exception):  # logging must never cost an answer
            logging_obj.pre_call(
                input=kwargs["messages"],
                api_key="",
                additional_args={"complete_input_dict": {"model": kwargs["model"]}, "api_base": None},
            )

    def completion(self, *args: Any, **kwargs: Any) -> ModelResponse:
        self._log_pre_call(kwargs)
        return self._answer(kwargs["model"], kwargs["messages"], kwargs["model_response"])

    async def acompletion(self, *args: Any, **kwargs: Any) -> ModelResponse:
        self._log_pre_call(kwargs)
        return self._answer(kwargs["model"], kwargs["messages"], kwargs["model_response"])


_HANDLER = OfflineTriageLLM()


def register_offline_provider() -> None:
    """Idempotent: litellm keeps a global provider map, so register once per process."""
    if any(entry.get("provider") == OFFLINE_PROVIDER for entry in litellm.custom_provider_map):
        return
    litellm.custom_provider_map = [
        *litellm.custom_provider_map,
        {"provider": OFFLINE_PROVIDER, "custom_handler": _HANDLER},
    ]
