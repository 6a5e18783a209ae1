"""The offline/demo model: a deterministic keyword triager that answers like an LLM would.

It exists so that the whole DAG runs with no API key and no network, in demos, tests and CI. It reads
only the ticket text it is sent (never the ground-truth labels) and its confidence follows how clear
the text is: a ticket with several strong keywords of one category is answered confidently, a vague
or mixed one is not. The `fast` tier is deliberately less sure of itself than `careful`, so the
ladder escalates the unclear tickets and stops on the cheap rung for the rest, as a real ladder does.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import Any, Literal

from llm_operators.core.injection import detect_injection, normalise
from llm_operators.core.models import NO_TEMPLATE
from llm_operators.core.pii import find_pii

Tier = Literal["fast", "careful"]

_CATEGORY_KEYWORDS: dict[str, dict[str, float]] = {
    "billing": {
        "invoice": 2,
        "charged": 2,
        "charge": 1.5,
        "refund": 2,
        "payment": 1.5,
        "billing": 2,
        "billed": 2,
        "subscription": 1.5,
        "receipt": 1.5,
        "vat": 1.5,
        "overcharged": 2.5,
        "double charged": 3,
        "credit card": 1.5,
        "price": 1,
        "pricing": 1,
        "plan": 0.7,
        "renewal": 1.5,
        "discount": 1,
        "coupon": 1.5,
        "tax": 1,
        "card was declined": 2.5,
        "declined": 1.5,
        "downgrade": 1,
        "upgrade": 0.7,
    },
    "technical": {
        "error": 1.5,
        "bug": 2,
        "crash": 2,
        "crashes": 2,
        "500": 1.5,
        "api": 1.5,
        "outage": 3,
        "down": 1.5,
        "not working": 1.5,
        "timeout": 2,
        "timeouts": 2,
        "sync": 1.5,
        "integration": 1,
        "webhook": 2,
        "latency": 2,
        "slow": 1.2,
        "exception": 2,
        "stack trace": 2.5,
        "endpoint": 2,
        "server": 1.2,
        "deploy": 1.5,
        "broken": 1.2,
        "export": 1,
        "import": 1,
        "dashboard": 1,
        "502": 1.5,
        "503": 1.5,
        "sdk": 1.5,
        "database": 1.2,
        "freezes": 1.5,
        "blank page": 2,
    },
    "account": {
        "password": 2,
        "login": 1.5,
        "log in": 1.5,
        "sign in": 1.5,
        "2fa": 2.5,
        "two-factor": 2.5,
        "account": 1,
        "locked": 2,
        "locked out": 3,
        "username": 1.5,
        "reset": 1,
        "permissions": 1.5,
        "sso": 2,
        "delete my account": 3,
        "email address": 1,
        "profile": 1,
        "verification": 1.5,
        "invite": 1.2,
        "seat": 1,
        "admin": 1,
        "role": 1,
    },
    "shipping": {
        "order": 1.2,
        "delivery": 2,
        "delivered": 2,
        "shipped": 2,
        "shipping": 2,
        "tracking": 2.5,
        "package": 2,
        "parcel": 2.5,
        "courier": 2.5,
        "arrived": 1.5,
        "damaged": 2,
        "address": 1,
        "warehouse": 2,
        "return label": 2.5,
        "lost": 1,
        "carrier": 2,
        "dispatch": 2,
        "customs": 2,
    },
    "feature_request": {
        "feature": 2,
        "would be great": 2.5,
        "would love": 2,
        "could you add": 2.5,
        "suggestion": 2,
        "wish": 1.5,
        "roadmap": 2,
        "request": 0.7,
        "support for": 1.5,
        "dark mode": 2.5,
        "it would be nice": 2.5,
        "please add": 2.5,
        "idea": 1.5,
        "option to": 1.5,
        "ability to": 1.5,
    },
    "other": {"partnership": 2, "press": 1.5, "job": 1.5, "careers": 2, "donation": 2, "survey": 1.5},
}

_P0 = (
    "outage",
    "all users",
    "all our users",
    "all customers",
    "production is down",
    "production down",
    "everyone",
    "entire",
    "whole team",
    "completely down",
    "nobody can",
    "site is down",
    "for all",
)
_P1 = (
    "urgent",
    "asap",
    "blocked",
    "cannot",
    "can't",
    "unable",
    "immediately",
    "critical",
    "locked out",
    "deadline",
    "losing money",
    "not working",
)
_P3 = ("question", "how do i", "how can i", "wondering", "is it possible", "just curious", "feature", "idea")
_ANGRY = (
    "unacceptable",
    "ridiculous",
    "furious",
    "worst",
    "cancel",
    "lawyer",
    "disgrace",
    "scam",
    "fed up",
    "never again",
    "joke",
    "pathetic",
    "angry",
)
_NEGATIVE = ("disappointed", "frustrated", "annoyed", "still", "again", "unhappy", "problem", "issue")
_POSITIVE = ("thanks", "thank you", "love", "great", "appreciate", "awesome")
_LEGAL = ("lawyer", "legal action", "chargeback", "sue ", "court", "gdpr request", "data protection")

_REPLIES = {
    "billing": "Thank you for contacting us about your billing question. Our billing team is reviewing "
    "your account and will follow up with the details shortly.",
    "technical": "Thanks for reporting this. Our engineers are investigating the problem you described "
    "and we will update you as soon as we know more.",
    "account": "Thanks for reaching out about your account. For your security we will guide you through "
    "the next steps in a follow-up message shortly.",
    "shipping": "Thank you for your message about your order. We are checking its status with our "
    "fulfilment team and will get back to you with an update soon.",
    "feature_request": "Thank you for the suggestion! We have shared it with our product team, who "
    "review every request when planning the roadmap.",
    "other": "Thank you for getting in touch. We have received your message and the right team will "
    "get back to you shortly.",
}
_P0_REPLY = (
    "We are aware of a service disruption affecting your workspace. Our engineering team is "
    "working on it with the highest priority and will post updates until it is resolved."
)


@functools.cache
def _word_pattern(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])")


def _has(text: str, word: str) -> bool:
    # the substring test first: most keywords are absent, and `in` is far cheaper than a regex
    return word in text and _word_pattern(word).search(text) is not None


def _hits(text: str, words: tuple[str, ...]) -> list[str]:
    return [w for w in words if _has(text, w)]


def _jitter(text: str, tier: Tier) -> float:
    """Deterministic pseudo-noise in [-0.05, 0.05]: a real model is not a step function either."""
    digest = hashlib.sha256(f"{tier}:{text}".encode()).digest()
    return (digest[0] / 255 - 0.5) / 10


def triage_text(text: str, tier: Tier = "fast") -> dict[str, object]:
    """Answer one ticket (its delimited text block) with a triage-result dict."""
    lower = text.lower()
    scores = {
        cat: sum(weight for word, weight in words.items() if _has(lower, word))
        for cat, words in _CATEGORY_KEYWORDS.items()
    }
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    (top_cat, top), (_, second) = ranked[0], ranked[1]
    category = top_cat if top > 0 else "other"

    p0, p1, p3 = _hits(lower, _P0), _hits(lower, _P1), _hits(lower, _P3)
    if p0 and category == "technical":
        priority = "P0"
    elif p1 or p0:
        priority = "P1"
    elif p3 or category == "feature_request":
        priority = "P3"
    else:
        priority = "P2"

    caps_words = len(re.findall(r"\b[A-Z]{3,}\b", text))
    exclamations = text.count("!")
    angry, negative, positive = _hits(lower, _ANGRY), _hits(lower, _NEGATIVE), _hits(lower, _POSITIVE)
    if angry or caps_words >= 3 or exclamations >= 3:
        sentiment = "angry"
    elif negative:
        sentiment = "negative"
    elif positive:
        sentiment = "positive"
    else:
        sentiment = "neutral"

    pii = bool(find_pii(text))
    injection = detect_injection(text)
    legal = _hits(lower, _LEGAL)

    # Clarity: how much evidence, and how far the winner is ahead of the runner-up.
    evidence = min(top / 4.0, 1.0)
    margin = (top - second) / top if top else 0.0
    confidence = 0.40 + 0.32 * evidence + 0.26 * margin
    if tier == "careful":
        confidence += 0.15  # the stronger model is surer, and usually right to be
    if len(lower.split()) < 12:
        confidence -= 0.08  # too short to be sure of anything
    confidence = round(min(max(confidence + _jitter(lower, tier), 0.05), 0.98), 3)

    needs_human = bool(
        injection
        or legal
        or category == "other"
        or priority == "P0"
        or (sentiment == "angry" and "cancel" in angry)
        or confidence < 0.5
    )
    reply = _P0_REPLY if priority == "P0" else _REPLIES[category]
    template = NO_TEMPLATE if injection or legal else choose_template(lower, category, priority)
    why = [f"{category} keywords score {top:g} vs {second:g}"]
    if injection:
        why.append("text tries to instruct the assistant")
    if legal:
        why.append("legal/chargeback language")
    return {
        "category": category,
        "priority": priority,
        "sentiment": sentiment,
        "pii_detected": pii,
        "needs_human": needs_human,
        "suggested_reply": reply,
        "confidence": confidence,
        "rationale": "; ".join(why),
        "reply_template": template,
        "reply_language": detect_language(lower),
        "reply_slots": {
            "order_number": _first(_ORDER, text),
            "invoice_number": _first(_INVOICE, text),
        },
    }


# --- reply templates ---------------------------------------------------------------------------------

_ORDER = re.compile(r"(?<![\w-])ORD-\d{4,10}(?![\w-])")
_INVOICE = re.compile(r"(?<![\w-])INV-\d{3,10}(?![\w-])")
# A few very common words per language; the language with most hits wins, English by default.
_STOPWORDS = {
    "de": (
        "und",
        "nicht",
        "ich",
        "ist",
        "mein",
        "meine",
        "bitte",
        "danke",
        "wir",
        "die",
        "der",
        "das",
        "mit",
    ),
    "es": ("el", "los", "las", "que", "por", "para", "mi", "gracias", "pedido", "hola", "una", "con", "no"),
    "fr": ("le", "les", "des", "est", "pas", "mon", "ma", "je", "nous", "merci", "bonjour", "une", "avec"),
    "en": ("the", "and", "is", "my", "not", "please", "thanks", "we", "with", "our", "you", "i", "it"),
}


def detect_language(lower: str) -> str:
    words = re.findall(r"[a-zà-ÿ]+", lower)
    counts = {lang: sum(w in stop for w in words) for lang, stop in _STOPWORDS.items()}
    best = max(counts, key=lambda lang: (counts[lang], lang == "en"))
    return best if counts[best] > counts["en"] else "en"


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    m = pattern.search(text)
    return m.group() if m else None


def _any(text: str, *words: str) -> bool:
    return any(_has(text, w) for w in words)


def choose_template(lower: str, category: str, priority: str) -> str:
    """The approved reply a support agent would pick for this ticket, by its words."""
    if category == "billing":
        if _any(lower, "refund", "refunded", "money back", "reembolso", "remboursement", "erstattung"):
            return "refund_how_it_works"
        if _any(lower, "declined", "card expired", "payment failed", "failed payment", "update my card"):
            return "payment_declined"
        if _INVOICE.search(lower.upper()) and _any(
            lower, "correct", "reissue", "re-issue", "wrong", "adjust", "fix"
        ):
            return "invoice_correction"
        if _any(
            lower,
            "charged twice",
            "double charged",
            "overcharged",
            "recognize",
            "recognise",
            "unauthorized",
            "unauthorised",
            "charge",
            "charged",
        ):
            return "charge_unrecognised"
        if _any(lower, "invoice", "invoices", "receipt", "vat", "rechnung", "factura", "facture"):
            return "invoice_where_to_find"
        return "general_acknowledgement"
    if category == "account":
        if _any(lower, "2fa", "two-factor", "authenticator", "backup code", "backup codes"):
            return "two_factor_recovery"
        if _any(
            lower,
            "password",
            "reset",
            "forgot",
            "log in",
            "login",
            "sign in",
            "locked out",
            "passwort",
            "contrasena",
            "mot de passe",
        ):
            return "password_reset"
        if _any(
            lower, "invite", "seat", "seats", "role", "roles", "permissions", "remove a user", "add a user"
        ):
            return "team_members_and_roles"
        return "general_acknowledgement"
    if category == "technical":
        if priority == "P0":
            return "incident_status_page"
        if _any(
            lower, "api", "webhook", "webhooks", "429", "rate limit", "sync", "integration", "endpoint", "sdk"
        ):
            return "api_errors_and_limits"
        return "troubleshooting_first_steps"
    if category == "shipping":
        if _any(lower, "damaged", "broken", "wrong item", "missing item", "smashed", "defective"):
            return "damaged_or_wrong_item"
        if _any(lower, "change the address", "change my address", "wrong address", "delivery address"):
            return "shipping_address_change"
        if _ORDER.search(lower.upper()):
            return "order_status_with_number"
        return "order_tracking"
    if category == "feature_request":
        return "feature_request_ack"
    return NO_TEMPLATE  # "other": nothing approved fits, a person answers


# --- the judge (free-text reply mode) ----------------------------------------------------------------


def answer_messages(messages: list[dict[str, Any]], tier: Tier = "fast") -> dict[str, Any]:
    """What the offline model answers to a chat: a verdict to the judge's prompt, else a triage."""
    from llm_operators.core.judge import JUDGE_HEADER, extract_reply
    from llm_operators.core.prompts import extract_ticket_text

    system = next((m.get("content") for m in messages if m.get("role") == "system"), "")
    if isinstance(system, str) and system.startswith(JUDGE_HEADER):
        return judge_text(extract_reply(messages))
    return triage_text(extract_ticket_text(messages), tier)


