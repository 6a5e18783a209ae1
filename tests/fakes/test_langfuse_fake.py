"""The Langfuse fake answers as the server does (tests/fakes/otlp.py cites the server source per rule)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from fakes import FakeLangfuseOTLP


@pytest.fixture
def fake() -> Iterator[FakeLangfuseOTLP]:
    # a unique public key: the SDK keeps one client per public key for the whole process
    with FakeLangfuseOTLP(public_key=f"pk-lf-{uuid.uuid4().hex[:8]}", secret_key="sk-lf-test") as srv:
        yield srv
        assert not srv.errors


def _post(fake: FakeLangfuseOTLP, path: str, body: Any, auth: bool = True) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = fake.auth_header
    request = urllib.request.Request(fake.url + path, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _event(body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": "score-create",
        "timestamp": "2025-10-01T00:00:00Z",
        "body": body,
        **extra,
    }


SCORE = {"traceId": "a" * 32, "name": "gate_decision", "value": "auto_reply", "dataType": "CATEGORICAL"}


def test_the_sdk_s_list_of_scores_is_a_400_and_nothing_is_stored(fake):
    """langfuse 5.0.4's create_score batches a JSON list to /api/public/scores; the server's route
    parses its body as one score object, so the whole batch is refused (and the SDK drops it)."""
    from langfuse import Langfuse
    from opentelemetry.sdk.trace import TracerProvider

    client = Langfuse(
        public_key=fake.public_key,
        secret_key=fake.secret_key,
        base_url=fake.url,
        tracer_provider=TracerProvider(),
    )
    client.create_score(name="paged", value=1, trace_id="b" * 32, data_type="BOOLEAN")
    client.flush()
    assert [r.status for r in fake.requests_to("/api/public/scores")] == [400]
    assert isinstance(fake.requests_to("/api/public/scores")[0].json(), list)
    assert fake.scores == []


def test_one_score_object_is_accepted_with_the_server_s_rules(fake):
    status, body = _post(fake, "/api/public/scores", SCORE)
    assert status == 200 and body["id"]
    for bad, why in (
        ({**SCORE, "dataType": "BOOLEAN", "value": 2}, "0 or 1"),
        ({**SCORE, "value": 0.5}, "expected string for data type CATEGORICAL"),
        ({**SCORE, "dataType": "NUMERIC"}, "expected number"),
        ({**SCORE, "dataType": "TEXT", "value": "x" * 501}, "1 to 500"),
        ({**SCORE, "dataType": "PERCENT"}, "discriminator"),
        ({**SCORE, "sessionId": "s-1"}, "exactly one"),
        ({k: v for k, v in SCORE.items() if k != "traceId"}, "exactly one"),
        ({**SCORE, "name": ""}, "non-empty"),
    ):
        status, body = _post(fake, "/api/public/scores", bad)
        assert status == 400 and body["message"] == "Invalid request data", bad
        assert why in json.dumps(body["error"]), (why, body)
    assert len(fake.scores) == 1
    assert _post(fake, "/api/public/scores", SCORE, auth=False)[0] == 401


def test_ingestion_validates_each_event_and_answers_207(fake):
    good = _event(SCORE)
    batch = [
        good,
        _event({**SCORE, "dataType": "BOOLEAN", "value": 1}, timestamp="2025-10-01T00:00:00"),  # no offset
        _event({**SCORE, "value": 3}),
        {"id": "e-trace", "type": "trace-create", "timestamp": "2025-10-01T00:00:00Z", "body": {}},
        {"type": "score-create"},
    ]
    status, body = _post(fake, "/api/public/ingestion", {"batch": batch})
    assert status == 207
    assert body["successes"] == [{"id": good["id"], "status": 201}]
    assert [(e["id"], e["status"]) for e in body["errors"]] == [
        (batch[1]["id"], 400),
        (batch[2]["id"], 400),
        ("e-trace", 400),
        ("unknown", 400),
    ]
    assert "offset" in body["errors"][0]["error"] and "CATEGORICAL" in body["errors"][1]["error"]
    assert fake.scores == [SCORE]
    assert _post(fake, "/api/public/ingestion", batch)[0] == 400  # not {"batch": [...]}
    assert _post(fake, "/api/public/ingestion", {"batch": {}})[0] == 400


def test_prompts_versions_labels_and_not_found(fake):
    assert fake.set_prompt("rules", "v1 <ticket></ticket>") == 1
    status, created = _post(
        fake, "/api/public/v2/prompts", {"name": "rules", "prompt": "v2", "labels": ["production"]}
    )
    assert status == 201 and created["version"] == 2
    versions = fake.prompts["rules"]
    assert versions[0]["labels"] == [] and versions[1]["labels"] == ["latest", "production"]  # a label moves
    bad = {"name": "rules", "prompt": "v3", "labels": ["Prod"]}
    assert _post(fake, "/api/public/v2/prompts", bad)[0] == 400
    assert _post(fake, "/api/public/v2/prompts", {"name": "a|b", "prompt": "x"})[0] == 400
    assert _post(fake, "/api/public/v2/prompts", {"name": "new", "prompt": "x"})[0] == 400

    def get(path: str) -> tuple[int, Any]:
        request = urllib.request.Request(fake.url + path, headers={"Authorization": fake.auth_header})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    assert get("/api/public/v2/prompts/rules")[1]["version"] == 2  # no label: production
    assert get("/api/public/v2/prompts/rules?version=1")[1]["prompt"] == "v1 <ticket></ticket>"
    status, body = get("/api/public/v2/prompts/rules?label=staging")
    assert status == 404 and body["message"] == "Prompt not found: 'rules' with label 'staging'"
