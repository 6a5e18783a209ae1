"""Approved reply templates (macros): the only text an automatic reply may contain in template mode.

A model picks a template id from an enum built from this catalogue and may fill typed slots; the code
checks every slot value (pattern, and present in the ticket) and renders the text. So whatever a
ticket talks a model into, what reaches a customer was written and approved by the support team.
The catalogue is data (`reply_templates/templates.json`); a deployment replaces it with its own file
(env `TRIAGE_REPLY_TEMPLATES` or an explicit path). Its `version` is a hash of the content, part of
the prompt version, so a changed catalogue never serves cached answers chosen from the old one.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import string
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from llm_operators.core.config import ConfigError
from llm_operators.core.models import NO_TEMPLATE
from llm_operators.core.taxonomy import Category
from llm_operators.core.text import strip_invisible

ENV_TEMPLATES = "TRIAGE_REPLY_TEMPLATES"
DEFAULT_TEMPLATES = Path(__file__).with_name("reply_templates") / "templates.json"
DEFAULT_LANGUAGE = "en"
# Everything a template text may refer to: catalogue settings and slots. The greeting and closing are
# added by the code, per language.
SETTINGS_KEYS = ("company", "help_center", "status_page")
SLOT_NAMES = ("order_number", "invoice_number")

TemplateId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,63}$")]


class SlotSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pattern: str
    description: str

    @model_validator(mode="after")
    def _compiles(self) -> SlotSpec:
        re.compile(self.pattern)
        return self


class LanguageFrame(BaseModel):
    model_config = ConfigDict(extra="forbid")

    greeting: str
    greeting_named: str
    closing: str


class ReplyTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: TemplateId
    categories: list[Category] = Field(min_length=1)
    use_when: str = Field(min_length=5, max_length=300)
    slots: list[str] = Field(default_factory=list)
    text: dict[str, str]

    @model_validator(mode="after")
    def _consistent(self) -> ReplyTemplate:
        if self.id == NO_TEMPLATE:
            raise ValueError(f"'{NO_TEMPLATE}' is reserved for 'no template fits'")
        if DEFAULT_LANGUAGE not in self.text:
            raise ValueError(f"template {self.id!r} has no '{DEFAULT_LANGUAGE}' text")
        for slot in self.slots:
            if slot not in SLOT_NAMES:
                raise ValueError(
                    f"template {self.id!r}: unknown slot {slot!r} (known: {', '.join(SLOT_NAMES)})"
                )
        allowed = set(SETTINGS_KEYS) | set(self.slots)
        for lang, text in self.text.items():
            used = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
            if used - allowed:
                raise ValueError(
                    f"template {self.id!r} ({lang}) uses {sorted(used - allowed)}; allowed: {sorted(allowed)}"
                )
        return self


class Catalogue(BaseModel):
    """The deployment's approved replies, validated as a whole when loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    settings: dict[str, str]
    slots: dict[str, SlotSpec]
    languages: dict[str, LanguageFrame]
    templates: list[ReplyTemplate] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        ids = [t.id for t in self.templates]
        if len(ids) != len(set(ids)):
            raise ValueError(f"duplicate template ids: {sorted({i for i in ids if ids.count(i) > 1})}")
        if missing := [k for k in SETTINGS_KEYS if k not in self.settings]:
            raise ValueError(f"settings lack {missing}")
        if DEFAULT_LANGUAGE not in self.languages:
            raise ValueError(f"languages lack '{DEFAULT_LANGUAGE}'")
        for t in self.templates:
            if unknown := [lang for lang in t.text if lang not in self.languages]:
                raise ValueError(f"template {t.id!r}: languages {unknown} have no greeting/closing")
            if undeclared := [s for s in t.slots if s not in self.slots]:
                raise ValueError(f"template {t.id!r}: slots {undeclared} are not declared under 'slots'")
        return self

    @functools.cached_property
    def version(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return "tpl-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @functools.cached_property
    def by_id(self) -> dict[str, ReplyTemplate]:
        return {t.id: t for t in self.templates}

    @property
    def ids(self) -> list[str]:
        """The enum of the structured answer: every template, plus 'none'."""
        return [*self.by_id, NO_TEMPLATE]

    @property
    def language_codes(self) -> list[str]:
        return list(self.languages)

    def prompt_section(self) -> str:
        """What the model is told about the templates (ids, when to use, which slots)."""
        lines = [
            "reply_template: the id of the approved reply that answers this ticket, or "
            f'"{NO_TEMPLATE}" if none fits well. Templates:'
        ]
        for t in self.templates:
            slots = f" [needs {', '.join(t.slots)}]" if t.slots else ""
            lines.append(f"  - {t.id} ({', '.join(t.categories)}): {t.use_when}{slots}")
        lines.append(
            "reply_slots: fill a slot only with a value copied exactly from the ticket, else null: "
            + "; ".join(f"{name} = {spec.description}" for name, spec in self.slots.items())
        )
        lines.append(f"reply_language: the ticket's language, one of {', '.join(self.languages)} (else en)")
        return "\n".join(lines)


def load_catalogue(path: str | Path) -> Catalogue:
    """Read and validate a catalogue; a bad file fails with its path and the field at fault."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"reply templates file {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"reply templates file {path}: not JSON (line {exc.lineno}: {exc.msg})") from None
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise ConfigError(f"invalid reply templates in {path}: {problems}") from None


@functools.cache
def _cached(path: str, mtime_ns: int) -> Catalogue:
    return load_catalogue(path)


def catalogue_for(path: str | Path | None = None) -> Catalogue:
    """The catalogue at `path`, else at `$TRIAGE_REPLY_TEMPLATES`, else the bundled one (cached)."""
    chosen = Path(path or os.environ.get(ENV_TEMPLATES) or DEFAULT_TEMPLATES)
    try:
        mtime = chosen.stat().st_mtime_ns
    except FileNotFoundError:
        raise ConfigError(f"reply templates file {chosen} does not exist") from None
    return _cached(str(chosen), mtime)


# --- slots and rendering -----------------------------------------------------------------------------


class SlotError(ValueError):
    """A slot value the code refuses: the reason reads as a gate reason."""


# A plausible personal name: letters, spaces, apostrophes, hyphens; not an id such as CUST-00759.
_NAME = re.compile(r"^[^\W\d_]+(?:[ '\-][^\W\d_]+){0,3}$")


def customer_name(record_value: str | None) -> str | None:
    """The customer's name from the ticket record when it is one (helpdesk exports often hold an id)."""
    if not record_value:
        return None
    value = strip_invisible(record_value).strip()
    return value if 2 <= len(value) <= 40 and _NAME.match(value) else None


def check_slot(catalogue: Catalogue, name: str, value: str | None, ticket_text: str) -> str:
    """The value, if it matches the slot's pattern and appears as a whole token in the ticket."""
    if value is None or not value.strip():
        raise SlotError(f"template slot {name} is empty")
    value = value.strip()
    spec = catalogue.slots[name]
    if not re.fullmatch(spec.pattern, value):
        raise SlotError(f"template slot {name} does not match {spec.pattern}")
    visible = strip_invisible(ticket_text)
    if not re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", visible):
        raise SlotError(f"template slot {name} is not in the ticket")
    return value


def render(
    catalogue: Catalogue,
    template_id: str,
    *,
    language: str,
    slots: dict[str, str | None],
    ticket_text: str,
    customer: str | None,
) -> str:
    """The reply text, or SlotError/KeyError when the template cannot be rendered safely."""
    template = catalogue.by_id[template_id]
    lang = language if language in template.text else DEFAULT_LANGUAGE
    values = {k: catalogue.settings[k] for k in SETTINGS_KEYS}
    for name in template.slots:
        values[name] = check_slot(catalogue, name, slots.get(name), ticket_text)
    frame = catalogue.languages[lang]
    name = customer_name(customer)
    greeting = frame.greeting_named.format(name=name) if name else frame.greeting
    body = template.text[lang].format_map(values)
    return f"{greeting}\n\n{body}\n\n{frame.closing.format(company=catalogue.settings['company'])}"
