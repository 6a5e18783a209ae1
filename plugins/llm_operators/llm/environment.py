"""litellm's process-wide state, set and undone in one place.

litellm keeps its configuration in module globals: environment variables read at import, the callback
lists, the response cache, the custom provider map and its loggers. Everything this project puts
there goes through the functions below, so that nothing happens at import time and a closed
`TriageRouter` leaves nothing behind. Importing this module does not import litellm.
"""

from __future__ import annotations

import logging
import os
import sys
from types import ModuleType
from typing import Any

# litellm reads these when imported or at its first call; without them it downloads its model cost
# map and Anthropic's beta-header table from GitHub. A worker must not depend on that (or on any
# network at import), so they default to the copies shipped in the wheel.
# https://docs.litellm.ai/docs/completion/token_usage ("Don't pull hosted model_cost_map")
LITELLM_ENVIRONMENT_DEFAULTS = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
}
_LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")


def set_litellm_environment_defaults() -> None:
    """Call before the first `import litellm`; values already in the environment win."""
    for name, value in LITELLM_ENVIRONMENT_DEFAULTS.items():
        os.environ.setdefault(name, value)


def import_litellm() -> ModuleType:
    """The litellm module, imported with the environment defaults in place."""
    set_litellm_environment_defaults()
    import litellm

    return litellm


def quiet_litellm() -> None:
    """No banners, and no INFO line per request or per Router build (the retry policy dict...).

    Warnings and errors still get through; `LITELLM_LOG=DEBUG` (litellm's own switch) is respected.
    """
    import_litellm().suppress_debug_info = True
    if os.environ.get("LITELLM_LOG"):
        return
    for name in _LITELLM_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)


def add_callback(callback: Any) -> None:
    """Through litellm's callback manager, which refuses duplicates."""
    import_litellm().logging_callback_manager.add_litellm_callback(callback)


def remove_callback(callback: Any) -> None:
    """From every list litellm may have copied it into.

    On the first call litellm copies each `CustomLogger` of `litellm.callbacks` into its input,
    success and failure lists; the callback manager's `remove_callback_from_all_lists` covers all but
    the input list (and the service list, which litellm's proxy fills), so those two are done here.
    """
    litellm = import_litellm()
    manager = litellm.logging_callback_manager
    manager.remove_callback_from_all_lists(callback)
    for callbacks in (litellm.input_callback, litellm.service_callback):
        manager.remove_callback_from_list_by_object(callbacks, callback, require_self=False)


def registered_callbacks() -> list[Any]:
    """Every callback litellm would run, for tests that check nothing is left behind."""
    litellm = import_litellm()
    return [
        *litellm.logging_callback_manager.get_all_callbacks(),
        *litellm.input_callback,
        *litellm.service_callback,
    ]


def disable_litellm_cache() -> None:
    """LiteLLM's own response cache must not answer instead of ours (it keys by the group that
    answered; see llm/cache.py). Never imports litellm just to say there is no cache."""
    litellm = sys.modules.get("litellm")
    if litellm is not None and litellm.cache is not None:
        litellm.disable_cache()  # https://docs.litellm.ai/docs/caching/all_caches


def install_offline_provider() -> None:
    """The offline model as litellm's custom provider `offline` (idempotent)."""
    set_litellm_environment_defaults()
    from llm_operators.llm.offline_provider import register_offline_provider

    register_offline_provider()
