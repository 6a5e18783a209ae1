"""What an outcome was computed under, so that a re-run reuses it only when nothing that shapes it changed.

The run fingerprint covers the prompt version and every setting that changes an answer (model list,
ladder, Router settings, thresholds, reply templates and reply mode, the managed prompt's name and
version); not the ones that only change how fast, how much or by which route it is asked
(concurrency, budget, cache ttl, live or batch mode: a batch answer is the same answer at half the
price, so live and batch runs reuse each other's outcomes). The ticket fingerprint adds the ticket
as read, so an edited ticket is triaged again.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from llm_operators.core.config import LiteLLMSettings
from llm_operators.core.ticket import Ticket

if TYPE_CHECKING:
    from llm_operators.core.ladder import LadderPolicy

# settings that do not change any ticket's answer
_NOT_IN_FINGERPRINT = frozenset({"concurrency", "max_cost_usd", "cache_ttl_s", "mode", "batch"})


def run_fingerprint(settings: LiteLLMSettings, prompt_version: str, **extra: Any) -> str:
    """`prompt_version`: `core.prompts.prompt_version` of what the models are shown (rules, catalogue,
    judge prompt). `extra`: anything else the answers or the outcomes' records depend on (reply mode,
    templates' version, spotlighting, the managed prompt's `name@version`)."""
    data = settings.model_dump(mode="json", exclude=set(_NOT_IN_FINGERPRINT))
    payload = json.dumps([prompt_version, data, extra], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def ladder_fingerprint(settings: LiteLLMSettings, policy: LadderPolicy) -> str:
    """The run fingerprint of a ladder built from `settings` (core/triage_policy.ladder_policy)."""
    from llm_operators.core.prompts import SYSTEM_PROMPT, prompt_version
    from llm_operators.core.reply_templates import catalogue_for

    catalogue = policy.catalogue or catalogue_for()
    free_text = policy.reply_mode == "free_text"
    return run_fingerprint(
        settings,
        prompt_version(catalogue, rules=policy.rules or SYSTEM_PROMPT),
        templates=catalogue.version,
        reply_mode=policy.reply_mode,
        judge_group=(policy.judge_group or policy.rungs[-1]) if free_text else None,
        spotlight=policy.spotlight,
        # the outcomes record the prompt's name and version: a new version (even with the same text,
        # whose answers the cache still serves for free) gets outcomes that say so
        prompt=f"{policy.prompt_name}@{policy.prompt_version}",
    )


def ticket_fingerprint(run: str, ticket: Ticket) -> str:
    return hashlib.sha256(f"{run}\n{ticket.model_dump_json()}".encode()).hexdigest()[:24]
