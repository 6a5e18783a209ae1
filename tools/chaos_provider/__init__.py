"""Fault-injecting ("chaos") LLM provider for tests and outage rehearsals: a tool, not product,
so it lives in tools/ outside the installed ``llm_operators`` package.

Speaks OpenAI Chat Completions (``/v1/chat/completions``) and Anthropic Messages
(``/v1/messages``) on 127.0.0.1 only, and injects latency, HTTP errors, hangs, outages and
malformed triage answers according to a per-model :class:`ChaosConfig`.

    from chaos_provider import ChaosConfig, ChaosServer

    with ChaosServer(ChaosConfig(models={"primary": {"outage": True}})) as server:
        litellm.completion(model="openai/primary", api_base=server.openai_base, api_key="sk-x", ...)
        server.stats()["models"]["primary"]["outcomes"]  # {"outage": 1}

Operator docs (command line): ``python -m chaos_provider --help``.
Stdlib + pydantic only: importing this package never imports litellm or airflow.
"""

from .config import DEFAULT_RESULT, MALFORMED_KINDS, ChaosConfig, MalformedKind, ModelBehaviour, OutageWindow
from .server import ChaosServer, ContentFn, estimate_tokens, malform

__all__ = [
    "DEFAULT_RESULT",
    "MALFORMED_KINDS",
    "ChaosConfig",
    "ChaosServer",
    "ContentFn",
    "MalformedKind",
    "ModelBehaviour",
    "OutageWindow",
    "estimate_tokens",
    "malform",
]
