"""A support ticket as it enters the pipeline, and the line that could not become one."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints, field_validator, model_validator

from llm_operators.core.html_text import html_to_text, looks_like_html
from llm_operators.core.taxonomy import Category, Priority

NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
StrippedStr = Annotated[str, StringConstraints(strip_whitespace=True)]
# A title for people (Jira summaries, Slack lines) when the mail had no subject.
TITLE_CHARS = 80


class TicketLabels(BaseModel):
    """Ground truth shipped with sample data; used for evaluation only, never sent to a model."""

    model_config = ConfigDict(extra="forbid")

    category: Category
    priority: Priority
    needs_human: bool
    pii: bool


class Ticket(BaseModel):
    """One support ticket as exported by the helpdesk (one JSON line of a day file).

    Helpdesk exports carry more than the fields read here (assignee, tags, custom fields): those are
    kept as the model's extra fields, so they reach the outputs as they came, and are never sent to a
    model. Mail often has no subject: a missing or null subject is empty and the body is triaged.
    An HTML body is reduced to text in `body` (what the model, the detectors and the reviewers read);
    the original stays in `body_html`.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    id: NonEmptyStr
    created_at: AwareDatetime
    subject: StrippedStr = ""
    # May be empty: such a ticket is kept and routed to a human ("empty body") rather than rejected.
    body: str
    body_html: str | None = None
    customer: str | None = None
    channel: str | None = None
    labels: TicketLabels | None = None

    @model_validator(mode="before")
    @classmethod
    def _reduce_html_body(cls, data: Any) -> Any:
        """Done at the boundary, once: every reader of `body` then sees the text. An outcome read back
        carries `body_html` already, so its text is not reduced twice."""
        if not isinstance(data, dict):
            return data
        body = data.get("body")
        if isinstance(body, str) and data.get("body_html") is None and looks_like_html(body):
            data = {**data, "body": html_to_text(body), "body_html": body}
        return data

    @field_validator("subject", mode="before")
    @classmethod
    def _no_subject(cls, value: object) -> object:
        return "" if value is None else value

    @field_validator("created_at", mode="before")
    @classmethod
    def _iso_string(cls, value: object) -> object:
        """pydantic would read a bare number as a Unix timestamp; the export format is an ISO string."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError("must be an ISO 8601 string with a UTC offset, not a number")
        return value

    @property
    def unknown_fields(self) -> list[str]:
        """Fields of the export this project does not read (kept in the outputs, ignored for triage)."""
        return sorted(self.model_extra or ())

    @property
    def title(self) -> str:
        """The subject, or for mail without one the start of the body's first line (for people)."""
        if self.subject:
            return self.subject
        first = next((line.strip() for line in self.body.splitlines() if line.strip()), "")
        if not first:
            return "(no subject)"
        return first if len(first) <= TITLE_CHARS else first[: TITLE_CHARS - 1].rstrip() + "\u2026"


class RejectedLine(BaseModel):
    """A line of a ticket file that could not become a `Ticket`, kept so that a human can look at it."""

    model_config = ConfigDict(extra="forbid")

    source: str
    line: int
    ticket_id: str | None = None
    field: str | None = None
    error: str
    raw: str = ""

    def describe(self) -> str:
        who = f" ticket {self.ticket_id}" if self.ticket_id else ""
        what = f" field '{self.field}'" if self.field else ""
        return f"{self.source}:{self.line}{who}{what}: {self.error}"
