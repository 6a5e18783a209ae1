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
from llm_operators.core.pii import PiiKind, find_pii


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


_URL = re.compile(
    r"\b(?:https?://|www\.)[^\s<>\"']+|\b[a-z0-9-]+\.(?:com|net|org|io|co|ly|app|dev)\b(?:/\S*)?",
    re.IGNORECASE,
)
_PROMISE = re.compile(
    r"\b(?:we(?:'ll| will| have| are going to)?|i(?:'ll| will| have)?|you(?:'ll| will)(?: get| receive)?)\b"
    r"[^.!?\n]{0,40}"
    r"\b(?:refund(?:ed)?|credit(?:ed)?|discount|compensat\w*|reimburs\w*|free (?:month|year|upgrade))\b"
    r"|\b(?:full refund|money back|guarantee[ds]?|legally|liable|liability|compensation)\b",
    re.IGNORECASE,
)
_INTERNAL = re.compile(
    r"\b(?:internal note|system prompt|api[_ ]?key|password|as an ai|my instructions)\b", re.IGNORECASE
)


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
    for m in _URL.finditer(reply):
        if not _host_allowed(m.group(), allowed):
            reasons.append(f"reply contains a link not on the allow-list ({m.group()[:60]})")
            break
    kinds = {m.kind for m in find_pii(reply)}
    if PiiKind.EMAIL in kinds or PiiKind.PHONE in kinds:
        reasons.append("reply contains contact details (email or phone)")
    if kinds & {PiiKind.SECRET, PiiKind.CARD, PiiKind.IBAN, PiiKind.SSN}:
        reasons.append("reply contains credentials or personal numbers")
    if _PROMISE.search(reply):
        reasons.append("reply promises a refund, credit, discount or legal commitment")
    if _INTERNAL.search(reply):
        reasons.append("reply mentions internal notes, prompts or credentials")
    # Excerpts come from `normalise`d text (lower case, accents and zero-width characters stripped);
    # the reply is compared in the same form, with line breaks folded like any other whitespace.
    lowered = " ".join(normalise(reply).split())
    for excerpt in injection_excerpts:
        words = excerpt.split()
        # 5 consecutive words of the injected instruction in the reply means the model parroted it
        for i in range(max(len(words) - 4, 0)):
            if " ".join(words[i : i + 5]) in lowered:
                reasons.append("reply repeats the ticket's injected instructions")
                break
        else:
            continue
        break
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
    """A reason without its particulars, for counting ("low confidence 0.41 < 0.65" -> "low confidence")."""
    return re.split(r"[:(]| \d", reason, maxsplit=1)[0].strip()
