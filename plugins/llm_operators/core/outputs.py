"""Where a day's files live and how they are written and read.

`<output root>/<YYYY-MM-DD>/`: outcomes.jsonl (one line per ticket), rejected.jsonl (lines that were
not tickets), approved.jsonl and review.jsonl (the gate's two sets), outbox.jsonl (replies sent),
review_actions.jsonl (what manual review did), summary.json and report.md. Every writer rewrites its
file whole, so a re-run of a day replaces its files instead of appending to them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from llm_operators.core.ticket_source import PathLike

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class DayOutputs:
    root: Any  # PathLike; Any because ObjectStoragePath and pathlib.Path share no base class
    day: str

    @property
    def dir(self) -> Any:
        return self.root / self.day

    def path(self, name: str) -> Any:
        return self.dir / name

    @property
    def outcomes(self) -> Any:
        return self.path("outcomes.jsonl")

    @property
    def checkpoint(self) -> Any:
        return self.path("checkpoint.jsonl")

    @property
    def rejected(self) -> Any:
        return self.path("rejected.jsonl")

    @property
    def approved(self) -> Any:
        return self.path("approved.jsonl")

    @property
    def review(self) -> Any:
        return self.path("review.jsonl")

    @property
    def outbox(self) -> Any:
        return self.path("outbox.jsonl")

    @property
    def review_actions(self) -> Any:
        return self.path("review_actions.jsonl")

    @property
    def summary(self) -> Any:
        return self.path("summary.json")

    @property
    def report(self) -> Any:
        return self.path("report.md")

    def ensure_dir(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)


def write_jsonl(path: PathLike, items: Iterable[BaseModel]) -> int:
    count = 0
    with path.open("w") as fh:
        for item in items:
            fh.write(item.model_dump_json() + "\n")
            count += 1
    return count


def read_jsonl(path: PathLike, model: type[M]) -> Iterator[M]:
    if not path.exists():
        return
    with path.open("r") as fh:
        for line in fh:
            if line.strip():
                yield model.model_validate_json(line)


def write_json(path: PathLike, data: dict[str, Any]) -> None:
    with path.open("w") as fh:
        fh.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: PathLike) -> dict[str, Any]:
    with path.open("r") as fh:
        return json.load(fh)
