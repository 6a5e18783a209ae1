"""The quality gate: which triaged tickets may be answered automatically, and why the rest may not.

Every rule that fails adds a written reason; one reason is enough for manual review. What may reach a
customer depends on `reply_mode`:

- `template` (default): only an approved template (core/reply_templates.py), rendered by code with
  slot values checked against the ticket. No model-written text is ever sent, so a hijacked model can
  at worst pick the wrong approved answer. "No template fits" goes to a human with the model's draft.
- `free_text`: the model's own reply, if the judge (core/judge.py) approved it and the reply checks
  (links, contact details, promises, credentials, text parroted from the ticket) find nothing.

Incident reports (core/outage.py) are paged and reviewed whatever priority the model gave.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llm_operators.core.config import ConfigError
from llm_operators.core.injection import normalise
from llm_operators.core.models import (
    NO_TEMPLATE,
    GateDecision,
    OutcomeStatus,
    Priority,
    ReplyMode,
    TicketOutcome,
)
from llm_operators.core.outage import detect_incident
from llm_operators.core.pii import PiiKind, find_pii, redact
from llm_operators.core.prompts import SYSTEM_PROMPT
from llm_operators.core.reply_templates import Catalogue, SlotError, catalogue_for, render
from llm_operators.core.text import strip_invisible


class GateRules(BaseModel):
    """Thresholds of the gate; DAG params and operator arguments override the defaults."""

    model_config = ConfigDict(extra="forbid")

    min_confidence: float = Field(default=0.65, ge=0.0, le=1.0)
    min_reply_chars: int = Field(default=40, ge=0, le=2000)
    review_needs_human: bool = True
    review_pii: bool = True
    review_injection: bool = True
    check_reply: bool = True
    allowed_reply_domains: list[str] = Field(default_factory=list)
    page_priorities: list[Priority] = Field(default_factory=lambda: [Priority.P0, Priority.P1])
    reply_mode: ReplyMode = "template"
    # None: $TRIAGE_REPLY_TEMPLATES, else the bundled catalogue
    reply_templates: str | None = None
    # outage, data-loss and security reports: page and review whatever the model said
    review_incidents: bool = True

    @classmethod
    def parse(cls, data: dict, where: str) -> GateRules:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"invalid gate rules in {where}: {problems}") from None


# Any scheme (hxxp:// too), www., a bare domain on a TLD phishing likes, or any domain with a path.
_URL = re.compile(
    r"\b[a-z][a-z0-9+.-]*://[^\s<>\"'()\[\]]+|\bwww\.[^\s<>\"'()\[\]]+"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|co|ly|app|dev|info|biz|xyz|top|site|online|link"
    r"|click|support|help|shop|store|live|page|icu|vip|work|ai|tv|gg|me|us|uk|de|fr|es|it|nl|eu|ru|cn|tk"
    r"|cc|to|gl|gd|sh|ws|pw|su)\b(?:/\S*)?"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,24}/[^\s<>\"']*",
    re.IGNORECASE,
)
# "example[.]com", "example(dot)com", "example<zero-width space>.com": still links to a customer.
_DEFANGED_DOT = re.compile(r"\s*[\[(]\s*(?:\.|dot)\s*[\])]\s*", re.IGNORECASE)
_PROMISE = re.compile(
    r"\b(?:we(?:'ll| will| have| are going to)?|i(?:'ll| will| have)?|you(?:'ll| will)(?: get| receive)?)\b"
    r"[^.!?\n]{0,40}"
    r"\b(?:refund\w*|credit(?:ed)?|discount|compensat\w*|reimburs\w*|free (?:months?|years?|upgrades?))\b"
    r"|\b(?:full refund|money back|guarantee[ds]?|legally|liable|liability|compensation)\b"
    # "Acme will refund", "it will be refunded", "your refund has been approved", "a credit was applied"
    r"|\b(?:will|shall|going to)\s+(?:be\s+)?(?:fully\s+)?(?:refund|credit|reimburs|compensat|waive)\w*"
    r"|\b(?:has|have|was|were) been (?:refunded|credited|reimbursed|compensated|waived)\b"
    r"|\b(?:refund|credit|discount|voucher|coupon|reimbursement|rebate)\b[^.!?\n]{0,40}"
    r"\b(?:approved|issued|processed|granted|applied|confirmed|authori[sz]ed|on its way|on the way)\b"
    r"|\b(?:approved|issued|processed|granted|applied|authori[sz]ed|added)\b[^.!?\n]{0,30}"
    r"\b(?:refund|credit|discount|voucher|coupon|reimbursement|rebate)\b"
    r"|\b\w+ (?:months?|years?) (?:for )?free\b|\bfree (?:months?|years?|upgrades?|of charge)\b"
    # "three months on the house", "every cent back plus a 50 dollar gift card", "taking 75 percent off"
    r"|\bon the house\b|\b(?:months?|years?|weeks?|plan|subscription|upgrade) on us\b|\bgift ?cards?\b"
    r"|\b(?:every|each) (?:cent|penny|dollar|euro)\b|\b(?:cents?|money|payment|fees?) back\b"
    r"|\b\d+(?:[.,]\d+)? ?(?:%|percent|per cent|pct)\s*(?:off|discount|reduction|rebate|back)\b"
    r"|\b(?:take|taking|took|knock\w*|shave\w*|cut\w*)\b[^.!?\n]{0,30}\b\d+(?:[.,]\d+)? ?(?:%|percent"
    r"|per cent"
    r"|dollars?|euros?|pounds?)?\s*off\b"
    r"|(?:[$€£] ?\d+|\b\d+ ?(?:dollars?|euros?|pounds?|usd|eur|gbp))\b[^.!?\n]{0,15}"
    r"\b(?:credit|voucher|gift|coupon|bonus|back|off)\b"
    r"|\b(?:promo|discount|voucher|coupon) ?codes?\b|\bno charge\b|\bwaived?\b",
    re.IGNORECASE,
)
# The gate reads English; in another language any word for a refund or a discount goes to a person.
# Matched on `normalise`d text, so accents do not matter.
_PROMISE_OTHER_LANGUAGES = re.compile(
    r"\b(?:reembols\w*|rembours\w*|(?:ruck)?erstatt\w*|gutschrift\w*|rimbors\w*|descuento|remise|rabatt"
    r"|sconto|desconto|gratuit\w*|kostenlos|gratis)\b"
)
_INTERNAL = re.compile(
    r"\binternal note|\bsystem[- ]?prompt|\bas an ai\b|\bdeveloper mode\b"
    r"|\bmy (?:instructions|rules|guidelines|prompt|configuration)\b"
    r"|\binstructions i (?:was|were|have been|got) given\b"
    r"|\bi (?:was|am|have been) (?:told|instructed|programmed|configured) to\b"
    r"|(?<![a-z])api[_ -]?keys?\b\s*(?:is|are|was|were|attached|below|here|:|=)"
    r"|\b(?:here is|here's|here are|attached is|attached are)\b.{0,20}"
    r"\b(?:api[_ -]?keys?|passwords?|credentials|secrets?|tokens?)\b"
    r"|\b(?:admin|root|master|database|db|internal|system) password\b|\bpassword\s*(?:is|was|:|=)",
    re.IGNORECASE,
)
_WORDS = re.compile(r"[a-z0-9$€£%']+")
# A reply quoting the system prompt for this many consecutive words is leaking it.
_PROMPT_QUOTE_WORDS = 6


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


_SYSTEM_PROMPT_NGRAMS = _ngrams(_WORDS.findall(normalise(SYSTEM_PROMPT)), _PROMPT_QUOTE_WORDS)


def _link_host(link: str) -> str:
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", link.lower())
    host = re.split(r"[/?#:]", host, maxsplit=1)[0]
    return host.rsplit("@", 1)[-1].rstrip(".")


def _host_allowed(link: str, allowed: list[str]) -> bool:
    """The link's host is an allowed domain or a subdomain of one (not merely containing its name:
    `example.com.evil.io` is not `example.com`)."""
    host = _link_host(link)
    return any(host == d or host.endswith("." + d) for d in allowed)


# A free-text reply sharing this many consecutive words with the ticket is repeating the customer
# (or the attacker), which a support agent does not do.
_TICKET_QUOTE_WORDS = 7


def check_reply(
    reply: str, rules: GateRules, injection_excerpts: list[str], ticket_text: str | None = None
) -> list[str]:
    """Reasons why a reply must not go out unreviewed (empty list: it may). Works on any reply text:
    free-text auto-replies, and the drafts shown to reviewers in Slack and Jira (`draft_warnings`)."""
    reasons = []
    allowed = [d.lower().strip().lstrip(".") for d in rules.allowed_reply_domains if d.strip()]
    for m in _URL.finditer(_DEFANGED_DOT.sub(".", strip_invisible(reply))):
        if not _host_allowed(m.group(), allowed):
            reasons.append(f"reply contains a link not on the allow-list ({m.group().rstrip('.,;:!?')[:60]})")
            break
    kinds = {m.kind for m in find_pii(reply)}
    if PiiKind.EMAIL in kinds or PiiKind.PHONE in kinds:
        reasons.append("reply contains contact details (email or phone)")
    if kinds & {PiiKind.SECRET, PiiKind.CARD, PiiKind.IBAN, PiiKind.SSN, PiiKind.IP}:
        reasons.append("reply contains credentials or personal numbers")
    # Excerpts come from `normalise`d text (lower case, accents, zero-width characters and look-alike
    # letters undone); the reply is compared in the same form, as words without punctuation.
    lowered = normalise(reply)
    if _PROMISE.search(reply) or _PROMISE.search(lowered) or _PROMISE_OTHER_LANGUAGES.search(lowered):
        reasons.append("reply promises a refund, credit, discount or legal commitment")
    words = _WORDS.findall(lowered)
    if (
        _INTERNAL.search(reply)
        or _INTERNAL.search(lowered)
        or _ngrams(words, _PROMPT_QUOTE_WORDS) & _SYSTEM_PROMPT_NGRAMS
    ):
        reasons.append("reply mentions internal notes, prompts or credentials")
    # 5 consecutive words of the injected instruction (or of what follows it) means the model parroted it
    reply_grams = _ngrams(words, 5)
    if any(_ngrams(_WORDS.findall(excerpt), 5) & reply_grams for excerpt in injection_excerpts):
        reasons.append("reply repeats the ticket's injected instructions")
    elif ticket_text and _ngrams(words, _TICKET_QUOTE_WORDS) & _ngrams(
        _WORDS.findall(normalise(ticket_text)), _TICKET_QUOTE_WORDS
    ):
        reasons.append(f"reply copies {_TICKET_QUOTE_WORDS} or more consecutive words of the ticket")
    return reasons


def decide(outcome: TicketOutcome, rules: GateRules, catalogue: Catalogue | None = None) -> GateDecision:
    reasons: list[str] = []
    result = outcome.result
    ticket_text = f"{outcome.ticket.subject}\n{outcome.ticket.body}"
    incidents = detect_incident(ticket_text) if rules.review_incidents else []
    if incidents:
        kinds = ", ".join(f"{i.kind.value}: '{i.excerpt}'" for i in incidents)
        given = f"the model said {result.priority}" if result else "no model answer"
        reasons.append(f"incident report ({kinds}): paged and reviewed whatever the priority ({given})")
    if outcome.status is OutcomeStatus.UNRESOLVED or result is None:
        reasons.insert(0, f"unresolved: {outcome.error or 'no valid answer'}")
        return GateDecision(
            route="manual_review",
            reasons=reasons,
            page_engineering=bool(incidents),
            reply_mode=rules.reply_mode,
        )
    if result.confidence < rules.min_confidence:
        reasons.append(f"low confidence {result.confidence:.2f} < {rules.min_confidence:.2f}")
        if outcome.budget_exhausted:
            reasons.append("budget spent: not escalated")
    if rules.review_needs_human and result.needs_human:
        reasons.append("model says needs_human")
    if rules.review_pii and (result.pii_detected or outcome.safety.pii_kinds):
        kinds = ", ".join(outcome.safety.pii_kinds) or "flagged by model"
        reasons.append(f"PII detected ({kinds})")
    if rules.review_injection and outcome.safety.injection_rules:
        reasons.append(f"prompt injection suspected ({', '.join(outcome.safety.injection_rules)})")

    template_id: str | None = None
    if rules.reply_mode == "template":
        catalogue = catalogue or catalogue_for(rules.reply_templates)
        reply, problem = _render_template(outcome, catalogue)
        template_id = result.reply_template
        if problem:
            reasons.append(problem)
    else:
        reply = result.suggested_reply
        if len(reply.strip()) < rules.min_reply_chars:
            reasons.append(f"suggested reply shorter than {rules.min_reply_chars} characters")
        if rules.check_reply:
            reasons.extend(check_reply(reply, rules, outcome.safety.injection_excerpts, ticket_text))
        if outcome.judge is None:
            reasons.append("no judge verdict on the free-text reply")
        elif not outcome.judge.approved:
            reasons.append(
                f"judge rejected the reply ({', '.join(outcome.judge.violations) or 'no rule named'})"
            )
    return GateDecision(
        route="manual_review" if reasons else "auto_reply",
        reasons=reasons,
        page_engineering=result.priority in rules.page_priorities or bool(incidents),
        reply_mode=rules.reply_mode,
        reply=reply,
        template_id=template_id,
        draft_warnings=check_reply(result.suggested_reply, rules, outcome.safety.injection_excerpts),
    )


def _render_template(outcome: TicketOutcome, catalogue: Catalogue) -> tuple[str | None, str | None]:
    """(the rendered approved reply, None) or (None, the reason it cannot be sent)."""
    result = outcome.result
    assert result is not None
    template_id = result.reply_template
    if template_id == NO_TEMPLATE:
        return None, "no reply template fits (the model's draft is attached for the reviewer)"
    template = catalogue.by_id.get(template_id)
    if template is None:
        return None, f"reply template {template_id[:64]!r} is not in the catalogue ({catalogue.version})"
    if result.category not in template.categories:
        return (
            None,
            f"reply template {template_id} is for {', '.join(template.categories)}, not {result.category}",
        )
    try:
        text = render(
            catalogue,
            template_id,
            language=result.reply_language,
            slots=result.reply_slots.model_dump(),
            ticket_text=f"{outcome.ticket.subject}\n{outcome.ticket.body}",
            customer=outcome.ticket.customer,
        )
    except SlotError as exc:
        return None, str(exc)
    return text, None


def reason_key(reason: str) -> str:
    """A reason without its particulars, for counting ("low confidence 0.41 < 0.65" -> "low confidence").

    Redacted too: keys are printed as they are (the Slack digest's "Reasons:" line, the report), and a
    reason without a ':' or '(' would otherwise be printed whole, with whatever value it carries.
    """
    return redact(re.split(r"[:(]| \d", reason, maxsplit=1)[0].strip())
