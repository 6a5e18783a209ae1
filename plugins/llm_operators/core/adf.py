"""Atlassian Document Format (ADF): Jira Cloud's REST API v3 takes and gives rich text as ADF.

Jira Server/Data Center (API v2) speak plain strings; the Jira hook converts at the boundary so the
rest of the code handles text only.
"""

from __future__ import annotations

from typing import Any

_BLOCKS = ("doc", "bulletList", "orderedList", "listItem", "blockquote")


def to_adf(text: str) -> dict[str, Any]:
    """One paragraph per line; an empty line is an empty paragraph (ADF rejects empty text nodes)."""
    content = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}]} if line else {"type": "paragraph"}
        for line in text.split("\n")
    ]
    return {"type": "doc", "version": 1, "content": content}


def adf_text(value: Any) -> str:
    """Plain text of an ADF node (or of a plain string, as Server sends it)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if value.get("type") == "text":
            return str(value.get("text", ""))
        if value.get("type") == "hardBreak":
            return "\n"
        children = [adf_text(child) for child in value.get("content", [])]
        # block nodes hold one paragraph per line; inline content joins as it is
        return "\n".join(children) if value.get("type") in _BLOCKS else "".join(children)
    if isinstance(value, list):
        return "\n".join(adf_text(v) for v in value)
    return str(value)
