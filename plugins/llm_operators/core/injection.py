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
# Each rule wants an instruction aimed at the assistant, not just an alarming word: "please ignore my
# previous email", "add a link to the docs" or "System: Windows 11" are ordinary tickets.
_RULES: tuple[tuple[str, str], ...] = (
    (
        "instruction override",
        r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(previous|prior|above|earlier|all|your|the)\b"
        r".{0,30}\b(instructions?|rules?|prompts?|guidelines?|directions?|polic(y|ies))\b",
    ),
    (
        "instruction override",
        r"\b(ignore|disregard|forget)\b\s+(all |everything |anything )?(the |that is |you were told )?"
        r"(above|before|previously|earlier)\b,?\s*(and |then )?(instead )?"
        r"(say|reply|respond|write|answer|print|tell|act|output|do)\b",
    ),
    ("instruction override", r"\bnew (instructions?|rules?)\s*(:|for the (assistant|ai|bot|model))"),
    (
        # Spanish, French, German, Portuguese, Italian (accents are stripped by `normalise`)
        "instruction override",
        r"\b(ignora|ignore[sz]?|ignoriere|ignorier|ignorar|ignorare|olvida|olvide|olvidate|oublie[sz]?"
        r"|vergiss|vergessen|missachte|esquece|esqueca|dimentica)\b.{0,40}"
        r"\b(instrucciones|instructions|consignes|anweisungen|instruktionen|regeln|reglas|regles"
        r"|instrucoes|istruzioni)\b",
    ),
    (
        "role-play",
        r"\byou are (now|no longer)\b|\bpretend (to be|you are|you're)\b|\broleplay\b|\brole-play as\b"
        r"|\bi want you to act as\b|\byou (will|must|should) (now )?act as\b"
        r"|(^|[\n.!?:]\s*)(please |now |from now on,? )?act as\b"
        r"|\b(an? )?ai (model |assistant )?(without|with no) (any )?(restrictions|rules|filters|limits)\b"
        r"|\byou (now )?have no (more )?(rules|restrictions|limits|filters)\b",
    ),
    (
        "role-play",
        r"\b(dan|god|jailbreak|unrestricted) mode\b"
        r"|\b(you|yourself|you're|enter|switch to|switch into|now in|activate)\b.{0,20}\bdeveloper mode\b",
    ),
    (
        "fake system message",
        r"(^|\n|\s|\[|\()(system|assistant|developer|admin|ai|bot)\s*(:|>|\])\s*"
        r"(you|ignore|disregard|forget|new|from now|override|always|never|respond|reply|answer|print"
        r"|reveal|set|mark|classify|label|approve)\b"
        r"|\[/?(inst|system)\]|<\|im_start\|>|<<\s*sys\s*>>|#{2,}\s*(system|new instructions)"
        r"|\"role\"\s*:\s*\"(system|assistant|developer)\""
        r"|\bnote to the (ai|assistant|bot|model|triage)",
    ),
    (
        "prompt or secret exfiltration",
        r"\bsystem prompt\b|\b(hidden|initial|original|secret|internal) (prompt|instructions)\b"
        r"|\b(reveal|print|show|repeat|output|tell me|leak|dump|give me|list)\b.{0,30}"
        r"\b(your|hidden|internal|initial|original|secret)\b.{0,20}"
        r"\b(prompt|instructions|api keys?|keys|secrets?|credentials|config\w*|password|env\w*)\b"
        r"|\b(repeat|print|output)\b.{0,30}\b(the )?(text|instructions|everything) (above|before this)\b",
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
        r"(refund|credit|compensate|give)\b"
        r"|\bpromise me\b.{0,20}\b(full refund|refund|credit|discount|compensation)\b",
    ),
    (
        "link injection",
        r"\b(include|add|insert|put|append|paste)\b.{0,20}\b(this|the following|my|our|these)\s+"
        r"(link|url|website|links|urls)\b"
        r"|\b(include|add|insert|put|append|paste)\b.{0,40}\b(link|url|website)\b.{0,30}"
        r"\b(in|into|to) (your|the) (reply|answer|response)\b",
    ),
    (
        "output manipulation",
        r"\b(mark|set|classify|label|triage|flag|tag|escalate|route)\s+"
        r"(this|it|(this|the|my) (ticket|request|issue|message|one))\b\s*(as|to|with)?\s*(a |an )?"
        r"(p[0-3]\b|(low|lowest|high|highest|top) priority|resolved|not urgent|no human|closed|spam"
        r"|auto.?reply)"
        r"|\b(needs_human|pii_detected|suggested_reply)\s*[=:]",
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
