"""Deterministic signal for incident reports: outages, data loss, security compromises.

A calm "every checkout fails with 502" is a P0 whatever tone it is written in, and a model reading
tone may call it P2 and answer it with a canned reply. Like the injection detector, this signal does
not depend on any model's opinion: a ticket it flags is paged to engineering and goes to a person.
Patterns want breadth or severity ("every", "all our users", "from everywhere", "all our data",
"someone logged into my account"), so an ordinary bug report ("the export fails for one file") or a
lost parcel does not page anyone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from llm_operators.core.injection import normalise


class IncidentKind(StrEnum):
    OUTAGE = "outage"
    DATA_LOSS = "data loss"
    SECURITY = "security"


@dataclass(frozen=True)
class IncidentSignal:
    kind: IncidentKind
    excerpt: str


_BREADTH = (
    r"(every|all|each|any|everyone|everybody|nobody|no one|none of|whole|entire|100 ?%|everywhere"
    r"|all (of )?(our|my|the) (users|customers|clients|team|staff|stores|sites|regions|requests|calls"
    r"|orders))"
)
_FAILURE = (
    r"(fail\w*|error\w*|down|broken|timing out|times out|timed out|time out|timeouts?|unreachable"
    r"|unavailable|not (loading|responding|working)|returns? (a |an )?(5\d\d|error)|5\d\d|crash\w*|hang\w*)"
)
_SURFACES = (
    r"(site|website|service|app|application|platform|api|production|prod|dashboard|checkout|login|sign-?in"
    r"|servers?|system|portal|store|shop|payments?|everything)"
)
_RULES: tuple[tuple[IncidentKind, str], ...] = (
    (
        IncidentKind.OUTAGE,
        r"\b(outage|service disruption|major incident|production (is )?down|prod (is )?down)\b"
        rf"|\b{_SURFACES}\b (is|are|seems|seem|went|has gone|have gone|appears to be) "
        r"(completely |totally |entirely |fully )?(down|offline|unreachable|unavailable)\b"
        r"|\bdown for (everyone|all|every)\b"
        r"|\b(nobody|no one|none of (our|my|the) (users|customers|team|staff)) (can|could|is able to"
        r"|are able to)"
        r" (log ?in|sign ?in|check ?out|access|use|load|pay|connect|reach)\b"
        r"|\b(from|in) (everywhere|every region|all regions|all locations|multiple regions)\b"
        rf"|\b{_BREADTH}\b[^.!?\n]{{0,50}}\b{_FAILURE}"
        rf"|\b{_FAILURE}\b[^.!?\n]{{0,40}}\b(for (everyone|all|every)|across (all|the board|every)"
        r"|every (time|single|request|call)|all (requests|calls|users|customers|regions))\b",
    ),
    (
        IncidentKind.DATA_LOSS,
        r"\b(lost|deleted|wiped|erased|gone|vanished|disappeared|missing|corrupted"
        r"|overwritten)\b[^.!?\n]{0,20}"
        r"\b(all|every|our|my|entire|whole)\b[^.!?\n]{0,20}"
        r"\b(data|files|records|projects|documents|database|history|workspace|contacts|entries|reports"
        r"|backups?)\b"
        r"|\b(all|every|our|my|entire|whole) (of )?(our |my |the )?(data|files|records|projects|documents"
        r"|database|history|workspace|contacts|entries|reports|backups?|orders|transactions)\b[^.!?\n]{0,40}"
        r"\b(lost|deleted|wiped|erased|gone|vanished|disappeared|missing|corrupted|overwritten)\b"
        r"|\bdata (loss|was lost|is lost|got lost|corruption)\b",
    ),
    (
        IncidentKind.SECURITY,
        r"\b(someone|somebody|a stranger|an attacker|a hacker|an unknown (person|user"
        r"|device))\b[^.!?\n]{0,30}"
        r"\b(logged|signed|got|broke|gained access) ?(in|into|access)\b"
        r"|\b(account|accounts|workspace|admin|email)\b[^.!?\n]{0,20}\b(hacked|compromised|taken over"
        r"|hijacked"
        r"|breached)\b"
        r"|\b(hacked|compromised|breached|hijacked)\b[^.!?\n]{0,20}\b(account|accounts|workspace|data"
        r"|server)\b"
        r"|\bunauthori[sz]ed (login|log-?in|sign-?in|access|user|session|device|api call)s?\b"
        r"|\b(data|security) (breach|leak|incident)\b"
        r"|\b(leaked|exposed|publicly visible)\b[^.!?\n]{0,30}\b(api keys?|credentials|passwords?|tokens?"
        r"|customer data|personal data)\b"
        r"|\b(can see|seeing|shows me|showing)\b[^.!?\n]{0,20}\b(another|other|someone else'?s?|a different)"
        r" (customer|user|company|account|workspace|tenant)'?s?\b[^.!?\n]{0,20}\b(data|invoices|orders|files"
        r"|account|records|details)?"
        r"|\bpassword (was |got |has been )?changed (without|by someone)\b",
    ),
)
_COMPILED = tuple((kind, re.compile(p, re.IGNORECASE)) for kind, p in _RULES)


def detect_incident(text: str) -> list[IncidentSignal]:
    """One signal per kind found, with the words that gave it away (for the gate reason)."""
    norm = normalise(text)
    found = []
    for kind, pattern in _COMPILED:
        m = pattern.search(norm)
        if m:
            found.append(IncidentSignal(kind, m.group().strip()[:80]))
    return found
