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
from typing import Literal

from llm_operators.core.injection import detect_injection
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
    }
