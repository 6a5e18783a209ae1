"""HTML mail bodies reduced to the text a person reads in a mail client.

Helpdesk exports carry the body of a mail as the customer's client sent it, often HTML. A model fed
the markup pays tokens for `<td style=...>` and reads hidden parts (comments, scripts, styles) that
the customer never saw; the PII and injection detectors read the same text as the model, so they get
the reduced text too. Only bodies that are HTML documents or fragments from the first character are
reduced: a plain-text ticket that quotes some markup ("our embed `<div id=x>` renders blank") is a
technical question whose markup the model must see.

Comments stay, as `[comment: ...]` lines: a customer's mail client does not write prose in comments,
an attacker hiding instructions from the human reader does, and the injection detector (which reads
`body`) must see them and send the ticket to a person. Outlook's conditional comments (`[if mso]`)
hold markup only and are dropped.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# A body is HTML when it starts (after blanks) with a doctype, a comment, or one of these tags and
# contains a closing tag or a line break tag: what mail clients produce, not prose that mentions a tag.
_HTML_START = re.compile(
    r"\A\s*(?:<!doctype\s+html|<!--|<(?:html|head|body|meta|div|p|span|table|br|font|b|i|u|strong|em"
    r"|h[1-6]|ul|ol|blockquote|center|style|a|img|pre)\b[^>]*>)",
    re.IGNORECASE,
)
_HTML_BODY_MARK = re.compile(r"</[a-z][a-z0-9]*\s*>|<br\s*/?>|<!doctype|<html\b", re.IGNORECASE)

# Elements whose content a reader never sees.
_INVISIBLE = frozenset({"script", "style", "head", "title", "template", "noscript", "svg", "object"})
# Elements that start a new line in a mail client.
_BLOCK = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt", "fieldset",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
        "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "tfoot", "thead", "tr", "ul",
    }
)  # fmt: skip
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "area", "base", "col", "source"})


def looks_like_html(body: str) -> bool:
    return _HTML_START.match(body) is not None and _HTML_BODY_MARK.search(body) is not None


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)  # &amp; &nbsp; &#8217; become the characters
        self.parts: list[str] = []
        self.hidden = 0  # depth inside invisible elements
        self.pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE:
            if tag not in _VOID:
                self.hidden += 1
            return
        if tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self._break()
            self.parts.append("- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt and not self.hidden:
                self.parts.append(f" {alt} ")
        elif tag in _BLOCK:
            self._break()
        if tag == "pre":
            self.pre += 1

    def _break(self) -> None:
        """One line break between blocks, however many block tags close and open there."""
        if self.parts and not self.parts[-1].endswith("\n"):
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _INVISIBLE:  # <br/>, <img/>: no content, no depth
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCK:
            self._break()
            if tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_comment(self, data: str) -> None:
        text = re.sub(r"\s+", " ", data).strip()
        if self.hidden or not text or text.lower().startswith(("[if", "[endif")):
            return
        self._break()
        self.parts.append(f"[comment: {text}]\n")

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))


_SPACES_AROUND_NEWLINE = re.compile(r"[ \t\u00a0]*\n[ \t\u00a0]*")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_MANY_SPACES = re.compile(r"[ \t\u00a0]{2,}")


def html_to_text(html: str) -> str:
    """The visible text of an HTML body (plus its comments, marked): block elements on their own
    lines, list items as "- ", entities decoded, scripts/styles/head dropped, at most one blank line
    in a row."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts).replace("\u00a0", " ")
    text = _MANY_SPACES.sub(" ", text)
    text = _SPACES_AROUND_NEWLINE.sub("\n", text)
    return _MANY_NEWLINES.sub("\n\n", text).strip()
