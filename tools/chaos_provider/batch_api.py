"""OpenAI Files + Batches endpoints for the chaos provider: upload, create, retrieve, file content, cancel.

Stdlib + pydantic only, like the rest of the chaos package. `BatchAPI.handle()` answers a request or
returns None (not a batch route), so the chaos server (or any loopback test server) can mount it in
front of its own routes. Each line of a batch is answered by a `LineAnswerer`, the same function that
answers the chaos server's live `/v1/chat/completions`, so a day triaged in batch mode sees the same
answers (and takes the same routes) as a day triaged live.

Contract followed (OpenAI API reference, https://platform.openai.com/docs/api-reference/batch and
https://platform.openai.com/docs/api-reference/files; guide https://platform.openai.com/docs/guides/batch):
- upload: multipart `POST /v1/files` with fields `purpose` and `file`; a `file` object comes back.
- create: `POST /v1/batches` with `input_file_id`, `endpoint`, `completion_window` ("24h" only).
- list: `GET /v1/batches?after=&limit=`; a page of batches, newest first (see `_list`).
- retrieve: `GET /v1/batches/{id}`; status validating -> in_progress -> finalizing -> completed, or
  failed (input validation), expired (not done within the window), cancelling -> cancelled.
- results: `GET /v1/files/{id}/content` of `output_file_id` (successful requests) and `error_file_id`
  (failed ones); lines are in no particular order and are matched by `custom_id`.
- cancel: `POST /v1/batches/{id}/cancel`; a cancelled batch keeps the results finished before it.
"""

from __future__ import annotations

import json
import math
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .config import ChaosConfig
from .server import normalise_messages, success_payload

__all__ = ["BatchAPI", "BatchBehaviour", "BatchReply", "ChaosLineAnswerer", "LineAnswerer"]

CHAT_ENDPOINT = "/v1/chat/completions"
# Guide, "Rate limits": an input file holds at most 50,000 requests and 200 MB.
MAX_REQUESTS = 50_000
MAX_FILE_BYTES = 200 * 1024 * 1024
# Reference, "Create batch": "Currently only `24h` is supported."
COMPLETION_WINDOWS = frozenset({"24h"})
# Reference, "Create batch", `metadata`: "Set of 16 key-value pairs ... Keys are strings with a maximum
# length of 64 characters. Values are strings with a maximum length of 512 characters."
METADATA_PAIRS, METADATA_KEY_CHARS, METADATA_VALUE_CHARS = 16, 64, 512
# Reference, "List batch", `limit`: "Limit can range between 1 and 100, and the default is 20."
LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX = 20, 100
# Guide, "Batch expiration": requests not run in time go to the error file with this code.
EXPIRED_CODE = "batch_expired"
EXPIRED_MESSAGE = "This request could not be executed before the completion window expired."

#: `(request body of one line) -> (status code, response body)`, the live endpoint's answer.
LineAnswerer = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


class BatchBehaviour(BaseModel):
    """How the batch endpoints behave; swapped at run time with `BatchAPI.configure()`.

    - `completion_delay_s`: a batch is in_progress this long after its creation, then completed.
    - `expire_after_s` (< the delay): the batch expires at that age instead; `expire_done_share` of
      its lines (in input order) are in the output file, the rest in the error file as batch_expired.
    - `line_failure_rate`: share of lines (seeded draw per line) answered 500 in the error file.
    - `outage`: every batch route answers 503. `create_outage_models`: creating a batch whose lines ask
      one of these models answers 503 (one deployment down: the caller must use another).
    """

    model_config = ConfigDict(extra="forbid")

    completion_delay_s: float = Field(default=0.0, ge=0)
    expire_after_s: float | None = Field(default=None, ge=0)
    expire_done_share: float = Field(default=0.5, ge=0, le=1)
    line_failure_rate: float = Field(default=0.0, ge=0, le=1)
    outage: bool = False
    create_outage_models: list[str] = Field(default_factory=list)
    seed: int = 20240601


@dataclass(frozen=True)
class BatchReply:
    status: int
    body: bytes
    content_type: str = "application/json"


@dataclass
class _File:
    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


