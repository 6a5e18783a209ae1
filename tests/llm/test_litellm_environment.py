"""litellm's process-wide state: nothing set by importing our modules, defaults set before litellm is
imported, and nothing left in litellm's callback lists by a closed TriageRouter (issue 18 step 6)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported: no network
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "True")  # no GitHub fetch either

from llm_operators.core.call_request import CallRequest
from llm_operators.core.config import offline_settings
from llm_operators.llm.environment import LITELLM_ENVIRONMENT_DEFAULTS, registered_callbacks
from llm_operators.llm.router_client import TriageRouter

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"

_PROBE = """
import json, os, sys
before = {k: v for k, v in os.environ.items() if k.startswith("LITELLM")}
import llm_operators.llm
import llm_operators.llm.cache, llm_operators.llm.environment, llm_operators.llm.lazy_router
import llm_operators.llm.limits, llm_operators.llm.breaker, llm_operators.llm.router_client
after_import = {k: v for k, v in os.environ.items() if k.startswith("LITELLM")}
litellm_after_import = "litellm" in sys.modules
from llm_operators.core.config import offline_settings
llm_operators.llm.router_client.TriageRouter(offline_settings()).close()
after_build = {k: v for k, v in os.environ.items() if k.startswith("LITELLM")}
print(json.dumps([before, after_import, litellm_after_import, after_build]))
"""


def test_importing_the_llm_layer_changes_nothing_and_building_a_router_sets_the_defaults() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITELLM")}
    env["PYTHONPATH"] = str(PLUGINS)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    before, after_import, litellm_imported, after_build = json.loads(out.stdout.strip().splitlines()[-1])
    assert before == {} and after_import == {}
    assert litellm_imported is False
    assert after_build == LITELLM_ENVIRONMENT_DEFAULTS


def _ask(router: TriageRouter, ticket_id: str) -> int:
    hi = [{"role": "user", "content": "hi"}]
    request = CallRequest(ticket_id=ticket_id, rung=0, group="fast", messages=hi)
    content, record = asyncio.run(router.call(request))
    assert content is not None
    return record.attempts


def _is_of(callback: object, router: TriageRouter) -> bool:
    """The router's hook, or a bound method of its litellm Router (the Router registers those)."""
    return callback is router.request_hook or getattr(callback, "__self__", None) is router.router


def test_each_router_counts_only_its_own_requests_and_leaves_nothing_registered() -> None:
    first, second = TriageRouter(offline_settings()), TriageRouter(offline_settings())
    try:
        assert any(_is_of(cb, first) for cb in registered_callbacks())
        # both hooks see every request; each counts only the calls of its own router
        assert [_ask(first, "T1"), _ask(second, "T2"), _ask(first, "T3")] == [1, 1, 1]
    finally:
        first.close()
    assert not any(_is_of(cb, first) for cb in registered_callbacks())
    assert any(_is_of(cb, second) for cb in registered_callbacks())
    assert _ask(second, "T4") == 1
    second.close()
    second.close()  # idempotent
    assert not any(_is_of(cb, r) for cb in registered_callbacks() for r in (first, second))
