"""Per-ticket outcomes kept next to the outputs: a retried task re-asks only what had not finished,
and a re-run or backfill reuses what was triaged under the same fingerprint.

Each finished outcome is appended and flushed as one line, `<ticket fingerprint>\\t<run id>\\t<json>`:
once flushed it is the kernel's, so a killed worker loses nothing. It is fsynced at most once a second
(and at close): an fsync per ticket cost ~2 ms on the event loop, and what a machine crash can lose
is the last second's tickets, triaged again. A worker killed mid-write leaves at most one torn last
line, which is ignored on load (that ticket is simply triaged again). The later line for a ticket
wins. The file is kept when the day is complete: it is what makes a re-run free (core/triage_run.py
decides what may be reused). A complete day ends with a `#complete\t<run id>` line, so that running
the same run again (Airflow's backfill with `--reprocess-behavior completed` clears and re-runs the
existing run) reuses its outcomes as a re-run, while a retry of an unfinished run resumes them.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError

from llm_operators.core.models import TicketOutcome

COMPLETE = "#complete"


@dataclass(frozen=True)
class Entry:
    fingerprint: str  # core/fingerprint.py: the settings, prompt and ticket the outcome was made from
    run_id: str  # the run that paid for it
    outcome: TicketOutcome
    completed: bool = False  # that run finished the day after this outcome was made


class Checkpoint:
    def __init__(self, path: Any, run_id: str = "", sync_every_s: float = 1.0) -> None:
        self.path = path
        self.run_id = run_id
        self.sync_every_s = sync_every_s
        self._synced_at = time.monotonic()
        self._fh: Any = None
        self._torn_tail = False  # the file ends in a torn line: the next append starts a new line

    def load(self) -> dict[str, Entry]:
        done: dict[str, Entry] = {}
        if not self.path.exists():
            return done
        # Bytes, decoded line by line: a line torn inside a multi-byte character must not make the
        # whole checkpoint unreadable.
        self._torn_tail = False
        with self.path.open("rb") as fh:
            for raw in fh:
                self._torn_tail = not raw.endswith(b"\n")
                parts = raw.decode("utf-8", errors="replace").split("\t", 2)
                if len(parts) == 2 and parts[0] == COMPLETE and not self._torn_tail:
                    finished_run = parts[1].rstrip("\n")
                    for key, entry in done.items():
                        if entry.run_id == finished_run:
                            done[key] = replace(entry, completed=True)
                    continue
                if len(parts) != 3:
                    continue  # torn, or written by an older version: triaged again
                fingerprint, run_id, payload = parts
                try:
                    outcome = TicketOutcome.model_validate_json(payload)
                except ValidationError:
                    continue  # torn line from a killed worker
                done[outcome.ticket_id] = Entry(fingerprint, run_id, outcome)
        return done

    def _write(self, line: str) -> None:
        if self._fh is None:
            self._fh = self.path.open("ab")
            if self._torn_tail:
                # without this the first new line would be glued to the torn line and lost with it
                self._fh.write(b"\n")
                self._torn_tail = False
        self._fh.write(line.encode())

    def append(self, outcome: TicketOutcome, fingerprint: str) -> None:
        self._write(f"{fingerprint}\t{self.run_id}\t{outcome.model_dump_json()}\n")
        self._fh.flush()
        if time.monotonic() - self._synced_at >= self.sync_every_s:
            self._sync()

    def mark_complete(self) -> None:
        """The run finished the day: its outcomes so far are a finished run's (see the module doc)."""
        self._write(f"{COMPLETE}\t{self.run_id}\n")
        self.close()

    def _sync(self) -> None:
        self._synced_at = time.monotonic()
        fileno = getattr(self._fh, "fileno", None)
        if fileno is not None:
            # not a local file: flush is the best the store offers
            with contextlib.suppress(OSError, ValueError):
                os.fsync(fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._sync()
            self._fh.close()
            self._fh = None

    def discard(self) -> None:
        self.close()
        self._torn_tail = False
        if self.path.exists():
            self.path.unlink()