@dataclass
class _Batch:
    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, str] | None
    lines: list[dict[str, Any]]
    created_at: float  # monotonic, for the behaviour's delays
    created_unix: int
    errors: list[dict[str, Any]] = field(default_factory=list)
    status: str = "validating"
    cancelled_after_s: float | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: {"total": 0, "completed": 0, "failed": 0})
    finished_unix: dict[str, int] = field(default_factory=dict)


def _error(
    status: int, message: str, code: str | None = None, etype: str = "invalid_request_error"
) -> BatchReply:
    body = {"error": {"message": message, "type": etype, "param": None, "code": code}}
    return BatchReply(status, json.dumps(body).encode())


def _json(payload: Any, status: int = 200) -> BatchReply:
    return BatchReply(status, json.dumps(payload).encode())


class ChaosLineAnswerer:
    """Answers a line like the chaos server's live endpoint: `content_fn(model, messages)` if set,
    else the model's configured success content, with the same usage estimate."""

    def __init__(
        self,
        config: Callable[[], ChaosConfig],
        content_fn: Callable[[], Callable[[str, list[dict[str, Any]]], str] | None],
    ) -> None:
        self._config = config
        self._content_fn = content_fn

    def __call__(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        model = body.get("model")
        raw = body.get("messages")
        if not isinstance(model, str) or not model or not isinstance(raw, list):
            return 400, {
                "error": {
                    "message": "line body needs 'model' and 'messages'",
                    "type": "invalid_request_error",
                }
            }
        messages = normalise_messages("openai", body)  # as the live endpoint reads them
        fn = self._content_fn()
        content = (
            fn(model, messages) if fn is not None else self._config().behaviour_for(model).success_content()
        )
        return 200, success_payload("openai", model, messages, content)


_BATCH_RE = re.compile(r"^/(?:v1/)?batches/([A-Za-z0-9_-]+)(/cancel)?$")
_FILE_RE = re.compile(r"^/(?:v1/)?files/([A-Za-z0-9_-]+)(/content)?$")
_FILES = frozenset({"/v1/files", "/files"})
_BATCHES = frozenset({"/v1/batches", "/batches"})


class BatchAPI:
    """In-memory files and batches; thread-safe (the servers that mount it are threaded)."""

    def __init__(
        self,
        answer: LineAnswerer,
        behaviour: BatchBehaviour | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._answer = answer
        self._behaviour = behaviour or BatchBehaviour()
        self._clock = clock
        self._lock = threading.RLock()
        self._files: dict[str, _File] = {}
        self._batches: dict[str, _Batch] = {}  # in creation order
        self.created: list[str] = []  # batch ids, in creation order (what a test counts)
        self.create_attempts = 0

    # -- control ----------------------------------------------------------------------------------
    def configure(self, behaviour: BatchBehaviour | Mapping[str, Any]) -> None:
        with self._lock:
            self._behaviour = (
                behaviour
                if isinstance(behaviour, BatchBehaviour)
                else BatchBehaviour.model_validate(behaviour)
            )

    def batch_models(self, batch_id: str) -> list[str]:
        with self._lock:
            return sorted({line["body"]["model"] for line in self._batches[batch_id].lines})

    # -- routing ----------------------------------------------------------------------------------
    def handle(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        query: Mapping[str, Sequence[str]] | None = None,
    ) -> BatchReply | None:
        """`path` without its query string; `query` as `urllib.parse.parse_qs` gives it."""
        path = path.rstrip("/")
        batch_match = _BATCH_RE.match(path)
        file_match = _FILE_RE.match(path)
        if not (path in _FILES or path in _BATCHES or batch_match or file_match):
            return None
        if self._behaviour.outage:
            return _error(
                503, "chaos: the batch API is in a simulated outage", "service_unavailable", "server_error"
            )
        with self._lock:
            if method == "POST" and path in _FILES:
                return self._upload(headers, body)
            if method == "POST" and path in _BATCHES:
                return self._create(body)
            if method == "GET" and path in _BATCHES:
                return self._list(query or {})
            if batch_match and method == "GET" and not batch_match.group(2):
                return self._retrieve(batch_match.group(1))
            if batch_match and method == "POST" and batch_match.group(2):
                return self._cancel(batch_match.group(1))
            if file_match and method == "GET" and file_match.group(2):
                return self._content(file_match.group(1))
        return _error(404, f"chaos: no batch route for {method} {path}", "not_found")

    # -- files ------------------------------------------------------------------------------------
    def _upload(self, headers: Mapping[str, str], body: bytes) -> BatchReply:
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if not content_type.lower().startswith("multipart/form-data"):
            # Reference, "Upload file": the request is multipart/form-data.
            return _error(400, "Content-Type must be multipart/form-data")
        fields = _multipart(content_type, body)
        purpose = fields.get("purpose", (None, b""))[1].decode()
        if "file" not in fields:
            return _error(400, "'file' is a required property")
        if purpose != "batch":
            # only what the product uses is served: batch input files
            return _error(400, f"chaos: purpose {purpose!r} is not served (only 'batch')")
        filename, content = fields["file"]
        if len(content) > MAX_FILE_BYTES:
            return _error(400, "File is too large (max 200 MB for batch input)")
        item = _File(
            f"file-{uuid.uuid4().hex[:24]}", filename or "upload.jsonl", purpose, content, int(time.time())
        )
        self._files[item.id] = item
        return _json(item.payload())

    def _content(self, file_id: str) -> BatchReply:
        item = self._files.get(file_id)
        if item is None:
            return _error(404, f"No such File object: {file_id}", "not_found")
        return BatchReply(200, item.content, "application/octet-stream")

    # -- batches ----------------------------------------------------------------------------------
    def _create(self, raw: bytes) -> BatchReply:
        self.create_attempts += 1
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            return _error(400, "request body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "request body is not a JSON object")
        for name in ("input_file_id", "endpoint", "completion_window"):
            if not isinstance(body.get(name), str):
                return _error(400, f"'{name}' is a required property")
        if body["completion_window"] not in COMPLETION_WINDOWS:
            return _error(
                400, f"Invalid completion_window {body['completion_window']!r}: only '24h' is supported"
            )
        if (problem := _metadata_problem(body.get("metadata"))) is not None:
            return _error(400, f"Invalid 'metadata': {problem}")
        if body["endpoint"] != CHAT_ENDPOINT:
            return _error(400, f"chaos: endpoint {body['endpoint']!r} is not served (only {CHAT_ENDPOINT})")
        source = self._files.get(body["input_file_id"])
        if source is None:
            return _error(404, f"No such File object: {body['input_file_id']}", "not_found")
        if source.purpose != "batch":
            return _error(400, "The input file must be uploaded with purpose 'batch'")
        lines, errors = _parse_input(source.content, body["endpoint"])
        down = set(self._behaviour.create_outage_models) & {
            ln["body"].get("model") for ln in lines if isinstance(ln.get("body"), dict)
        }
        if down:
            return _error(
                503,
                f"chaos: model(s) {sorted(down)} cannot take batches now",
                "service_unavailable",
                "server_error",
            )
        now = int(time.time())
        batch = _Batch(
            id=f"batch_{uuid.uuid4().hex[:24]}",
            input_file_id=source.id,
            endpoint=body["endpoint"],
            completion_window=body["completion_window"],
            metadata=body.get("metadata"),
            lines=lines,
            created_at=self._clock(),
            created_unix=now,
            errors=errors,
        )
        batch.counts["total"] = len(lines)
        self._batches[batch.id] = batch
        self.created.append(batch.id)
        return _json(self._payload(batch))

    def _list(self, query: Mapping[str, Sequence[str]]) -> BatchReply:
        """One page of the batches, newest first.

        - Reference, "List batch" (https://platform.openai.com/docs/api-reference/batch/list): `after`
          "is an object ID that defines your place in the list ... ending with obj_foo, your subsequent
          call can include after=obj_foo in order to fetch the next page"; `limit` 1..100, default 20.
        - The answer is the API's list object: `object` "list", `data`, `first_id`, `last_id`,
          `has_more` (openai-openapi `ListBatchesResponse`; null ids on an empty page).
        - Order: the reference names none and takes no `order` for batches; the API answers newest
          first (created_at descending), which is what `after` pages through here.
        - A cursor that names no batch is not documented: refused (404), so a client's bug shows.
        """
        raw_limit = (query.get("limit") or [str(LIST_LIMIT_DEFAULT)])[-1]
        try:
            limit = int(raw_limit)
        except ValueError:
            return _error(400, f"Invalid 'limit': expected an integer, got {raw_limit!r}")
        if not 1 <= limit <= LIST_LIMIT_MAX:
            return _error(400, f"Invalid 'limit': {limit} is outside 1..{LIST_LIMIT_MAX}")
        newest_first = list(reversed(self._batches.values()))
        start = 0
        after = (query.get("after") or [""])[-1]
        if after:
            ids = [b.id for b in newest_first]
            if after not in ids:
                return _error(404, f"No batch found with id '{after}'", "not_found")
            start = ids.index(after) + 1
        page = newest_first[start : start + limit]
        for batch in page:
            self._advance(batch)
        return _json(
            {
                "object": "list",
                "data": [self._payload(b) for b in page],
                "first_id": page[0].id if page else None,
                "last_id": page[-1].id if page else None,
                "has_more": start + limit < len(newest_first),
            }
        )

    def _retrieve(self, batch_id: str) -> BatchReply:
        batch = self._batches.get(batch_id)
        if batch is None:
            return _error(404, f"No batch found with id '{batch_id}'", "not_found")
        self._advance(batch)
        return _json(self._payload(batch))

    def _cancel(self, batch_id: str) -> BatchReply:
        batch = self._batches.get(batch_id)
        if batch is None:
            return _error(404, f"No batch found with id '{batch_id}'", "not_found")
        self._advance(batch)
        if batch.status not in ("validating", "in_progress"):
            # Reference, "Cancel batch": only a batch still running can be cancelled.
            return _error(409, f"Cannot cancel a batch with status {batch.status!r}", "conflict")
        batch.cancelled_after_s = self._clock() - batch.created_at
        batch.status = "cancelling"
        batch.finished_unix["cancelling_at"] = int(time.time())
        return _json(self._payload(batch))

    def _advance(self, batch: _Batch) -> None:
        """Move the batch along its life cycle, by its age and the behaviour in force."""
        if batch.status in ("completed", "failed", "expired", "cancelled"):
            return
        if batch.errors:
            batch.status = "failed"
            batch.finished_unix["failed_at"] = int(time.time())
            return
        b = self._behaviour
        age = self._clock() - batch.created_at
        if batch.status == "cancelling":
            # finished before the cancel: the share of the delay that had passed
            share = (
                1.0 if b.completion_delay_s == 0 else min(1.0, batch.cancelled_after_s / b.completion_delay_s)
            )
            self._finish(batch, "cancelled", math.floor(share * len(batch.lines)), write_rest=False)
            return
        if (
            b.expire_after_s is not None
            and b.expire_after_s < b.completion_delay_s
            and age >= b.expire_after_s
        ):
            self._finish(
                batch, "expired", math.floor(b.expire_done_share * len(batch.lines)), write_rest=True
            )
        elif age >= b.completion_delay_s:
            self._finish(batch, "completed", len(batch.lines), write_rest=True)
        else:
            batch.status = "in_progress"
            batch.finished_unix.setdefault("in_progress_at", int(time.time()))

    def _finish(self, batch: _Batch, status: str, done: int, *, write_rest: bool) -> None:
        rng = random.Random(f"{self._behaviour.seed}:{batch.id}")
        out: list[dict[str, Any]] = []
        err: list[dict[str, Any]] = []
        for index, line in enumerate(batch.lines):
            request_id = f"req_{uuid.uuid4().hex[:24]}"
            failed = rng.random() < self._behaviour.line_failure_rate
            if index >= done:
                if write_rest:  # expired: the rest is reported; cancelled: the rest is simply absent
                    err.append(
                        {
                            "id": f"batch_req_{uuid.uuid4().hex[:24]}",
                            "custom_id": line["custom_id"],
                            "response": None,
                            "error": {
                                "code": EXPIRED_CODE,
                                "message": EXPIRED_MESSAGE,
                            },
                        }
                    )
                continue
            if failed:
                status_code, body = (
                    500,
                    {"error": {"message": "chaos: injected line failure", "type": "server_error"}},
                )
            else:
                status_code, body = self._answer(line["body"])
            entry = {
                "id": f"batch_req_{uuid.uuid4().hex[:24]}",
                "custom_id": line["custom_id"],
                "response": {"status_code": status_code, "request_id": request_id, "body": body},
                "error": None,
            }
            (out if status_code == 200 else err).append(entry)
        batch.counts["completed"] = len(out)
        batch.counts["failed"] = len(err)
        if out:
            batch.output_file_id = self._store_result(batch, out, "output")
        if err:
            batch.error_file_id = self._store_result(batch, err, "error")
        batch.status = status
        batch.finished_unix[f"{status}_at"] = int(time.time())

    def _store_result(self, batch: _Batch, entries: list[dict[str, Any]], kind: str) -> str:
        content = "".join(json.dumps(e) + "\n" for e in entries).encode()
        item = _File(
            f"file-{uuid.uuid4().hex[:24]}",
            f"{batch.id}_{kind}.jsonl",
            f"batch_{kind}",
            content,
            int(time.time()),
        )
        self._files[item.id] = item
        return item.id

    def _payload(self, batch: _Batch) -> dict[str, Any]:
        expires = batch.created_unix + 24 * 3600
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": batch.endpoint,
            "errors": {"object": "list", "data": batch.errors} if batch.errors else None,
            "input_file_id": batch.input_file_id,
            "completion_window": batch.completion_window,
            "status": batch.status,
            "output_file_id": batch.output_file_id,
            "error_file_id": batch.error_file_id,
            "created_at": batch.created_unix,
            "in_progress_at": batch.finished_unix.get("in_progress_at"),
            "expires_at": expires,
            "finalizing_at": None,
            "completed_at": batch.finished_unix.get("completed_at"),
            "failed_at": batch.finished_unix.get("failed_at"),
            "expired_at": batch.finished_unix.get("expired_at"),
            "cancelling_at": batch.finished_unix.get("cancelling_at"),
            "cancelled_at": batch.finished_unix.get("cancelled_at"),
            "request_counts": dict(batch.counts),
            "metadata": batch.metadata,
        }


def _metadata_problem(metadata: Any) -> str | None:
    """What breaks the reference's metadata limits (null is no metadata), or None."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        return "expected an object of string values"
    if len(metadata) > METADATA_PAIRS:
        return f"{len(metadata)} pairs, at most {METADATA_PAIRS}"
    for key, value in metadata.items():
        if len(key) > METADATA_KEY_CHARS:
            return f"key {key[:20]!r}... longer than {METADATA_KEY_CHARS} characters"
        if not isinstance(value, str):
            return f"value of {key!r} is not a string"
        if len(value) > METADATA_VALUE_CHARS:
            return f"value of {key!r} longer than {METADATA_VALUE_CHARS} characters"
    return None


def _parse_input(content: bytes, endpoint: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The input file's lines, and the validation errors that fail the batch (status `failed`)."""
    lines: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    models: set[str] = set()

    def fail(line_no: int, code: str, message: str) -> None:
        errors.append({"code": code, "message": message, "param": None, "line": line_no})

    for line_no, raw in enumerate(content.decode("utf-8", errors="replace").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except ValueError:
            fail(line_no, "invalid_json_line", "This line is not parseable as valid JSON.")
            continue
        if not isinstance(item, dict) or not isinstance(item.get("custom_id"), str):
            fail(line_no, "missing_required_parameter", "Missing required parameter: 'custom_id'.")
            continue
        # Reference, "The request input object": custom_id must be unique within the batch,
        # method is POST, url is the batch's endpoint.
        if item["custom_id"] in seen:
            fail(line_no, "duplicate_custom_id", f"The custom_id {item['custom_id']!r} is not unique.")
        seen.add(item["custom_id"])
        if item.get("method") != "POST":
            fail(line_no, "invalid_method", "The method must be POST.")
        if item.get("url") != endpoint:
            fail(line_no, "mismatched_endpoint", f"The url must match the batch endpoint {endpoint}.")
        body = item.get("body")
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            fail(line_no, "missing_required_parameter", "Missing required parameter: 'body.model'.")
            continue
        models.add(body["model"])
        lines.append(item)
    if len(models) > 1:
        # Guide: "Each input file can only include requests to a single model."
        fail(0, "mismatched_model", f"The file mixes models {sorted(models)}; one model per batch.")
    if len(lines) > MAX_REQUESTS:
        fail(0, "too_many_requests", f"The file has {len(lines)} requests (max {MAX_REQUESTS}).")
    if not lines and not errors:
        fail(0, "empty_file", "The input file is empty.")
    return lines, errors


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """`{field name: (filename, bytes)}` of a multipart/form-data body (stdlib email parser)."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields
