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
        self._torn_tail = False  # the file ends in a torn line: the next append starts a new line

    def load(self) -> dict[str, TicketOutcome]:
        done: dict[str, TicketOutcome] = {}
        if not self.path.exists():
            return done
        # Bytes, decoded line by line: a line torn inside a multi-byte character must not make the
        # whole checkpoint unreadable.
        self._torn_tail = False
        with self.path.open("rb") as fh:
            for raw in fh:
                self._torn_tail = not raw.endswith(b"\n")
                line = raw.decode("utf-8", errors="replace")
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
            self._fh = self.path.open("ab")
            if self._torn_tail:
                # without this the first new entry would be glued to the torn line and lost with it
                self._fh.write(b"\n")
                self._torn_tail = False
        self._fh.write(f"{self.fingerprint}\t{outcome.model_dump_json()}\n".encode())
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
        self._torn_tail = False
        if self.path.exists():
            self.path.unlink()
