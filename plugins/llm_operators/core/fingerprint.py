"""What an outcome was computed under, so that a re-run reuses it only when nothing that shapes it changed.

The run fingerprint covers the prompt version and every setting that changes an answer (model list,
ladder, Router settings, thresholds, reply templates); not the ones that only change how fast or how
much is asked (concurrency, budget, cache ttl). The ticket fingerprint adds the ticket as read, so an
edited ticket is triaged again.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from llm_operators.core.config import LiteLLMSettings
from llm_operators.core.ticket import Ticket

# settings that do not change any ticket's answer
_NOT_IN_FINGERPRINT = frozenset({"concurrency", "max_cost_usd", "cache_ttl_s"})


def run_fingerprint(settings: LiteLLMSettings, prompt_version: str, **extra: Any) -> str:
    """`extra`: anything else the answers depend on (e.g. the reply templates' version)."""
    data = settings.model_dump(mode="json", exclude=set(_NOT_IN_FINGERPRINT))
    payload = json.dumps([prompt_version, data, extra], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def ticket_fingerprint(run: str, ticket: Ticket) -> str:
    return hashlib.sha256(f"{run}\n{ticket.model_dump_json()}".encode()).hexdigest()[:24]
