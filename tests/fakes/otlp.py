"""Fake Langfuse server on loopback: the OTLP trace receiver, the score routes and prompt management,
as strict as the server (langfuse/langfuse at 62751446, August 2026; rules cite file:line).

Endpoints (only what a product path uses):

* ``POST /api/public/otel/v1/traces``: OTLP/HTTP protobuf (``application/x-protobuf``) or OTLP/JSON,
  gzip honoured (the SDK gzips). Spans land in ``.spans`` (decoded, see below).
* ``POST /api/public/ingestion``: ``{"batch": [event, ...]}``; anything else is a 400
  (web/src/pages/api/public/ingestion.ts:133-146). Each event is validated on its own and the answer
  is 207 ``{"successes": [{id, status: 201}], "errors": [{id, status: 400, message, error}]}``
  (ingestion.ts:176-182, packages/shared/src/server/ingestion/processEventBatch.ts:168-182,462-524).
  Only ``score-create`` is held (the product sends nothing else there); its body is checked like
  ``ScoreBody`` (packages/shared/src/server/ingestion/types.ts:531-596). Accepted scores land in
  ``.scores``.
* ``POST /api/public/scores``: ONE score object checked like ``PostScoresBody``
  (packages/shared/src/features/scores/interfaces/api/shared.ts:78-121) -> 200 ``{"id"}``
  (web/src/pages/api/public/scores/index.ts:20-61). A JSON list, which langfuse 5.0.4's
  ``create_score`` sends, fails that object schema: 400 ``{"message": "Invalid request data",
  "error": [issues]}`` (web/src/features/public-api/server/withMiddlewares.ts:186-191).
* ``GET /api/public/v2/prompts/{name}?label=|version=`` and ``POST /api/public/v2/prompts``: text
  prompts with versions and labels (web/src/features/prompts/server/handlers/promptNameHandler.ts,
  promptsHandler.ts; packages/shared/src/features/prompts/types.ts, constants.ts).
  ``.set_prompt(name, text, labels)`` seeds one.
* Datasets (langfuse/langfuse web/src/pages/api/public/..., bodies in
  web/src/features/public-api/types/datasets.ts, behaviour in
  web/src/features/datasets/server/publicDatasetService.ts):
  ``POST /api/public/v2/datasets`` (upsert by name), ``GET /api/public/v2/datasets/{name}``,
  ``POST /api/public/dataset-items`` (upsert by id; an id is unique per project across datasets),
  ``GET /api/public/dataset-items?datasetName=&page=&limit=``, ``POST /api/public/dataset-run-items``
  (the server picks a new run item id on every POST: re-posting duplicates) and
  ``GET /api/public/dataset-run-items?datasetId=&runName=&page=&limit=``. ``events_only=True``
  behaves as a Langfuse v4 deployment in events-only write mode: run items are not stored, the POST
  answers a stable experiment id, the GET is a 404. State in ``.datasets``, ``.dataset_items``,
  ``.dataset_run_items``.

Auth: HTTP Basic ``public_key:secret_key`` on every route (401 otherwise).

``.spans`` is a flat list of dicts (``trace_id``/``span_id``/``parent_span_id`` hex or None,
``name``, ``kind``, ``attributes`` decoded from AnyValue, ``resource``, ``scope``, start/end times,
``status_code``, ``status_message``, ``events``).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import re
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from .base import FakeServer, Request, Response, json_response

__all__ = ["FakeLangfuseOTLP", "decode_any_value"]

TRACES_PATH = "/api/public/otel/v1/traces"
PROMPTS_PATH = "/api/public/v2/prompts"
DATASETS_PATH = "/api/public/v2/datasets"
DATASET_ITEMS_PATH = "/api/public/dataset-items"
DATASET_RUN_ITEMS_PATH = "/api/public/dataset-run-items"
PROJECT_ID = "fake-project"
# createAuthedProjectAPIRoute.ts:324-336 (routes flagged rejectInEventsOnlyMode)
EVENTS_ONLY_MESSAGE = (
    "This endpoint is not available on deployments running in Langfuse v4 events_only mode. "
    "Learn more about Langfuse v4 at: https://langfuse.com/docs/v4"
)


def decode_any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [decode_any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: decode_any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def _attrs(key_values: Any) -> dict[str, Any]:
    return {kv.key: decode_any_value(kv.value) for kv in key_values}


def _hex_ids_to_base64(node: Any) -> Any:
    """OTLP/JSON carries trace/span ids as hex; protobuf's JSON mapping expects base64."""
    if isinstance(node, list):
        return [_hex_ids_to_base64(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id") and value:
            out[key] = base64.b64encode(bytes.fromhex(value)).decode()
        else:
            out[key] = _hex_ids_to_base64(value)
    return out


class FakeLangfuseOTLP(FakeServer):
    name = "fake-langfuse"

    def __init__(
        self,
        public_key: str = "pk-lf-test",
        secret_key: str = "sk-lf-test",
        host: str = "127.0.0.1",
        port: int = 0,
        events_only: bool = False,
    ) -> None:
        super().__init__(host, port)
        self.public_key = public_key
        self.secret_key = secret_key
        # LANGFUSE_MIGRATION_V4_WRITE_MODE=events_only (web/src/pages/api/public/dataset-run-items.ts:29-35)
        self.events_only = events_only
        self._datasets: dict[str, dict[str, Any]] = {}  # name -> dataset
        self._items: dict[str, dict[str, Any]] = {}  # item id -> item (ids are per project)
        self._runs: dict[tuple[str, str], dict[str, Any]] = {}  # (dataset id, run name) -> run
        self._run_items: list[dict[str, Any]] = []
        self._spans: list[dict[str, Any]] = []
        self._scores: list[dict[str, Any]] = []
        self._prompts: dict[str, list[dict[str, Any]]] = {}  # name -> versions, oldest first

    # ----------------------------------------------------------------- helpers for tests
    @property
    def auth_header(self) -> str:
        token = base64.b64encode(f"{self.public_key}:{self.secret_key}".encode()).decode()
        return f"Basic {token}"

    @property
    def traces_endpoint(self) -> str:
        return self.url + TRACES_PATH

    @property
    def spans(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(s) for s in self._spans]

    @property
    def scores(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(s) for s in self._scores]

    @property
    def prompts(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            return {name: [dict(v) for v in versions] for name, versions in self._prompts.items()}

    @property
    def datasets(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {name: dict(d) for name, d in self._datasets.items()}

    @property
    def dataset_items(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(i) for i in self._items.values()]

    @property
    def dataset_run_items(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(i) for i in self._run_items]

    def set_prompt(self, name: str, text: str, labels: tuple[str, ...] = ("production",)) -> int:
        """Seeds a new text version of `name` (as the UI would); returns its version."""
        with self._lock:
            return self._add_prompt_version(name, text, list(labels), None)["version"]

    def wait_for_spans(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        if not self.wait_until(lambda: len(self._spans) >= n, timeout):
            names = [s["name"] for s in self.spans]
            raise AssertionError(f"expected {n} spans within {timeout}s, got {len(names)}: {names}")
        return self.spans

    def wait_for_scores(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        if not self.wait_until(lambda: len(self._scores) >= n, timeout):
            raise AssertionError(f"expected {n} scores within {timeout}s, got {self.scores}")
        return self.scores

    def fail_next(self, n: int = 1, status: int = 503, path: str | None = None) -> None:
        self.inject_failure(
            json_response({"message": f"injected failure {status}"}, status), n, path or "/api/public"
        )

    # ----------------------------------------------------------------- protocol
    def _authorized(self, request: Request) -> bool:
        return (request.header("authorization") or "").strip() == self.auth_header

    def handle(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path != TRACES_PATH and not path.startswith("/api/public/"):
            return json_response({"message": "Not found"}, 404)
        if not self._authorized(request):
            return json_response(
                {"message": "Invalid credentials. Confirm that you've configured the correct host."}, 401
            )
        if path == TRACES_PATH and request.method == "POST":
            return self._traces(request)
        if path == "/api/public/scores" and request.method == "POST":
            return self._post_score(request)
        if path == "/api/public/ingestion" and request.method == "POST":
            return self._ingestion(request)
        if path == PROMPTS_PATH and request.method == "POST":
            return self._create_prompt(request)
        if path.startswith(PROMPTS_PATH + "/") and request.method == "GET":
            return self._get_prompt(unquote(path[len(PROMPTS_PATH) + 1 :]), request)
        if path == DATASETS_PATH and request.method == "POST":
            return self._create_dataset(request)
        if path.startswith(DATASETS_PATH + "/") and request.method == "GET":
            return self._get_dataset(unquote(path[len(DATASETS_PATH) + 1 :]))
        if path == DATASET_ITEMS_PATH and request.method == "POST":
            return self._upsert_dataset_item(request)
        if path == DATASET_ITEMS_PATH and request.method == "GET":
            return self._list_dataset_items(request)
        if path == DATASET_RUN_ITEMS_PATH and request.method == "POST":
            return self._create_dataset_run_item(request)
        if path == DATASET_RUN_ITEMS_PATH and request.method == "GET":
            return self._list_dataset_run_items(request)
        return json_response({"message": f"No {request.method} {path} in the fake"}, 404)

    def _decode_body(self, request: Request) -> bytes:
        encoding = (request.header("content-encoding") or "identity").strip().lower()
        if encoding == "gzip":
            return gzip.decompress(request.body)
        if encoding in ("identity", ""):
            return request.body
        raise ValueError(f"unsupported Content-Encoding {encoding!r}")

    def _traces(self, request: Request) -> Response:
        try:
            body = self._decode_body(request)
        except (ValueError, OSError) as exc:
            return Response(400, str(exc).encode(), {"Content-Type": "text/plain"})
        message = ExportTraceServiceRequest()
        as_json = request.content_type == "application/json"
        try:
            if as_json:
                json_format.ParseDict(_hex_ids_to_base64(json.loads(body)), message)
            else:
                message.ParseFromString(body)
        except (ValueError, json_format.ParseError, binascii.Error) as exc:
            return Response(400, f"cannot decode OTLP body: {exc}".encode(), {"Content-Type": "text/plain"})

        new_spans = []
        for resource_spans in message.resource_spans:
            resource = _attrs(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                scope = scope_spans.scope.name
                for span in scope_spans.spans:
                    new_spans.append(
                        {
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_span_id": span.parent_span_id.hex() or None,
                            "name": span.name,
                            "kind": Span.SpanKind.Name(span.kind),
                            "attributes": _attrs(span.attributes),
                            "resource": resource,
                            "scope": scope,
                            "start_time_unix_nano": span.start_time_unix_nano,
                            "end_time_unix_nano": span.end_time_unix_nano,
                            "status_code": Status.StatusCode.Name(span.status.code),
                            "status_message": span.status.message,
                            "events": [
                                {"name": e.name, "attributes": _attrs(e.attributes)} for e in span.events
                            ],
                        }
                    )
        with self._lock:
            self._spans.extend(new_spans)
        self.notify()
        if as_json:
            return json_response({})
        return Response(
            200,
            ExportTraceServiceResponse().SerializeToString(),
            {"Content-Type": "application/x-protobuf"},
        )

    # ----------------------------------------------------------------- scores
    def _post_score(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return json_response({"message": "Invalid JSON"}, 400)
        issues = score_issues(body, ingestion=False)
        if issues:
            # withMiddlewares.ts:186-191: a ZodError from the body schema is a 400 with the issues
            return json_response({"message": "Invalid request data", "error": issues}, 400)
        score = {**body, "id": body.get("id") or str(uuid.uuid4())}  # scores/index.ts:32-38
        with self._lock:
            self._scores.append(score)
        self.notify()
        return json_response({"id": score["id"]})

    def _ingestion(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return json_response({"message": "Invalid JSON"}, 400)
        batch = body.get("batch") if isinstance(body, dict) else None
        if not isinstance(batch, list):  # ingestion.ts:133-146
            return json_response(
                {"message": "Invalid request data", "errors": ["batch: expected array"]}, 400
            )
        successes, errors = [], []
        with self._lock:
            for event in batch:
                event_id = event.get("id") if isinstance(event, dict) else None
                # processEventBatch.ts:172-178: the event's id when it is a string, else "unknown"
                reported = event_id if isinstance(event_id, str) else "unknown"
                issues = event_issues(event)
                if issues:
                    # processEventBatch.ts:479-486 (InvalidRequestError -> 400)
                    errors.append(
                        {
                            "id": reported,
                            "status": 400,
                            "message": "Invalid request data",
                            "error": "; ".join(issues),
                        }
                    )
                    continue
                self._scores.append(event["body"])
                successes.append({"id": event_id, "status": 201})
        self.notify()
        return json_response({"successes": successes, "errors": errors}, 207)  # ingestion.ts:182

    # ----------------------------------------------------------------- datasets
    def _create_dataset(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return json_response({"message": "Invalid JSON"}, 400)
        issues = dataset_issues(body)
        if issues:
            return json_response({"message": "Invalid request data", "error": issues}, 400)
        now = _now()
        with self._lock:
            dataset = self._datasets.get(body["name"])
            if dataset is None:  # upsertDataset by (projectId, name), publicDatasetService.ts:248-297
                dataset = {
                    "id": str(uuid.uuid4()),
                    "projectId": PROJECT_ID,
                    "name": body["name"],
                    "description": None,
                    "metadata": None,
                    "inputSchema": None,
                    "expectedOutputSchema": None,
                    "createdAt": now,
                    "updatedAt": now,
                }
                self._datasets[body["name"]] = dataset
            for key in ("description", "metadata"):
                if body.get(key) is not None:  # `?? undefined`: null leaves the stored value
                    dataset[key] = body[key]
            dataset["updatedAt"] = now
            return json_response(dict(dataset))  # PostDatasetsV2Response = APIDataset, status 200

    def _get_dataset(self, name: str) -> Response:
        with self._lock:
            dataset = self._datasets.get(name)
        if dataset is None:  # v2/datasets/[datasetName]/index.ts:27-29
            return _not_found("Dataset not found")
        return json_response(dict(dataset))

    def _upsert_dataset_item(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return json_response({"message": "Invalid JSON"}, 400)
        issues = dataset_item_issues(body)
        if issues:
            return json_response({"message": "Invalid request data", "error": issues}, 400)
        now = _now()
        with self._lock:
            dataset = self._datasets.get(body["datasetName"])
            if (
                dataset is None
            ):  # getDatasetByName, packages/shared/src/server/repositories/dataset-items.ts:300-309
                return _not_found("Dataset not found")
            item_id = body.get("id") or str(uuid.uuid4())
            existing = self._items.get(item_id)
            if existing is not None and existing["datasetId"] != dataset["id"]:
                # dataset-items.ts:321-325: item ids are unique per project across datasets
                return json_response(
                    {
                        "message": f"Dataset item id {item_id} already exists in another dataset (id "
                        f"{existing['datasetId']}) in this project; item ids are unique per project "
                        f"across datasets. Use a different id or target dataset {existing['datasetId']}.",
                        "error": "LangfuseConflictError",
                    },
                    409,
                )
            item = existing or {
                "id": item_id,
                "datasetId": dataset["id"],
                "datasetName": dataset["name"],
                "status": "ACTIVE",
                "input": None,
                "expectedOutput": None,
                "metadata": None,
                "sourceTraceId": None,
                "sourceObservationId": None,
                "createdAt": now,
                "mediaReferences": [],
            }
            # mergeItemData (dataset-items.ts:331-335): a field left out or null keeps its stored value
            for key in (
                "input",
                "expectedOutput",
                "metadata",
                "sourceTraceId",
                "sourceObservationId",
                "status",
            ):
                if body.get(key) is not None:
                    item[key] = body[key]
            item["updatedAt"] = now
            self._items[item_id] = item
            return json_response(dict(item))  # PostDatasetItemsV1Response = APIDatasetItem, 200

    def _list_dataset_items(self, request: Request) -> Response:
        page, limit, issues = _pagination(request)
        if request.arg("version") is not None:
            issues.append("version: not held by the fake (the product reads the latest items)")
        if issues:
            return json_response({"message": "Invalid request data", "error": issues}, 400)
        name = request.arg("datasetName")
        with self._lock:
            if name is not None and name not in self._datasets:
                return _not_found("Dataset not found")  # publicDatasetService.ts:517-578
            items = [dict(i) for i in self._items.values() if name is None or i["datasetName"] == name]
        return json_response(_page(items, page, limit))

    def _create_dataset_run_item(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return json_response({"message": "Invalid JSON"}, 400)
        issues = dataset_run_item_issues(body)
        if issues:
            return json_response({"message": "Invalid request data", "error": issues}, 400)
        now = _now()
        with self._lock:
            item = self._items.get(body["datasetItemId"])
            if item is None or item["status"] != "ACTIVE":  # publicDatasetService.ts:848-857
                return _not_found("Dataset item not found")
            created_at = body.get("createdAt") or now
            if self.events_only:
                # buildStableDatasetRunItemResponseEventsOnly, publicDatasetService.ts:787-831:
                # nothing is written; the run id is createStableExperimentId (757-772)
                return json_response(
                    {
                        "id": str(uuid.uuid4()),
                        "datasetRunId": stable_experiment_id(PROJECT_ID, item["datasetId"], body["runName"]),
                        "datasetRunName": body["runName"],
                        "datasetItemId": item["id"],
                        "traceId": body.get("traceId") or "",
                        "observationId": body.get("observationId"),
                        "createdAt": created_at,
                        "updatedAt": created_at,
                    }
                )
            run = self._runs.get((item["datasetId"], body["runName"]))
            if run is None:  # createOrFetchDatasetRun, publicDatasetService.ts:887-894
                run = {"id": str(uuid.uuid4()), "name": body["runName"], "datasetId": item["datasetId"]}
                self._runs[(item["datasetId"], body["runName"])] = run
            run_item = {
                # "currently we do not accept user defined ids for dataset run items"
                # (publicDatasetService.ts:896,915): every POST is a new run item
                "id": str(uuid.uuid4()),
                "datasetRunId": run["id"],
                "datasetRunName": run["name"],
                "datasetItemId": item["id"],
                # the trace is not looked up when traceId is given (publicDatasetService.ts:859-877)
                "traceId": body.get("traceId"),
                "observationId": body.get("observationId"),
                "createdAt": created_at,
                "updatedAt": created_at,
            }
            self._run_items.append(run_item)
            return json_response(dict(run_item))

    def _list_dataset_run_items(self, request: Request) -> Response:
        if self.events_only:  # dataset-run-items.ts:48 rejectInEventsOnlyMode
            return json_response({"message": EVENTS_ONLY_MESSAGE}, 404)
        page, limit, issues = _pagination(request)
        dataset_id, run_name = request.arg("datasetId"), request.arg("runName")
        if dataset_id is None or run_name is None:  # GetDatasetRunItemsV1Query, datasets.ts:287-291
            issues.append("datasetId and runName: Required")
        if issues:
            return json_response({"message": "Invalid request data", "error": issues}, 400)
        with self._lock:
            run = self._runs.get((dataset_id, run_name))
            if run is None:  # listDatasetRunItemsForApi, publicDatasetService.ts:985-1000
                return _not_found("Dataset run not found for the given project and dataset id")
            items = [dict(i) for i in self._run_items if i["datasetRunId"] == run["id"]]
        return json_response(_page(items, page, limit))

    # ----------------------------------------------------------------- prompts
    def _add_prompt_version(
        self, name: str, text: str, labels: list[str], commit_message: str | None
    ) -> dict[str, Any]:
        versions = self._prompts.setdefault(name, [])
        for older in versions:
            # a label points at one version: giving it to the new one takes it from the others,
            # and "latest" always names the newest (LATEST_PROMPT_LABEL, prompts/constants.ts:2)
            older["labels"] = [x for x in older["labels"] if x not in labels and x != "latest"]
        now = datetime.now().astimezone().isoformat()
        version = {
            "id": str(uuid.uuid4()),
            "name": name,
            "version": len(versions) + 1,
            "type": "text",
            "prompt": text,
            "config": {},
            "labels": sorted({*labels, "latest"}),
            "tags": versions[-1]["tags"] if versions else [],
            "commitMessage": commit_message,
            "createdAt": now,
            "updatedAt": now,
            "projectId": "fake-project",
            "createdBy": "API",
        }
        versions.append(version)
        return version

    def _create_prompt(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return json_response({"message": "Invalid JSON"}, 400)
        issues = prompt_issues(body)
        if issues:
            return json_response({"message": "Invalid request data", "error": issues}, 400)
        with self._lock:
            created = self._add_prompt_version(
                body["name"], body["prompt"], list(body.get("labels") or []), body.get("commitMessage")
            )
        return json_response(created, 201)  # promptsHandler.ts:48-54

    def _get_prompt(self, name: str, request: Request) -> Response:
        version, label = request.arg("version"), request.arg("label")
        with self._lock:
            versions = [dict(v) for v in self._prompts.get(name, [])]
        if version is not None:
            found = [v for v in versions if str(v["version"]) == version]
        else:
            # promptNameHandler.ts:43-52: no version and no label means the "production" label
            found = [v for v in versions if (label or "production") in v["labels"]]
        if not found:
            where = f"with version {version}" if version else f"with label '{label or 'production'}'"
            return json_response(
                {"message": f"Prompt not found: '{name}' {where}", "error": "LangfuseNotFoundError"}, 404
            )
        prompt = found[-1]
        return json_response({**prompt, "isActive": "production" in prompt["labels"]})


# ---------------------------------------------------------------------------- validation (server rules)
_LABEL_RE = re.compile(r"^[a-z0-9_\-.]+$")  # PROMPT_LABEL_REGEX, prompts/constants.ts:23
_ISO_OFFSET_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _id_issues(value: Any, where: str) -> list[str]:
    """idSchema: a string of 1 to 800 characters without carriage returns (ingestion/types.ts:10-16)."""
    if not isinstance(value, str) or not 1 <= len(value) <= 800:
        return [f"{where}: expected a string of 1 to 800 characters"]
    if "\r" in value:
        return [f"{where}: ID cannot contain carriage return characters"]
    return []


def score_issues(body: Any, *, ingestion: bool) -> list[str]:
    """The score body rules shared by ScoreBody (ingestion/types.ts:531-596) and PostScoresBody
    (scores/interfaces/api/shared.ts:78-121); [] when valid."""
    if not isinstance(body, dict):
        return [f"expected object, received {type(body).__name__}"]
    issues: list[str] = []
    if body.get("id") is not None and ingestion:
        issues += _id_issues(body["id"], "id")
    if not isinstance(body.get("name"), str) or not body["name"]:
        issues.append("name: expected a non-empty string")  # NonEmptyString, utils/zod.ts:177
    for key in ("traceId", "sessionId", "datasetRunId", "observationId", "comment", "configId", "queueId"):
        if body.get(key) is not None and not isinstance(body[key], str):
            issues.append(f"{key}: expected string")
    if body.get("source") is not None and body["source"] not in ("API", "EVAL", "ANNOTATION"):
        issues.append("source: expected API, EVAL or ANNOTATION")  # types.ts:541-543
    # applyScoreValidation, packages/shared/src/utils/scores.ts:3-26
    trace, session, run = (bool(body.get(k)) for k in ("traceId", "sessionId", "datasetRunId"))
    observation = bool(body.get("observationId"))
    if not (
        (trace and not session and not run)
        or (session and not trace and not run and not observation)
        or (run and not trace and not session and not observation)
    ):
        issues.append(
            "Provide exactly one of the following: traceId (with optional observationId), sessionId or "
            "datasetRunId. ObservationId requires traceId."
        )
    # the discriminated union on dataType (types.ts:549-595, shared.ts:82-116)
    data_type, value = body.get("dataType"), body.get("value")
    if data_type is None:
        if not (_is_number(value) or isinstance(value, str)):
            issues.append("value: expected string or number")
    elif data_type == "NUMERIC":
        if not _is_number(value):
            issues.append("value: expected number for data type NUMERIC")
    elif data_type == "BOOLEAN":
        if not _is_number(value) or value not in (0, 1):
            issues.append("Value must be a number equal to either 0 or 1 for data type BOOLEAN")
    elif data_type in ("CATEGORICAL", "CORRECTION"):
        if not isinstance(value, str):
            issues.append(f"value: expected string for data type {data_type}")
        if data_type == "CORRECTION" and body.get("configId") is not None:
            issues.append("configId: a CORRECTION score cannot have a config")
    elif data_type == "TEXT":
        # TEXT_SCORE_MAX_LENGTH = 500, packages/shared/src/domain/scores.ts:44
        if not isinstance(value, str) or not 1 <= len(value) <= 500:
            issues.append("value: expected a string of 1 to 500 characters for data type TEXT")
    else:
        issues.append(f"dataType: invalid discriminator value {data_type!r}")
    return issues


def event_issues(event: Any) -> list[str]:
    """One ingestion event (base schema, ingestion/types.ts:617-621); only score-create is held."""
    if not isinstance(event, dict):
        return ["event: expected object"]
    issues = _id_issues(event.get("id"), "id")
    timestamp = event.get("timestamp")
    # z.iso.datetime({ offset: true }): an ISO 8601 date-time with Z or an offset
    if not isinstance(timestamp, str) or not _ISO_OFFSET_RE.match(timestamp):
        issues.append("timestamp: expected an ISO 8601 datetime with offset")
    if event.get("type") != "score-create":
        return [*issues, f"type: {event.get('type')!r} is not held by the fake (only score-create)"]
    return issues + [f"body.{x}" for x in score_issues(event.get("body"), ingestion=True)]


def prompt_issues(body: Any) -> list[str]:
    """CreateTextPromptSchema (prompts/types.ts:28-41) with PromptNameSchema (validation.ts:12-24) and
    PromptLabelSchema (types.ts:22-26); chat prompts are not held by the fake."""
    if not isinstance(body, dict):
        return ["expected object"]
    issues: list[str] = []
    name = body.get("name")
    if not isinstance(name, str) or not name or "|" in name or len(name) > 255:
        issues.append("name: a non-empty string of at most 255 characters without '|'")
    elif name in ("new", "metrics", "prompt-detail"):
        issues.append(f"Prompt name cannot be '{name}'")
    if body.get("type", "text") != "text" or not isinstance(body.get("prompt"), str):
        issues.append("prompt: a text prompt (a string) is expected")
    for label in body.get("labels") or []:
        if not isinstance(label, str) or not 1 <= len(label) <= 36 or not _LABEL_RE.match(label):
            issues.append(
                f"labels: {label!r}: Label must be lowercase alphanumeric with optional underscores, "
                "hyphens, or periods"
            )
    commit = body.get("commitMessage")
    if commit is not None and (not isinstance(commit, str) or len(commit) > 500):
        issues.append("commitMessage: at most 500 characters")  # COMMIT_MESSAGE_MAX_LENGTH
    return issues


# ---------------------------------------------------------------------------- datasets (server rules)
def _now() -> str:
    return datetime.now().astimezone().isoformat()


def _not_found(message: str) -> Response:
    # withMiddlewares.ts:165-173: a BaseError is {message, error: name} with its http code
    return json_response({"message": message, "error": "LangfuseNotFoundError"}, 404)


def _pagination(request: Request) -> tuple[int, int, list[str]]:
    """publicApiPaginationZod (packages/shared/src/utils/zod.ts:43-65): page an integer > 0 (default
    1), limit an integer 1..100 (default 50)."""
    issues: list[str] = []
    try:
        page = int(request.arg("page") or 1)
        limit = int(request.arg("limit") or 50)
    except ValueError:
        return 1, 50, ["page, limit: expected integers"]
    if page < 1:
        issues.append("page: Number must be greater than 0")
    if not 1 <= limit <= 100:
        issues.append("limit: Number must be between 1 and 100")
    return page, limit, issues


def _page(rows: list[dict[str, Any]], page: int, limit: int) -> dict[str, Any]:
    # paginationMetaResponseZod; totalPages = ceil(totalItems / limit) (v2/datasets/index.ts:60-67)
    total = len(rows)
    return {
        "data": rows[(page - 1) * limit : page * limit],
        "meta": {"page": page, "limit": limit, "totalItems": total, "totalPages": -(-total // limit)},
    }


def stable_experiment_id(project_id: str, dataset_id: str, run_name: str) -> str:
    """createStableExperimentId (publicDatasetService.ts:757-772): JSON.stringify has no spaces."""
    payload = json.dumps(
        ["langfuse-experiment-v1", project_id, dataset_id, run_name],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _nullish_string(body: dict[str, Any], key: str) -> list[str]:
    return [] if body.get(key) is None or isinstance(body[key], str) else [f"{key}: Expected string"]


def dataset_issues(body: Any) -> list[str]:
    """PostDatasetsV2Body (datasets.ts:155-161); JSON schemas for inputs are not held by the fake."""
    if not isinstance(body, dict):
        return ["Expected object"]
    issues = [] if isinstance(body.get("name"), str) else ["name: Required string"]
    issues += _nullish_string(body, "description")
    for key in ("inputSchema", "expectedOutputSchema"):
        if body.get(key) is not None:
            issues.append(f"{key}: not held by the fake (the product sets none)")
    return issues


def dataset_item_issues(body: Any) -> list[str]:
    """PostDatasetItemsV1Body (datasets.ts:204-219): datasetName required; id 1..255 characters."""
    if not isinstance(body, dict):
        return ["Expected object"]
    issues = [] if isinstance(body.get("datasetName"), str) else ["datasetName: Required string"]
    item_id = body.get("id")
    if item_id is not None and (not isinstance(item_id, str) or not 1 <= len(item_id) <= 255):
        issues.append("id: ID must be a string of 1 to 255 characters")  # publicApiIdSchema
    for key in ("sourceTraceId", "sourceObservationId"):
        issues += _nullish_string(body, key)
    if body.get("status") is not None and body["status"] not in ("ACTIVE", "ARCHIVED"):
        issues.append("status: Expected 'ACTIVE' | 'ARCHIVED'")
    return issues


_RUN_ITEM_KEYS = {
    "runName",
    "runDescription",
    "metadata",
    "datasetItemId",
    "observationId",
    "traceId",
    "datasetVersion",
    "createdAt",
}


def dataset_run_item_issues(body: Any) -> list[str]:
    """PostDatasetRunItemsV1Body (datasets.ts:267-283): strict (unknown keys rejected), runName and
    datasetItemId required, traceId or observationId, createdAt an ISO datetime with offset."""
    if not isinstance(body, dict):
        return ["Expected object"]
    issues = [f"Unrecognized key: {k!r}" for k in sorted(set(body) - _RUN_ITEM_KEYS)]
    for key in ("runName", "datasetItemId"):
        if not isinstance(body.get(key), str):
            issues.append(f"{key}: Required string")
    for key in ("runDescription", "observationId", "traceId"):
        issues += _nullish_string(body, key)
    if not (body.get("observationId") or body.get("traceId")):
        issues.append("observationId or traceId must be provided")
    created = body.get("createdAt")
    # stringDateTime = z.iso.datetime({ offset: true }).nullish() (packages/shared/src/utils/typeChecks.ts:10)
    if created is not None and (not isinstance(created, str) or not _ISO_OFFSET_RE.match(created)):
        issues.append("createdAt: expected an ISO 8601 datetime with offset")
    if body.get("datasetVersion") is not None:
        issues.append("datasetVersion: not held by the fake (the product links the latest items)")
    return issues
