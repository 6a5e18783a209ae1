"""Invisible characters: one definition for every module that looks through or strips them.

A detector that strips one set and a prompt builder that strips another leave a gap an attacker can
use (`</tic<soft hyphen>ket>` survived the tag escape while the detector read through it). Every
check that must see what a reader sees uses `strip_invisible`; code that must keep offsets (PII
spans) uses `INVISIBLE_RE` to skip the same characters.
"""

from __future__ import annotations

import re

# Format and filler characters that render as nothing (or as a blank) in mail clients, Slack and Jira:
# soft hyphen, combining grapheme joiner, Arabic letter mark, Hangul fillers, Khmer inherent vowels,
# Mongolian variation selectors and vowel separator, zero-width space/joiners, directional marks and
# embeddings/isolates, word joiner and invisible operators, variation selectors, BOM, and the Unicode
# tag block (U+E0000..U+E007F, "ASCII smuggling").
_RANGES = (
    "\u00ad",
    "\u034f",
    "\u061c",
    "\u115f\u1160",
    "\u17b4\u17b5",
    "\u180b-\u180f",
    "\u200b-\u200f",
    "\u202a-\u202e",
    "\u2060-\u2064",
    "\u2066-\u206f",
    "\u3164",
    "\ufe00-\ufe0f",
    "\ufeff",
    "\uffa0",
    "\U000e0000-\U000e007f",
)
INVISIBLE_RE = re.compile("[" + "".join(_RANGES) + "]")
_TAG_RE = re.compile("[\U000e0020-\U000e007e]")  # the tag characters that mirror printable ASCII


def strip_invisible(text: str) -> str:
    """The text as a reader sees it."""
    return INVISIBLE_RE.sub("", text) if INVISIBLE_RE.search(text) else text


def has_invisible(text: str) -> bool:
    return INVISIBLE_RE.search(text) is not None


def reveal_tag_text(text: str) -> str:
    """What Unicode tag characters spell (U+E0020..U+E007E mirror ASCII): invisible to a person,
    readable to a model, so the detector reads them too. Empty when there are none."""
    if not _TAG_RE.search(text):  # nearly every ticket: one C-level scan instead of a loop per character
        return ""
    return "".join(chr(ord(ch) - 0xE0000) for ch in text if 0xE0020 <= ord(ch) <= 0xE007E)
