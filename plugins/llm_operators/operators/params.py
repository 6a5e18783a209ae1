"""Templated operator arguments as the values they stand for."""

from __future__ import annotations

from typing import Any


def optional_int(value: Any) -> int | None:
    """A templated param rendered as None, "", "None" or a number."""
    return None if value in (None, "", "None") else int(value)


def as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)
