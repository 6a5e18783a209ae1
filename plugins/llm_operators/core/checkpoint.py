"""Per-ticket checkpoints, so a retried task re-asks only the tickets that had not finished.

Each finished outcome is appended and flushed as one line. A worker killed mid-write leaves at most one
torn last line, which is ignored on load (that ticket is simply triaged again). The checkpoint is
deleted once the day's outcomes file is complete, so a deliberate re-run starts fresh (and is served
by the LLM cache instead).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from pydantic import ValidationError

from llm_operators.core.models import TicketOutcome


class Checkpoint:
    def __init__(self, path: Any, fingerprint: str) -> None:
        self.path = path
        # Outcomes computed under other settings (another ladder, prompt version) are not reused.
        self.fingerprint = fingerprint
        self._fh: Any = None

    def load(self) -> dict[str, TicketOutcome]:
        done: dict[str, TicketOutcome] = {}
        if not self.path.exists():
            return done
        with self.path.open("r") as fh:
            for line in fh:
                fingerprint, _, payload = line.partition("\t")
                if fingerprint != self.fingerprint:
                    continue
                try:
                    outcome = TicketOutcome.model_validate_json(payload)
                except ValidationError:
                    continue  # torn line from a killed worker
                done[outcome.ticket_id] = outcome
        return done

    def append(self, outcome: TicketOutcome) -> None:
        if self._fh is None:
            self._fh = self.path.open("a")
        self._fh.write(f"{self.fingerprint}\t{outcome.model_dump_json()}\n")
        self._fh.flush()
        fileno = getattr(self._fh, "fileno", None)
        if fileno is not None:
            # not a local file: flush is the best the store offers
            with contextlib.suppress(OSError, ValueError):
                os.fsync(fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def discard(self) -> None:
        self.close()
        if self.path.exists():
            self.path.unlink()