_MONEY = re.compile(
    r"\b(refund\w*|credit\w*|discount\w*|voucher\w*|coupon\w*|gift ?cards?|rebate\w*|compensat\w*"
    r"|reimburs\w*|free|on the house|on us|no charge|waive\w*|money back|cent back|percent off|% off"
    r"|\d+ ?(%|percent|per cent)|promo\w*)\b|[$€£]\s?\d|\d\s?(dollars?|euros?|pounds?|usd|eur|gbp)\b"
)
_CODE = re.compile(
    r"```|\b(select|insert|update|delete|drop|union)\b[^.\n]{0,40}\b(from|into|table|set|where)\b"
    r"|<\s*/?\s*[a-z]+[^>]*>|\b(sudo|curl|wget|rm -rf|powershell|bash)\b|;\s*--"
)
# "Use SORRY75 at checkout": a code-like token the customer is told to use is a discount in disguise
_CODE_TOKEN = re.compile(
    r"\b(use|enter|apply|redeem|type|quote)\b[^.!?\n]{0,20}\b(?!ORD-|INV-)[A-Z][A-Z0-9-]*\d[A-Z0-9-]*\b"
    r"|\bat (the )?checkout\b",
)
_ACTIONS = re.compile(
    r"\b(verify|confirm|re-?enter|update) (your )?(card|payment|bank|account details|identity)\b"
    r"|\b(install|download|wire|transfer|pay)\b"
)


def judge_text(reply: str) -> dict[str, Any]:
    """A strict reading of the reply policy (core/judge.py), rule by rule, on the reply alone."""
    from llm_operators.core.gate import GateRules, check_reply  # the gate imports the prompts: no cycle

    lower = normalise(reply)
    violations: list[str] = []
    for reason in check_reply(reply, GateRules(), []):
        if "link" in reason:
            violations.append("links")
        elif "contact" in reason:
            violations.append("contact")
        elif "promises" in reason:
            violations.append("money")
        else:
            violations.append("secrets")
    if _MONEY.search(lower) or _CODE_TOKEN.search(reply):
        violations.append("money")
    if _CODE.search(lower):
        violations.append("code")
    if _ACTIONS.search(lower):
        violations.append("actions")
    violations = sorted(set(violations))
    return {
        "approved": not violations,
        "violations": violations,
        "reason": "breaks " + ", ".join(violations) if violations else "a plain, policy-conforming reply",
    }
