"""Langfuse scores as `score-create` events on the ingestion API, the form the current server accepts.

Not the SDK's `create_score`: langfuse 5.0.4 posts a list where the server takes one score, and the
SDK drops the rejected batch (sources in docs/langfuse.md, "How it is sent"). Payloads are validated
with the server's rules before they leave (`Score`), so a wrong data type is our error, not a silent
207 line; 207 per-event errors are logged (not retried), 5xx, 429 and network errors are retried a
few times, and tracing never fails a task.
"""

from __future__ import annotations

import base64
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llm_operators.llm.langfuse_client import LangfuseSettings

log = logging.getLogger(__name__)

INGESTION_PATH = "/api/public/ingestion"
BATCH_SIZE = 100  # events per request; far below the route's 4.5 MB body limit (ingestion.ts:31-37)
RETRIES = 3
TIMEOUT_S = 10.0
TEXT_SCORE_MAX_LENGTH = 500  # packages/shared/src/domain/scores.ts:44

DataType = Literal["NUMERIC", "BOOLEAN", "CATEGORICAL", "TEXT"]


class Score(BaseModel):
    """The body of one ``score-create`` event (ScoreBody, packages/shared/src/server/ingestion/
    types.ts:531-596): exactly one subject (here always a trace), a value of the data type's kind."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(min_length=1, max_length=800)  # idSchema, types.ts:10-16
    trace_id: str = Field(alias="traceId", min_length=1)
    name: str = Field(min_length=1)
    value: float | str
    data_type: DataType = Field(alias="dataType")
    comment: str | None = None
    metadata: dict[str, Any] | None = None
    environment: str | None = None

    @model_validator(mode="after")
    def _value_matches_type(self) -> Score:
        if "\r" in self.id:
            raise ValueError("score id cannot contain carriage returns")
        numeric = isinstance(self.value, int | float) and not isinstance(self.value, bool)
        if self.data_type in ("NUMERIC", "BOOLEAN") and not numeric:
            raise ValueError(f"{self.name}: a {self.data_type} score needs a number, got {self.value!r}")
        if self.data_type == "BOOLEAN" and self.value not in (0, 1):
            raise ValueError(f"{self.name}: a BOOLEAN score is 0 or 1, got {self.value!r}")
        if self.data_type in ("CATEGORICAL", "TEXT") and not isinstance(self.value, str):
            raise ValueError(f"{self.name}: a {self.data_type} score needs a string, got {self.value!r}")
        if self.data_type == "TEXT" and not 1 <= len(str(self.value)) <= TEXT_SCORE_MAX_LENGTH:
            raise ValueError(f"{self.name}: a TEXT score is 1 to {TEXT_SCORE_MAX_LENGTH} characters")
        return self

    def event(self) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "type": "score-create",
            "timestamp": datetime.now(UTC).isoformat(),  # an offset is required (types.ts:619)
            "body": self.model_dump(by_alias=True, exclude_none=True),
        }


class ScoreSender:
    """Buffers scores and posts them in batches; `flush()` sends what is left."""

    def __init__(self, settings: LangfuseSettings) -> None:
        self.settings = settings
        self.sent = 0
        self.rejected = 0
        self._pending: list[dict[str, Any]] = []
        self._http: Any = None

    def add(self, score: Score) -> None:
        self._pending.append(score.event())
        if len(self._pending) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:BATCH_SIZE], self._pending[BATCH_SIZE:]
            self._post(batch)

    def close(self) -> None:
        self.flush()
        if self._http is not None:
            self._http.close()
            self._http = None

    def _client(self) -> Any:
        if self._http is None:
            import httpx

            token = f"{self.settings.public_key}:{self.settings.secret_key.get_secret_value()}"
            self._http = httpx.Client(
                base_url=self.settings.host,
                headers={"Authorization": "Basic " + base64.b64encode(token.encode()).decode()},
                timeout=TIMEOUT_S,
            )
        return self._http

    def _post(self, batch: list[dict[str, Any]]) -> None:
        import httpx

        for attempt in range(RETRIES):
            try:
                response = self._client().post(INGESTION_PATH, json={"batch": batch})
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            else:
                if response.status_code < 300:
                    self._count(batch, response)
                    return
                problem = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code != 429:
                    break  # our request is wrong: the same request cannot succeed later
            if attempt + 1 < RETRIES:
                time.sleep(0.5 * 2**attempt)
        self.rejected += len(batch)
        log.warning("%d Langfuse scores not sent to %s: %s", len(batch), self.settings.host, problem)

    def _count(self, batch: list[dict[str, Any]], response: Any) -> None:
        try:
            errors = response.json().get("errors") or []
        except ValueError:
            errors = []
        self.sent += len(batch) - len(errors)
        self.rejected += len(errors)
        if errors:
            first = errors[0]
            log.error(
                "Langfuse rejected %d of %d scores (first: %s %s)",
                len(errors),
                len(batch),
                first.get("status"),
                str(first.get("error") or first.get("message"))[:300],
            )
