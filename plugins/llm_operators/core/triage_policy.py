"""The ladder a triage task climbs, from the connection's settings and the task's own choices.

Live and batch triage build their `LadderPolicy` here, so both ask the models the same words and
record the same prompt on each outcome; `core/fingerprint.ladder_fingerprint` then keys reuse on it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from llm_operators.core.config import ConfigError, LiteLLMSettings
from llm_operators.core.ladder import LadderPolicy
from llm_operators.core.models import ReplyMode
from llm_operators.core.reply_templates import Catalogue, catalogue_for
from llm_operators.core.spotlight import DEFAULT_MODE, SpotlightMode


class TriageChoices(BaseModel):
    """What a task (its arguments, the DAG's params) chooses beyond the connection's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # template: only approved templates reach customers; free_text: the model's reply, past a judge
    reply_mode: ReplyMode = "template"
    judge_group: str | None = None  # free_text: the judge's model group; None: the ladder's top rung
    spotlight: SpotlightMode = DEFAULT_MODE
    reply_templates: str | None = None  # a catalogue file; None: $TRIAGE_REPLY_TEMPLATES, else bundled

    @classmethod
    def parse(cls, where: str, **values: Any) -> TriageChoices:
        """None means "not chosen here" (the default); a bad value names the argument."""
        try:
            return cls.model_validate({k: v for k, v in values.items() if v is not None})
        except ValidationError as exc:
            first = exc.errors()[0]
            name = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"{where}: {name}={first.get('input')!r}: {first['msg']}") from None

    def catalogue(self) -> Catalogue:
        """The reply templates chosen (a missing or invalid file raises `ConfigError` naming it)."""
        return catalogue_for(self.reply_templates)


def ladder_policy(
    settings: LiteLLMSettings,
    choices: TriageChoices,
    *,
    catalogue: Catalogue,
    rules: str,
    prompt_name: str | None = None,
    prompt_version: str | None = None,
    where: str = "triage",
) -> LadderPolicy:
    """`rules`: the triage rules the models are shown (from Langfuse, or the bundled text)."""
    groups = {d.model_name for d in settings.model_list}
    if choices.judge_group is not None and choices.judge_group not in groups:
        raise ConfigError(
            f"{where}: judge_group={choices.judge_group!r} is not a model group of the connection "
            f"(groups: {', '.join(sorted(groups))})"
        )
    return settings_policy(
        settings,
        catalogue=catalogue,
        spotlight=choices.spotlight,
        reply_mode=choices.reply_mode,
        judge_group=choices.judge_group,
        rules=rules,
        prompt_name=prompt_name,
        prompt_version=prompt_version,
    )


def settings_policy(
    settings: LiteLLMSettings, *, escalate_below: float | None = None, **choices: Any
) -> LadderPolicy:
    """The part of a policy the connection's settings decide, plus the task's `choices`;
    `escalate_below` overrides the settings' (the evaluation's every-rung triage)."""
    return LadderPolicy(
        rungs=settings.ladder,
        escalate_below=settings.escalate_below if escalate_below is None else escalate_below,
        repair_attempts=settings.repair_attempts,
        max_body_chars=settings.max_body_chars,
        redact_pii_for_llm=settings.redact_pii_for_llm,
        **choices,
    )
