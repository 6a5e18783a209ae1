"""Detect and redact personal data and secrets in free text.

Deterministic on purpose: this runs before text leaves for an LLM provider, Slack, Jira or Langfuse,
so it must not itself depend on a model. Numbers are checked the way issuers check them (Luhn for
cards, mod-97 for IBANs) so that order numbers and invoice ids are not redacted by mistake.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum

from llm_operators.core.regex_alternatives import share_word_boundaries
from llm_operators.core.text import INVISIBLE_RE


class PiiKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    CARD = "card"
    IBAN = "iban"
    SSN = "ssn"
    IP = "ip"
    SECRET = "secret"


@dataclass(frozen=True)
class PiiMatch:
    kind: PiiKind
    start: int
    end: int


_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
_CARD = re.compile(r"(?<![\d-])(?:\d[ .-]?){12,18}\d(?![\d-])")
# Case-insensitive: a customer typing "de89 3704 ..." still sends an IBAN (mod-97 keeps look-alikes out).
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b", re.IGNORECASE)
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
# Written with spaces or no separator at all, an SSN is only recognisable next to its name.
_SSN_NAMED = re.compile(
    r"(?i:\b(?:ssn|social security(?: number| no\.?| #)?)\b)[^\d\n]{0,20}"
    r"(?<!\d)((?!000|666|9\d\d)\d{3}([ .]?)(?!00)\d{2}\2(?!0000)\d{4})(?![\d-])"
)
_IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])")
# Full and `::`-compressed forms; candidates are confirmed by `ipaddress` (a clock time is not an IP).
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}(?![\w:])")
# A phone number is not part of a longer run of digit groups (a Luhn-invalid card number, an invoice
# id), hence the look-arounds on both sides.
_PHONE = re.compile(
    r"(?<![\w+-])(?<!\d[\s.])"
    r"(?:"
    r"\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)|\d{1,4})[\s.-]\d{3,4}[\s.-]?\d{3,4}"  # +61 2 5550 9966, +1 415-555-0134
    r"|(?:\+\d{1,3}[\s.-]?)?\(\d{2,4}\)[\s.-]?\d{3,4}[\s.-]?\d{3,4}"  # (415) 555-0134
    r"|\+\d{8,14}"  # E.164 without separators
    r"|1[ -]\d{3}[ -]\d{3}[ -]\d{4}"  # 1-888-555-0142 (North American trunk prefix)
    r"|\d{2,4}[\s.-]\d{3,4}[\s.-]?\d{3,4}"  # 020 7946 0958, 415.555.0134
    r")(?![\w-])(?![\s.-]?\d)"
)
_SECRET = re.compile(
    share_word_boundaries(
        r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}"  # OpenAI / Anthropic keys
        r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"  # Slack tokens
        r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key ids
        r"|\bgh[pousr]_[A-Za-z0-9]{20,}"  # GitHub tokens
        r"|\b(?:pk|sk)-lf-[A-Za-z0-9-]{8,}"  # Langfuse keys
        r"|\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"  # JWTs
        r"|(?i:\b(?:password|passwd|pwd|api[_ -]?key|secret|token)\b\s*(?:is|=|:)\s*)\S{4,}"
    )
)
# What a kind cannot do without, checked in C before its pattern runs over the text (most tickets
# hold no "@", no "digit.digit" and fewer digits than any number worth redacting).
_DIGIT = re.compile(r"\d")
_DIGIT_DOT = re.compile(r"\d\.")
_MIN_DIGITS = 9  # SSN 9, phone 9 (the length check below), card 13, IBAN 2 (checked apart)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    s = candidate.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    rearranged = s[4:] + s[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


def _ipv6_ok(candidate: str) -> bool:
    """A real IPv6 address with some substance: `a::b` or `::` alone are more likely code than hosts."""
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return sum(ch in "0123456789abcdefABCDEF" for ch in candidate) >= 4


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


# Invisible characters a paste (or an attacker) can leave inside a number or an address.
_INVISIBLE = INVISIBLE_RE


def find_pii(text: str) -> list[PiiMatch]:
    """Non-overlapping matches, most specific kinds first (a card number is not also a phone).

    Invisible characters are looked through ("4111<zero-width space>1111 ...") and the spans cover
    them, so `redact` removes the whole value: the prompt builder strips them later, and a model must
    not receive a card number that only the detector could not read.
    """
    if not _INVISIBLE.search(text):
        return _find_pii(text)
    keep = [i for i, ch in enumerate(text) if not _INVISIBLE.match(ch)]
    visible = "".join(text[i] for i in keep)
    return [PiiMatch(m.kind, keep[m.start], keep[m.end - 1] + 1) for m in _find_pii(visible)]


def _find_pii(text: str) -> list[PiiMatch]:
    found: list[PiiMatch] = []

    def add(kind: PiiKind, start: int, end: int) -> None:
        if not any(m.start < end and start < m.end for m in found):
            found.append(PiiMatch(kind, start, end))

    digits = len(_DIGIT.findall(text))
    many_digits = digits >= _MIN_DIGITS
    for m in _SECRET.finditer(text):
        add(PiiKind.SECRET, m.start(), m.end())
    if "@" in text:
        for m in _EMAIL.finditer(text):
            add(PiiKind.EMAIL, m.start(), m.end())
    if many_digits:
        for m in _CARD.finditer(text):
            number = _digits(m.group())
            if 13 <= len(number) <= 19 and luhn_ok(number):
                add(PiiKind.CARD, m.start(), m.end())
    if digits >= 2:
        for m in _IBAN.finditer(text):
            if iban_ok(m.group()):
                add(PiiKind.IBAN, m.start(), m.end())
    if many_digits:
        for m in _SSN.finditer(text):
            add(PiiKind.SSN, m.start(), m.end())
        for m in _SSN_NAMED.finditer(text):
            add(PiiKind.SSN, m.start(1), m.end(1))
    if _DIGIT_DOT.search(text):
        for m in _IPV4.finditer(text):
            add(PiiKind.IP, m.start(), m.end())
    if ":" in text:
        for m in _IPV6.finditer(text):
            if _ipv6_ok(m.group()):
                add(PiiKind.IP, m.start(), m.end())
    if many_digits:
        for m in _PHONE.finditer(text):
            if 9 <= len(_digits(m.group())) <= 15:
                add(PiiKind.PHONE, m.start(), m.end())
    return sorted(found, key=lambda m: m.start)


def pii_kinds(text: str) -> set[PiiKind]:
    return {m.kind for m in find_pii(text)}


def redact(text: str) -> str:
    """Replace each match with its kind, e.g. `[EMAIL]`, keeping the rest readable for a human."""
    out, last = [], 0
    for m in find_pii(text):
        out.append(text[last : m.start])
        out.append(f"[{m.kind.value.upper()}]")
        last = m.end
    out.append(text[last:])
    return "".join(out)
