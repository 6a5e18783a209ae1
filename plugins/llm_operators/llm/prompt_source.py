"""Where the triage prompt's rules come from: Langfuse prompt management, else the bundled text.

The managed part is the rules (`core.prompts.SYSTEM_PROMPT`): the spotlighting instructions and the
reply-template catalogue stay in code, because they must match the code that parses the answer.
A Langfuse text prompt (name and label, fetched through the SDK's `get_prompt` with its cache TTL)
replaces the rules when it can be fetched and still tells the model where the ticket is (the
`<ticket>` delimiters); otherwise the bundled rules are used, and the log says why once per source.

`ResolvedPrompt.ref` names exactly what the model was shown (`name@version` for Langfuse,
`name@bundled-<sha>` for the bundled text): it goes on each outcome, into the cache namespace and
the checkpoint fingerprint, so answers to one version are never served for another.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llm_operators.llm.langfuse_client import LangfuseSettings, langfuse_client

log = logging.getLogger(__name__)

DEFAULT_PROMPT_NAME = "ticket-triage-rules"
DEFAULT_LABEL = "production"
DEFAULT_CACHE_TTL_S = 60  # the SDK's own default
REQUIRED_MARKERS = ("<ticket>", "</ticket>")  # core.prompts.TICKET_OPEN / TICKET_CLOSE

PromptOrigin = Literal["langfuse", "bundled"]


def bundled_rules() -> str:
    from llm_operators.core.prompts import SYSTEM_PROMPT

    return SYSTEM_PROMPT


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class ResolvedPrompt(BaseModel):
    """The rules one run uses, and where they came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: int | None = Field(description="Langfuse prompt version; None for the bundled text")
    text: str
    source: PromptOrigin
    label: str | None = None

    @property
    def version_tag(self) -> str:
        """What an outcome records as the version: `3`, or `bundled-<sha of the text>`."""
        return str(self.version) if self.version is not None else f"bundled-{text_digest(self.text)}"

    @property
    def ref(self) -> str:
        """`name@version_tag`: for the cache namespace and the checkpoint fingerprint."""
        return f"{self.name}@{self.version_tag}"

    @property
    def langfuse_link(self) -> dict[str, Any] | None:
        """The generation -> prompt version link (`propagate_attributes(prompt=...)`); a bundled
        prompt has no Langfuse version to link to."""
        if self.source != "langfuse" or self.version is None:
            return None
        return {"name": self.name, "version": self.version}

    @classmethod
    def bundled(cls, name: str = DEFAULT_PROMPT_NAME) -> ResolvedPrompt:
        return cls(name=name, version=None, text=bundled_rules(), source="bundled")


class PromptProblem(ValueError):
    """A Langfuse prompt that cannot replace the bundled rules; the message says why."""


def check_rules(text: str, where: str) -> str:
    if not text.strip():
        raise PromptProblem(f"{where} is empty")
    missing = [m for m in REQUIRED_MARKERS if m not in text]
    if missing:
        raise PromptProblem(
            f"{where} does not mention {' and '.join(missing)}: the model would not know the ticket "
            "is untrusted data"
        )
    return text


@dataclass
class PromptSource:
    """Resolves the triage rules for a task. With `settings` None (no Langfuse), always bundled."""

    settings: LangfuseSettings | None
    name: str = DEFAULT_PROMPT_NAME
    label: str = DEFAULT_LABEL
    cache_ttl_seconds: int = DEFAULT_CACHE_TTL_S
    max_retries: int = 1
    fetch_timeout_seconds: int = 5
    _said: set[str] = field(default_factory=set, repr=False)

    def resolve(self) -> ResolvedPrompt:
        if self.settings is None:
            return self._fallback("Langfuse is not configured", level=logging.INFO)
        where = f"Langfuse prompt {self.name!r} (label {self.label!r}) at {self.settings.host}"
        try:
            prompt = langfuse_client(self.settings).get_prompt(
                self.name,
                label=self.label,
                type="text",
                cache_ttl_seconds=self.cache_ttl_seconds,
                max_retries=self.max_retries,
                fetch_timeout_seconds=self.fetch_timeout_seconds,
            )
        except Exception as exc:  # unreachable, unknown name, bad key: the bundled rules still work
            return self._fallback(f"{where} could not be fetched ({type(exc).__name__})")
        if not isinstance(prompt.prompt, str):
            return self._fallback(f"{where} is a chat prompt; a text prompt is expected")
        try:
            text = check_rules(prompt.prompt, where)
        except PromptProblem as exc:
            return self._fallback(str(exc), level=logging.ERROR)
        resolved = ResolvedPrompt(
            name=self.name, version=prompt.version, text=text, source="langfuse", label=self.label
        )
        self._say(f"triage prompt {resolved.ref} from Langfuse ({self.settings.host})")
        return resolved

    def _fallback(self, reason: str, level: int = logging.WARNING) -> ResolvedPrompt:
        resolved = ResolvedPrompt.bundled(self.name)
        self._say(f"{reason}: using the bundled triage prompt {resolved.ref}", level)
        return resolved

    def _say(self, message: str, level: int = logging.INFO) -> None:
        if message not in self._said:
            self._said.add(message)
            log.log(level, message)


def upload_bundled_prompt(
    settings: LangfuseSettings,
    *,
    name: str = DEFAULT_PROMPT_NAME,
    labels: tuple[str, ...] = (),
    force: bool = False,
) -> tuple[ResolvedPrompt, bool]:
    """Creates a new version of `name` holding the bundled rules; (prompt, created).

    Nothing is created when the newest version already holds the same text (unless `force`).
    `labels` (e.g. `production`) are given to the new version; without them it is only `latest`
    and runs keep using the version their label points to."""
    text = check_rules(bundled_rules(), "the bundled prompt")
    client = langfuse_client(settings)
    if not force:
        try:
            latest = client.get_prompt(name, label="latest", type="text", cache_ttl_seconds=0, max_retries=0)
        except Exception:  # none yet (404), or unreadable: create one
            latest = None
        if latest is not None and latest.prompt == text:
            return ResolvedPrompt(
                name=name, version=latest.version, text=text, source="langfuse", label="latest"
            ), False
    created = client.create_prompt(
        name=name,
        prompt=text,
        type="text",
        labels=list(labels),
        commit_message=f"bundled rules {text_digest(text)} (ticket-triage-airflow)",
    )
    return ResolvedPrompt(
        name=name,
        version=created.version,
        text=text,
        source="langfuse",
        label=labels[0] if labels else "latest",
    ), True
