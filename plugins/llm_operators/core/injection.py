"""Deterministic detection of prompt-injection attempts in ticket text.

A flagged ticket is never auto-replied, whatever the model answered: the gate, not the model's
goodwill, is the defence. Patterns are matched on a normalised copy of the text (lower case, accents
and zero-width characters stripped, whitespace folded) so that trivial obfuscation does not slip by.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)

# (name, pattern) on normalised text. Names end up in gate reasons, so they read as reasons.
_RULES: tuple[tuple[str, str], ...] = (
    (
        "instruction override",
        r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(previous|prior|above|earlier|all|your|the)\b"
        r".{0,30}\b(instructions?|rules?|prompts?|guidelines?|directions?|polic(y|ies))\b",
    ),
    ("instruction override", r"\bnew (instructions?|rules?)\s*:"),
    (
        "instruction override",
        r"\b(ignora|ignorez|ignoriere|ignorar)\b.{0,40}\b(instrucciones|instructions|anweisungen|instrucoes)\b",
    ),
    ("role-play", r"\byou are (now|no longer)\b|\bact as\b|\bpretend (to be|you are)\b|\broleplay\b"),
    ("role-play", r"\b(developer|dan|god|admin|jailbreak) mode\b"),
    (
        "fake system message",
        r"(^|\n|\s)(system|assistant|developer)\s*(:|>|\])|\[/?(inst|system)\]|<\|im_start\|>",
    ),
    (
        "prompt or secret exfiltration",
        r"\b(reveal|print|show|repeat|output|tell me|leak|dump)\b.{0,40}"
        r"\b(system prompt|prompt|instructions|api key|keys?|secrets?|password|credentials|config)\b",
    ),
    (
        "forced commitment",
        r"\b(promise|guarantee|confirm|grant|approve|issue|give)\b.{0,40}"
        r"\b(full refund|refund|credit|discount|free (month|year|upgrade)|compensation)\b"
        r".{0,60}\b(in your (reply|answer|response)|reply|respond|say|write|state)\b",
    ),
    (
        "forced commitment",
        r"\b(reply|respond|answer|say|write|state)\b.{0,40}\b(that )?(you|we) (will|shall) "
        r"(refund|credit|compensate|give)\b",
    ),
    (
        "link injection",
        r"\b(include|add|insert|put|append)\b.{0,40}\b(this )?(link|url|website)\b",
    ),
    (
        "output manipulation",
        r"\b(mark|set|classify|label|triage)\b.{0,30}\b(this|the ticket|it)\b.{0,30}"
        r"\b(as|to)\b.{0,10}\b(p[0-3]|low priority|resolved|not urgent|no human)\b",
    ),
)
_COMPILED = tuple((name, re.compile(p, re.IGNORECASE | re.DOTALL)) for name, p in _RULES)


@dataclass(frozen=True)
class InjectionFinding:
    rule: str
    excerpt: str  # the matched text, so the gate can refuse replies that copy it


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).translate(_ZERO_WIDTH)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[ \t]+", " ", text).lower()


def detect_injection(text: str) -> list[InjectionFinding]:
    norm = normalise(text)
    findings: list[InjectionFinding] = []
    for name, pattern in _COMPILED:
        m = pattern.search(norm)
        if m and all(f.rule != name for f in findings):
            findings.append(InjectionFinding(name, m.group().strip()[:200]))
    return findings
