"""A support ticket as it enters the pipeline, and the line that could not become one."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints, field_validator

from llm_operators.core.taxonomy import Category, Priority

NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class TicketLabels(BaseModel):
    """Ground truth shipped with sample data; used for evaluation only, never sent to a model."""

    model_config = ConfigDict(extra="forbid")

    category: Category
    priority: Priority
    needs_human: bool
    pii: bool


class Ticket(BaseModel):
    """One support ticket as exported by the helpdesk (one JSON line of a day file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: NonEmptyStr
    created_at: AwareDatetime
    subject: NonEmptyStr
    # May be empty: such a ticket is kept and routed to a human ("empty body") rather than rejected.
    body: str
    customer: str | None = None
    channel: str | None = None
    labels: TicketLabels | None = None

    @field_validator("created_at", mode="before")
    @classmethod
    def _iso_string(cls, value: object) -> object:
        """pydantic would read a bare number as a Unix timestamp; the export format is an ISO string."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError("must be an ISO 8601 string with a UTC offset, not a number")
        return value


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
