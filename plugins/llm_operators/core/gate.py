"""The quality gate: which triaged tickets may be answered automatically, and why the rest may not.

Every rule that fails adds a written reason; one reason is enough for manual review. The reply itself
is checked too (links, contact details, promises, credentials, text parroted from an injection),
because a model talked into a bad answer can still be confident about it.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llm_operators.core.config import ConfigError
from llm_operators.core.injection import normalise
from llm_operators.core.models import GateDecision, OutcomeStatus, Priority, TicketOutcome
from llm_operators.core.pii import PiiKind, find_pii, redact
from llm_operators.core.prompts import SYSTEM_PROMPT


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
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
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
    r"|\b\w+ (?:months?|years?) (?:for )?free\b|\bfree (?:months?|years?|upgrades?|of charge)\b",
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


def check_reply(reply: str, rules: GateRules, injection_excerpts: list[str]) -> list[str]:
    """Reasons why a reply must not go out unreviewed (empty list: it may)."""
    reasons = []
    allowed = [d.lower().strip().lstrip(".") for d in rules.allowed_reply_domains if d.strip()]
    for m in _URL.finditer(_DEFANGED_DOT.sub(".", reply.translate(_INVISIBLE))):
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
    return reasons


def decide(outcome: TicketOutcome, rules: GateRules) -> GateDecision:
    reasons: list[str] = []
    result = outcome.result
    if outcome.status is OutcomeStatus.UNRESOLVED or result is None:
        reasons.append(f"unresolved: {outcome.error or 'no valid answer'}")
        return GateDecision(route="manual_review", reasons=reasons)
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
    if len(result.suggested_reply.strip()) < rules.min_reply_chars:
        reasons.append(f"suggested reply shorter than {rules.min_reply_chars} characters")
    if rules.check_reply:
        reasons.extend(check_reply(result.suggested_reply, rules, outcome.safety.injection_excerpts))
    return GateDecision(
        route="manual_review" if reasons else "auto_reply",
        reasons=reasons,
        page_engineering=result.priority in rules.page_priorities,
    )


def reason_key(reason: str) -> str:
    """A reason without its particulars, for counting ("low confidence 0.41 < 0.65" -> "low confidence").

    Redacted too: keys are printed as they are (the Slack digest's "Reasons:" line, the report), and a
    reason without a ':' or '(' would otherwise be printed whole, with whatever value it carries.
    """
    return redact(re.split(r"[:(]| \d", reason, maxsplit=1)[0].strip())
