"""Param shapes the DAG files share, so a threshold validates the same way in every DAG's trigger form."""

from __future__ import annotations

from airflow.sdk import Param


def fraction_param(default: float | None, description: str, *, optional: bool = True) -> Param:
    """A number from 0 to 1 (a confidence, a rate, a recall); optional ones may be left empty."""
    return Param(
        default,
        type=["null", "number"] if optional else "number",
        minimum=0,
        maximum=1,
        description=description,
    )
