"""Fixtures for operator tests: a day's outcomes written where the operators will read them."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import DAY

from llm_operators.core.models import TicketOutcome
from llm_operators.core.outputs import DayOutputs, write_jsonl


@pytest.fixture
def day_outputs(tmp_path: Path):
    """Write outcomes for DAY under tmp_path and return (output_root, DayOutputs)."""

    def write(outcomes: list[TicketOutcome]) -> DayOutputs:
        outputs = DayOutputs(tmp_path, DAY)
        outputs.ensure_dir()
        write_jsonl(outputs.outcomes, outcomes)
        return outputs

    return write
