"""Deterministic detection of prompt-injection attempts in ticket text.

A flagged ticket is never auto-replied, whatever the model answered: the gate, not the model's
goodwill, is the defence. Patterns are matched on a normalised copy of the text (lower case, HTML
entities decoded, accents and zero-width characters stripped, Cyrillic/Greek look-alikes inside Latin
words mapped back, whitespace folded) so that trivial obfuscation does not slip by. Two more views are
checked: the text with letter-spaced runs joined ("i g n o r e" -> "ignore"), and base64 blobs
decoded, since a model will happily decode and obey what a regex cannot read.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import unicodedata
from dataclasses import dataclass

from llm_operators.core.regex_alternatives import share_word_boundaries
from llm_operators.core.text import reveal_tag_text, strip_invisible

# Cyrillic and Greek letters that render like Latin ones. Mapped only inside words that also hold a
# Latin letter (or consist of look-alikes only), so genuine Russian or Greek text is left alone.
_CONFUSABLE_PAIRS = (
    "\u0430a \u0435e \u0451e \u043eo \u0440p \u0441c \u0443y \u0445x \u0456i \u0457i \u0458j \u0455s "
    "\u04bbh \u0501d \u051bq \u051dw \u043ak \u043cm \u0442t \u0432b \u043dh \u0261g \u04cfl "
    "\u0410a \u0412b \u0415e \u041ak \u041cm \u041dh \u041eo \u0420p \u0421c \u0422t \u0425x \u0406i "
    "\u0408j \u0405s \u04c0i "
    "\u03b1a \u03bfo \u03b5e \u03b9i \u03bak \u03bdv \u03c1p \u03c4t \u03c5u \u03c7x "
    "\u0391a \u0392b \u0395e \u0396z \u0397h \u0399i \u039ak \u039cm \u039dn \u039fo \u03a1p \u03a4t "
    "\u03a5y \u03a7x "
    # dotless i: NFKD keeps it, and the rules match lower-case text without IGNORECASE (which would
    # have equated it with "i"), so it is mapped like a look-alike
    "\u0131i"
)
_CONFUSABLES = {pair[0]: pair[1] for pair in _CONFUSABLE_PAIRS.split()}
_CONFUSABLE_TABLE = str.maketrans(_CONFUSABLES)
_WORD = re.compile(r"\w+")

# (name, pattern) on normalised text. Names end up in gate reasons, so they read as reasons.
# Each rule wants an instruction aimed at the assistant, not just an alarming word: "please ignore my
# previous email", "add a link to the docs" or "System: Windows 11" are ordinary tickets.
_AI = r"(ai|assistant|bot|chatbot|model|llm|gpt|language model|triage (bot|system|model|ai|assistant))"
_AGENT = r"(ai|assistant|bot|chatbot|llm|gpt|ai model|language model|triage (bot|system|model|ai|assistant))"
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
    (
        "instruction override",
        r"\bnew (instructions?|rules?|polic(y|ies)|directives?|task|orders)\s*(:|for the " + _AI + r")"
        r"|\byour new (task|job|goal|instructions?|role|purpose|mission) (is|are|:)"
        r"|\byour (real|actual|true) (instructions|orders|directives) (is|are|:)"
        r"|\bfollow (any|all|every|whatever) (of the )?(other |further |hidden |embedded |following )?"
        r"(instructions|directions|commands|orders)\b.{0,20}"
        r"\b(you (find|see|read)|hidden|embedded|encoded|in (it|this (ticket|message|email|text)))\b",
    ),
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
        # an imperative "Act as ..." (a question such as "Act as a reference?" is a customer asking)
        r"|(^|[\n.!?:]\s*)(please |now |from now on,? )?act as\b(?![^.!?\n]{0,80}\?)"
        r"|\b(an? )?ai (model |assistant )?(without|with no) (any )?(restrictions|rules|filters|limits)\b"
        r"|\byou (now )?have no (more )?(rules|restrictions|limits|filters)\b"
        r"|\bfrom now on,? you (are|act|respond|answer|reply|only|(will|must|shall) (act|respond|answer|reply"
        r"|only|ignore|be an?|play|pretend|obey))\b"
        r"|\blet'?s (play a game|pretend|role ?play)\b|\bdo anything now\b",
    ),
    (
        "role-play",
        r"\b(dan|god|jailbreak|unrestricted) mode\b"
        r"|\b(you|yourself|you're|enter|enable|turn on|switch to|switch into|now in|activate)\b.{0,20}"
        r"\bdeveloper mode\b",
    ),
    (
        # "from now on you are ...", "an assistant without rules" in Italian, Spanish, French, German,
        # Portuguese
        "role-play",
        r"\b(d'?ora in poi|da ora in poi|a partir de ahora|desde ahora|a partir de maintenant|des maintenant"
        r"|ab jetzt|von nun an|ab sofort|a partir de agora|de agora em diante)\b,?\s*"
        r"(sei|tu sei|eres|tu es|vous etes|du bist|bist du|voce e|voce sera)\b"
        r"|\b(du bist jetzt|tu es maintenant|ahora eres|agora voce e|ora sei|adesso sei) "
        r"(ein|eine|einen|un|une|una|uno|um|uma)\b"
        r"|\b(assistente|asistente|assistant|assistent|ia|ki|ai|bot|modelo|modello|modele)\b.{0,20}"
        r"\b(senza|sin|sans|ohne|sem) (regole|reglas|regles|regeln|regras|restricciones|restrictions"
        r"|einschrankungen|restricoes|restrizioni|filtri|filtros|filtres|filter)\b",
    ),
    (
        # "Stop following your instructions", "you no longer follow your rules": an imperative at the
        # start of a sentence (a customer who "had to stop following the setup instructions" is not one)
        "instruction override",
        r"(^|[\n.!?:;]\s*)(please |now |just |so |ok,? |okay,? )?(you (must|should|will|can|are to"
        r"|need to) )?"
        r"(stop|quit|cease|discontinue)\s+(following|obeying|applying|using|adhering to|respecting"
        r"|enforcing)\s+"
        r"(all |any )?(of )?(your|the|these|those|previous|prior|original|system|default)\b.{0,20}"
        r"\b(instructions?|rules?|guidelines?|prompts?|directives?|polic(y|ies)|programming|training)\b"
        r"|\byou (are |will )?no longer (need to )?(follow|obey|bound by|restricted by"
        r"|required to follow)\b.{0,20}"
        r"\b(your|the|any|these|those)\b.{0,20}\b(instructions?|rules?|guidelines?|prompts?|polic(y|ies))\b"
        r"|\byou are (now )?(free|released) (from|of) (all |any )?(your|the|these) "
        r"(instructions|rules|guidelines|restrictions|polic(y|ies))\b",
    ),
    (
        # "This overrides your guidelines": a claim of authority over the assistant's own rules
        "instruction override",
        r"\b(overrides?|overriding|supersedes?|superseding|takes? precedence over|outranks?|trumps?"
        r"|replaces?|cancels?|voids?|nullifies)\s+(all |any |each |every )?(of )?"
        r"(your|the (system|assistant|ai|model|bot)('?s)?|its)\s+(own |current |previous |prior |original "
        r"|existing |default |standing |safety |internal )?"
        r"(instructions|rules|guidelines|prompts?|directives|polic(y|ies)|programming|configuration"
        r"|system prompt|restrictions)\b",
    ),
    (
        # A fake "SYSTEM MESSAGE" block: a decorated header line ("=== SYSTEM MESSAGE ===", "*** ADMIN
        # NOTICE ***"), or a bare header whose next lines address the assistant or its rules
        "fake system message",
        r"(^|\n)[ \t]*[-=*#_~<>|/\\]{2,}[ \t]*(begin |start |start of |end of |new |urgent |official "
        r"|priority )?"
        r"(system|admin|administrator|developer|operator|platform|security|moderator)[ _-]"
        r"(message|notice|update|instructions?|directive|alert|override|prompt|command|notification)s?\b"
        r"|(^|\n)[ \t]*(begin |start of |new |urgent |official |priority )?"
        r"(system|admin|administrator|developer|operator|platform)[ _-]"
        r"(message|notice|update|instructions?|directive|alert|override|prompt|command)s?[ \t]*:?[ \t]*\n"
        r"[^\n]{0,200}\b(assistant|ai|model|llm|bot|triage|automated|you must|you will|you are|your "
        r"(instructions|rules|guidelines|task|role|reply|response|answer)|ignore|disregard|override"
        r"|new instructions|respond|reply with|reply only)\b",
    ),
    (
        "fake system message",
        r"(^|\n|\s|\[|\()(system|assistant|developer|admin|ai|bot)\s*(:|>|\])\s*"
        r"(you|ignore|disregard|forget|new|from now|override|always|never|respond|reply|answer|print"
        r"|reveal|set|mark|classify|label|approve|understood|grant|confirm|promise|offer|skip|do not"
        r"|don't|must|the (previous|above) (user |customer )?(message|instructions|conversation|request))\b"
        r"|\[/?(inst|system)\]|<\|im_start\|>|<<\s*sys\s*>>|#{2,}\s*(system|new instructions)"
        r"|[\"'](role)[\"']\s*:\s*[\"'](system|assistant|developer|tool)[\"']"
        r"|\bnote to the (ai|assistant|bot|model|triage)"
        r"|\[(admin|system|developer|operator|security|moderator|root|sudo)[ _-]?"
        r"(override|mode|notice|instructions?|command|message|prompt)\]"
        r"|\b(admin|administrator|operator|system|developer|root|sudo) override\b",
    ),
    (
        "addressed to the AI",
        r"\bif you(?:'re| are) (an? )?(ai|llm|language model|large language model|chatbot|bot|assistant"
        r"|gpt|automated (system|assistant|agent))\b"
        r"|\b(ai|llm|gpt|language model|chatbot|bot|assistant)s?( agents?| models?| assistants?| systems?)? "
        r"(reading|processing|handling|triaging|parsing|summari[sz]ing) (this|these)"
        r"( ticket| message| email| request| text| conversation)?\s*[:,]"
        r"|\binstructions? (for|to) (the )?(ai|assistant|bot|model|llm|triage)\b"
        r"|\b(ai|assistant|bot|model|llm|gpt)( triage)? (instructions?|directives?|policy|rules|notes?)\s*:"
        r"|\b(the|this) " + _AGENT + r",? (must|should|shall|is to|has to|needs to|is required to"
        r"|is instructed to|will now|may now|is allowed to)\s+(now )?(not )?"
        r"(approve|grant|promise|confirm|include|reply|respond|answer|say|write|ignore|reveal|mark|set|skip"
        r"|close|treat|classify|tell|send|forward|add|give|offer|issue|refund|escalate|never)\b"
        r"|(^|[\n.!?:>-]\s*)(hey |hi |dear |attention,? |note,? )?"
        r"(ai|assistant|bot|chatbot|gpt|claude|chatgpt|llm)\s*,\s*(please |now )?"
        r"(ignore|disregard|forget|new|reply|respond|answer|say|write|tell"
        r"|include|add|mark|set|classify|reveal|print|confirm|promise|close|you must)\b",
    ),
    (
        "prompt or secret exfiltration",
        r"\bsystem[- ]?prompt\b|\b(hidden|initial|original|secret|internal) (prompt|instructions)\b"
        r"|\b(prompt (systeme|del sistema|do sistema|di sistema)|systemanweisung(en)?)\b"
        r"|\b(reveal|print|show|repeat|output|tell me|leak|dump|give me|list)\b.{0,30}"
        r"\b(your|hidden|internal|initial|original|secret)\b.{0,20}"
        r"\b(prompt|instructions|api keys?|keys|secrets?|credentials|config\w*|password|env\w*)\b"
        r"|\b(repeat|print|output)\b.{0,30}\b(the )?(text|instructions|everything) (above|before this)\b"
        r"|\b(what|which) (instructions|rules|prompt|guidelines)\b.{0,20}\byou (were|have been|got) "
        r"(given|told|configured)"
        r"|\b(api keys?|secret keys?|access tokens?|tokens|credentials|secrets|environment variables"
        r"|env vars?)\b.{0,30}\byou (were|have been) (configured|given|set up|provided)\b",
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
        r"|\bpromise me\b.{0,20}\b(full refund|refund|credit|discount|compensation)\b"
        r"|\b(reply|respond|answer|say|write|state|mention|confirm that|tell me that)\b.{0,40}"
        r"\b(will|shall|is going to|are going to) (refund|credit|compensate|reimburse|waive)\b",
    ),
    (
        "link injection",
        r"\b(include|add|insert|put|append|paste)\b.{0,20}\b(this|the following|my|our|these)\s+"
        r"(link|url|website|links|urls)\b"
        r"|\b(include|add|insert|put|append|paste)\b.{0,40}\b(link|url|website)\b.{0,30}"
        r"\b(in|into|to) (your|the) (reply|answer|response)\b"
        # a ready-made markdown link to be copied into the answer
        r"|\b(include|add|insert|put|append|paste|copy|use)\b.{0,40}\[[^\]\n]{1,80}\]\(\s*(https?://|www\.)"
        r"|\b(include|add|insert|put|append|paste|mention)\b[^.\n]{0,40}"
        r"(https?://|www\.|@|\+?\d[\d .-]{7,}\d)[^\n]{0,60}\b(in|into|to|within) (your|the) "
        r"(reply|answer|response)\b",
    ),
    (
        "reply manipulation",
        r"\b(automated|automatic|auto|ai|bot|generated|canned)[ -]?(reply|response|answer|message)\b.{0,20}"
        r"\b(should|must|could|can|will|would|needs? to|has to)\b.{0,10}"
        r"\b(mention|say|state|confirm|include|contain|tell|promise|offer|note|grant|give|read)\b"
        r"|\b(make sure|ensure|be sure|remember)\b.{0,20}\b(the|your) (reply|response|answer)\s+"
        r"(also |always |definitely )?"
        r"(includes?|contains?|mentions?|says?|states?|lists?|gives?|tells?|promises?|confirms?)\b"
        r"|\b(tell|ask|instruct|direct|advise|remind|inform|urge)\b (the |all |our |every |any )?"
        r"(customers?|users?|clients?|callers?|recipients?|everyone)\b.{0,15}\b(to|that)\b.{0,10}"
        r"\b(call|phone|ring|text|whatsapp|visit|go to|click|open|contact|email|e-mail|send|verify|re-?verify"
        r"|confirm|log ?in|sign ?in|update|pay|transfer|wire|download|install|scan)\b"
        r"|\b(in|into|within) (your|the) (reply|response|answer)\b,?\s*(please |kindly |just )?"
        r"(state|say|write|confirm|promise|mention|tell (me|them|the customer)|guarantee|assure|note)"
        r"( me| them| the customer)? that\b"
        r"|\b(reply|respond|answer|write|say|print|output)\b (only )?(with )?(exactly|verbatim|word for word)"
        r"\s*(:|\"|'|this|the following|these)"
        r"|\b(reply|respond|answer|say|write|print|output) (with )?only\s*(:|\"|')"
        r"|\b(reply|respond|answer|say|write) (only )?with (only |exactly )?(this|the following) "
        r"(sentence|text|message|phrase|words?|line)\b|\brepeat after me\b",
    ),
    (
        "output manipulation",
        r"\b(mark|set|classify|label|triage|flag|tag|escalate|route)\s+"
        r"(this|it|(this|the|my) (ticket|request|issue|message|one))\b\s*(as|to|with)?\s*(a |an )?"
        r"(p[0-3]\b|(low|lowest|high|highest|top) priority|resolved|not urgent|no human|closed|spam"
        r"|auto.?reply)"
        r"|\b(needs_human|pii_detected|suggested_reply)[\"']?\s*[=:]"
        r"|\b(set|change|lower|drop|downgrade|make)\b.{0,10}\bpriority\b.{0,10}(\bto\b|=|:|\bas\b)\s*[\"']?"
        r"(p[0-3]|low|lowest)\b"
        r"|\b(use|take|return|output|copy|submit)\b.{0,20}\b(json|answer|triage|classification"
        r"|result)\b.{0,20}"
        r"\bas (your|the) (final )?(answer|output|response|result|triage)\b"
        r"|\bskip (the )?(human|manual) review\b|\bno (need for (a )?(human|person|agent)|human review)\b"
        r"|\b(do not|don't|never|no need to) (escalate|forward|route|send|assign)\b (this |it |the ticket )?"
        r"to (a |any )?(human|person|agent|staff|manual review|review)\b",
    ),
    (
        "encoded instructions",
        r"\b(decode|decrypt|decipher|unscramble|reverse|base64-decode)\b.{0,40}\b(and|then)\b.{0,10}"
        r"\b(follow|execute|obey|carry out|act on|comply with)\s+(it|them|this|that|these|what it says"
        r"|exactly|the decoded|the (instructions|commands|steps) (inside|in it|within))\b",
    ),
)


# No IGNORECASE: the text is lower-cased and NFKD-folded before matching (so "IGNORE", the Kelvin sign
# and the long s already read as ASCII lower case), and case-insensitive matching costs about 1.6x the
# CPU on every rule of every ticket. tests/core/test_injection.py keeps the rules lower case.
_COMPILED = tuple((name, re.compile(share_word_boundaries(p), re.DOTALL)) for name, p in _RULES)

# Runs of single letters split by spaces or punctuation: "i g n o r e", "i.g.n.o.r.e".
_SPACED_RUN = re.compile(r"(?<![a-z])[a-z](?:(?:[ \t]{1,4}|[ \t]?[.\-_*|+~][ \t]?)[a-z](?![a-z])){3,}")
_SPACED_PUNCT = re.compile(r"[.\-_*|+~]")
# What a letter-spaced run says once every separator is gone ("ignoreallpreviousinstructions").
_SQUASHED = re.compile(
    r"(ignore|disregard|forget|override|bypass)(all|any|every|the|your|my)*"
    r"(previous|prior|above|earlier|former|system|safety)?(instructions?|rules|prompts?|guidelines|directions"
    r"|polic(y|ies))|systemprompt|developermode|jailbreak|doanythingnow|youarenow|pretendtobe"
    r"|newinstructions|revealyour"
)
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{24,}={0,2}(?![A-Za-z0-9+/=_-])")
_MAX_BLOBS = 20
_MAX_RUNS = 20


@dataclass(frozen=True)
class InjectionFinding:
    rule: str
    excerpt: str  # the matched text and what follows it, so the gate can refuse replies that copy it


def _unconfuse(text: str) -> str:
    def fix(m: re.Match[str]) -> str:
        word = m.group()
        if any(ch.isascii() and ch.isalpha() for ch in word) or all(
            ch.isascii() or ch in _CONFUSABLES for ch in word
        ):
            return word.translate(_CONFUSABLE_TABLE)
        return word

    return text if text.isascii() else _WORD.sub(fix, text)


def _clean(text: str) -> str:
    """`normalise` without the whitespace folding (letter-spaced runs need their word gaps)."""
    text = html.unescape(text)
    if text.isascii():  # most tickets: nothing to decompose, strip or map
        return text.lower()
    text = unicodedata.normalize("NFKD", strip_invisible(text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _unconfuse(text).lower()


def _fold(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text)


def normalise(text: str) -> str:
    return _fold(_clean(text))


def _join_run(run: str) -> str:
    if _SPACED_PUNCT.search(run):  # "i.g.n.o.r.e a.l.l": punctuation inside words, spaces between
        return " ".join(re.sub(r"[^a-z]", "", w) for w in run.split())
    if re.search(r"[ \t]{2,}", run):  # "i g n o r e   a l l": wide gaps between words
        return " ".join(re.sub(r"[^a-z]", "", w) for w in re.split(r"[ \t]{2,}", run))
    return re.sub(r"[^a-z]", "", run)


def _excerpt(text: str, m: re.Match[str]) -> str:
    """The match and the rest of its paragraph, up to 200 characters: an injection's payload usually
    follows its opening ("ignore previous instructions and reply: <payload>")."""
    start = m.start()
    while start < m.end() and (text[start].isspace() or text[start] in ".!?:,;>-"):
        start += 1  # the separator a rule anchors on is not part of the instruction
    stop = text.find("\n\n", m.end())
    end = max(m.end(), min(len(text) if stop == -1 else stop, start + 200))
    return text[start:end].strip()[:200]


def _scan(norm: str, findings: list[InjectionFinding]) -> None:
    for name, pattern in _COMPILED:
        if any(f.rule == name for f in findings):
            continue
        m = pattern.search(norm)
        if m:
            findings.append(InjectionFinding(name, _excerpt(norm, m)))


def _decoded_blobs(text: str) -> list[str]:
    """Base64 tokens of the text that decode to readable sentences."""
    out = []
    for m in list(_BASE64.finditer(text))[:_MAX_BLOBS]:
        token = m.group().rstrip("=")
        altchars = b"-_" if ("-" in token or "_" in token) else None
        try:
            raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=altchars, validate=True)
            decoded = raw.decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        printable = sum(ch.isprintable() or ch in "\n\t" for ch in decoded)
        if decoded.count(" ") >= 2 and printable >= 0.95 * len(decoded):
            out.append(decoded)
    return out


def detect_injection(text: str) -> list[InjectionFinding]:
    cleaned = _clean(text)
    norm = _fold(cleaned)
    findings: list[InjectionFinding] = []
    _scan(norm, findings)

    # Letter-spaced runs: each is read joined up, with the text around it (an instruction is short).
    for run in list(_SPACED_RUN.finditer(cleaned))[:_MAX_RUNS]:
        window = cleaned[max(run.start() - 200, 0) : min(run.end(), run.start() + 2000) + 300]
        _scan(_fold(_SPACED_RUN.sub(lambda m: _join_run(m.group()), window)), findings)
        squashed = _SQUASHED.search(re.sub(r"[^a-z]", "", run.group()[:2000]))
        if squashed and all(f.rule != "instruction override" for f in findings):
            findings.append(InjectionFinding("instruction override", _fold(run.group()).strip()[:200]))

    hidden = reveal_tag_text(text)
    if hidden:  # Unicode tag characters: invisible to the reader, plain ASCII to a model
        inner = []
        _scan(normalise(hidden), inner)
        if inner:
            findings.append(InjectionFinding("encoded instructions", inner[0].excerpt))

    for decoded in _decoded_blobs(strip_invisible(text)):
        inner: list[InjectionFinding] = []
        _scan(normalise(decoded), inner)
        if inner:
            # the decoded instruction is what a model would obey, and what the gate looks for in replies
            findings = [f for f in findings if f.rule != "encoded instructions"]
            findings.append(InjectionFinding("encoded instructions", inner[0].excerpt))
            break
    return findings
