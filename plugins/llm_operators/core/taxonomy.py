"""The triage taxonomy: the categories, priorities and sentiments a ticket can be given."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    BILLING = "billing"
    TECHNICAL = "technical"
    ACCOUNT = "account"
    SHIPPING = "shipping"
    FEATURE_REQUEST = "feature_request"
    OTHER = "other"


class Priority(StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"

    @property
    def pages_engineering(self) -> bool:
        """P0/P1 wake someone up; P2/P3 wait for office hours."""
        return self in (Priority.P0, Priority.P1)


class Sentiment(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"
    ANGRY = "angry"
