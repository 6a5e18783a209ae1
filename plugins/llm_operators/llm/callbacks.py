"""Registering our litellm callbacks, and really unregistering them.

litellm copies a CustomLogger from `litellm.callbacks` into several other lists on the first call
(an OpenTelemetry logger also into `service_callback` when litellm's proxy is installed), so removing
it from `litellm.callbacks` alone leaves it running for every later call in the process.
"""

from __future__ import annotations

LITELLM_CALLBACK_LISTS = (
    "callbacks",
    "input_callback",
    "success_callback",
    "failure_callback",
    "_async_success_callback",
    "_async_failure_callback",
    "service_callback",
)


def register_callback(callback: object) -> bool:
    """Add once; True if it was added now."""
    import litellm  # here, not at the top: tracing imports this module even when it is off

    if any(cb is callback for cb in litellm.callbacks):
        return False
    litellm.callbacks = [*litellm.callbacks, callback]
    return True


def unregister_callback(callback: object) -> None:
    import litellm

    for name in LITELLM_CALLBACK_LISTS:
        current = getattr(litellm, name, None)
        if isinstance(current, list) and any(cb is callback for cb in current):
            setattr(litellm, name, [cb for cb in current if cb is not callback])
