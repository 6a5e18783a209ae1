"""The evaluation as a Langfuse dataset run (`llm_operators.llm.langfuse_datasets`), against the
strict Langfuse fake over real HTTP: the SDK's dataset calls, our run item and score requests."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from builders import make_outcome
from fakes import FakeLangfuseOTLP

from llm_operators.core.models import TicketLabels, TicketOutcome
from llm_operators.llm import langfuse_datasets
from llm_operators.llm.langfuse_client import LangfuseSettings
from llm_operators.llm.langfuse_datasets import (
    SCORE_NAMES,
    DatasetRunSpec,
    LangfuseDatasetError,
    dataset_item,
    default_run_name,
    field_scores,
    publish_dataset_run,
    review_score,
)

RUN_ID = "scheduled__2025-10-01T00:00:00+00:00"
EMAIL = "jane.doe@example.com"
PHONE = "+44 20 7946 0958"


def _labelled(outcome: TicketOutcome, **labels: Any) -> TicketOutcome:
    base = {"category": "technical", "priority": "P2", "needs_human": False, "pii": False}
    ticket = outcome.ticket.model_copy(update={"labels": TicketLabels(**{**base, **labels})})
    return outcome.model_copy(update={"ticket": ticket})


def _outcomes() -> list[TicketOutcome]:
    """The answer is always technical / P2 / needs_human False / pii False (make_outcome)."""
    right = _labelled(make_outcome("T-1"))
    all_wrong = _labelled(
        make_outcome("T-2", subject=f"Refund for {EMAIL}", body=f"Charged twice, call me on {PHONE}."),
        category="billing",
        priority="P1",
        needs_human=True,
        pii=True,
    )
    wrong_priority = _labelled(make_outcome("T-3"), priority="P1")
    unlabelled = make_outcome("T-4")
    unresolved = _labelled(make_outcome("T-5", unresolved=True))
    other_day = _labelled(make_outcome("T-6")).model_copy(update={"day": "2025-10-02"})
    return [right, all_wrong, wrong_priority, unlabelled, unresolved, other_day]


EXPECTED = {  # ticket -> score name -> value, computed by hand from _outcomes
    "T-1": dict.fromkeys(SCORE_NAMES, 1),
    "T-2": dict.fromkeys(SCORE_NAMES, 0),
    "T-3": {
        "category_correct": 1,
        "priority_correct": 0,
        "needs_human_correct": 1,
        "pii_correct": 1,
        "triage_correct": 0,
    },
    "T-5": dict.fromkeys(SCORE_NAMES, 0),
}
RUN_IDS = {"2025-10-01": RUN_ID, "2025-10-02": None}  # day 2 was not traced (no summary run_id)


def _trace_id(ticket_id: str, run_id: str = RUN_ID, dag_id: str = "ticket_triage") -> str:
    """The recipe docs/langfuse.md states, computed here without the product's Tracing."""
    from langfuse import Langfuse

    return Langfuse.create_trace_id(seed=json.dumps([dag_id, run_id, ticket_id]))


@pytest.fixture
def fake() -> Iterator[FakeLangfuseOTLP]:
    # a unique public key: the SDK keeps one client per public key for the whole process
    with FakeLangfuseOTLP(public_key=f"pk-lf-{uuid.uuid4().hex[:8]}") as srv:
        yield srv
        assert not srv.errors


def _settings(fake: FakeLangfuseOTLP) -> LangfuseSettings:
    return LangfuseSettings(host=fake.url, public_key=fake.public_key, secret_key=fake.secret_key)


def _bodies(fake: FakeLangfuseOTLP) -> list[str]:
    return [r.body.decode("utf-8", "replace") for r in fake.requests]


# ------------------------------------------------------------------------------------------- pure
def test_items_and_scores_from_hand_built_outcomes() -> None:
    outcomes = _outcomes()
    item = dataset_item(outcomes[1], {"T-2": ["lang:en", "billing_dispute"]})
    assert item is not None
    assert item.id == "T-2"
    assert EMAIL not in item.input["subject"] and "[EMAIL]" in item.input["subject"]
    assert PHONE not in item.input["body"] and "Charged twice" in item.input["body"]
    assert item.expected_output == {"category": "billing", "priority": "P1", "needs_human": True, "pii": True}
    assert item.metadata == {"day": "2025-10-01", "channel": "email", "tags": ["lang:en", "billing_dispute"]}
    assert dataset_item(outcomes[3]) is None and field_scores(outcomes[3]) == []
    for outcome in outcomes:
        if outcome.ticket_id in EXPECTED:
            assert {s.name: s.value for s in field_scores(outcome)} == EXPECTED[outcome.ticket_id]
    t2 = {s.name: s.comment for s in field_scores(outcomes[1])}
    assert t2["category_correct"] == "expected billing, got technical"
    assert t2["needs_human_correct"] == "expected true, got false"


def test_default_run_name_is_prompt_version_and_final_models() -> None:
    a = make_outcome("A").model_copy(update={"prompt_name": "ticket-triage-rules", "prompt_version": "3"})
    b = a.model_copy(update={"final_model": "offline/strong"})
    assert default_run_name([a, b]) == "ticket-triage-rules@3 | offline/fast+offline/strong"
    assert default_run_name([make_outcome("C")]) == "prompt-unknown | offline/fast"


def test_review_score_shares_the_evaluation_s_name_with_its_own_id() -> None:
    trace = "a" * 32
    agreed, corrected = review_score(trace, "agreed"), review_score(trace, "corrected")
    assert agreed is not None and corrected is not None
    assert (agreed.name, agreed.value, agreed.data_type) == ("triage_correct", 1, "BOOLEAN")
    assert corrected.value == 0
    assert agreed.id != f"{trace}-triage_correct"  # the label-based score keeps its own id
    assert review_score(trace, "escalated") is None and review_score(trace, "spam") is None


# ------------------------------------------------------------------------------ against the fake
def test_dataset_run_items_and_scores(fake: FakeLangfuseOTLP) -> None:
    report = publish_dataset_run(
        _settings(fake), DatasetRunSpec(dataset="triage-test", run_name="v1"), _outcomes(), RUN_IDS
    )

    assert list(fake.datasets) == ["triage-test"]
    items = {i["id"]: i for i in fake.dataset_items}
    assert sorted(items) == ["T-1", "T-2", "T-3", "T-5", "T-6"]  # T-4 unlabelled: skipped
    assert items["T-2"]["expectedOutput"] == {
        "category": "billing",
        "priority": "P1",
        "needs_human": True,
        "pii": True,
    }
    assert items["T-2"]["input"]["subject"] == "Refund for [EMAIL]"
    assert items["T-6"]["metadata"]["day"] == "2025-10-02"

    run_items = fake.dataset_run_items
    assert {(r["datasetItemId"], r["traceId"]) for r in run_items} == {
        (t, _trace_id(t)) for t in ("T-1", "T-2", "T-3", "T-5")
    }
    assert {r["datasetRunName"] for r in run_items} == {"v1"}

    scores: dict[str, dict[str, Any]] = {}
    for s in fake.scores:
        scores.setdefault(s["traceId"], {})[s["name"]] = s["value"]
        assert s["dataType"] == "BOOLEAN" and s["id"] == f"{s['traceId']}-{s['name']}"
    assert scores == {_trace_id(t): values for t, values in EXPECTED.items()}
    assert len(fake.scores) == 4 * len(SCORE_NAMES)  # one per field (and triage) per traced ticket

    assert (report.items_created, report.items_updated, report.items_unchanged) == (5, 0, 0)
    assert (report.run_items_linked, report.run_items_existing) == (4, 0)
    assert (report.scores_sent, report.scores_rejected) == (20, 0)
    assert report.unlabelled == 1 and report.untraced == ["T-6"]
    assert report.run_items_stored


def test_rerun_creates_nothing_twice_and_updates_a_changed_label(fake: FakeLangfuseOTLP) -> None:
    settings, spec = _settings(fake), DatasetRunSpec(dataset="triage-test", run_name="v1")
    publish_dataset_run(settings, spec, _outcomes(), RUN_IDS)
    fake.clear()

    again = publish_dataset_run(settings, spec, _outcomes(), RUN_IDS)
    assert not fake.requests_to("/api/public/dataset-items", "POST")
    assert not fake.requests_to("/api/public/dataset-run-items", "POST")
    assert len(fake.dataset_items) == 5 and len(fake.dataset_run_items) == 4
    assert (again.items_unchanged, again.run_items_existing, again.run_items_linked) == (5, 4, 0)
    ids = [s["id"] for s in fake.scores]
    assert len(ids) == 40 and len(set(ids)) == 20  # resent with the same ids: Langfuse replaces them

    relabelled = [_labelled(o, priority="P2") if o.ticket_id == "T-3" else o for o in _outcomes()]
    third = publish_dataset_run(settings, spec, relabelled, RUN_IDS)
    assert (third.items_updated, third.items_unchanged, third.items_created) == (1, 4, 0)
    item = next(i for i in fake.dataset_items if i["id"] == "T-3")
    assert item["expectedOutput"]["priority"] == "P2"
    assert len(fake.dataset_items) == 5 and len(fake.dataset_run_items) == 4


def test_run_items_of_a_run_longer_than_one_page_are_not_duplicated(
    fake: FakeLangfuseOTLP, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server lists run items a page at a time (at most 100): reading only the first page would
    resend the rest. Pages of 10 here, so the test stays short."""
    monkeypatch.setattr(langfuse_datasets, "PAGE_LIMIT", 10)
    settings, spec = _settings(fake), DatasetRunSpec(dataset="long", run_name="v1")
    outcomes = [_labelled(make_outcome(f"L-{i:03d}")) for i in range(25)]
    publish_dataset_run(settings, spec, outcomes, {"2025-10-01": RUN_ID})
    again = publish_dataset_run(settings, spec, outcomes, {"2025-10-01": RUN_ID})
    assert len(fake.dataset_run_items) == 25
    assert again.run_items_existing == 25 and again.run_items_linked == 0
    pages = [r.arg("page") for r in fake.requests_to("/api/public/dataset-run-items", "GET")]
    assert pages[-3:] == ["1", "2", "3"]


def test_a_new_triage_run_links_its_own_traces_to_the_same_dataset_run(fake: FakeLangfuseOTLP) -> None:
    settings, spec = _settings(fake), DatasetRunSpec(dataset="triage-test", run_name="v1")
    publish_dataset_run(settings, spec, _outcomes(), RUN_IDS)
    publish_dataset_run(settings, spec, _outcomes(), {"2025-10-01": "manual__2", "2025-10-02": None})
    pairs = {(r["datasetItemId"], r["traceId"]) for r in fake.dataset_run_items}
    assert ("T-1", _trace_id("T-1", "manual__2")) in pairs and ("T-1", _trace_id("T-1")) in pairs
    assert len(fake.dataset_run_items) == 8


def test_no_raw_personal_data_in_any_request(fake: FakeLangfuseOTLP) -> None:
    publish_dataset_run(_settings(fake), DatasetRunSpec(dataset="pii", run_name="v1"), _outcomes(), RUN_IDS)
    bodies = _bodies(fake)
    assert len(bodies) >= 10
    assert any("[EMAIL]" in b for b in bodies)  # the ticket did go out, redacted
    for body in bodies:
        assert EMAIL not in body and PHONE not in body and "7946" not in body
        assert "CUST-1" not in body  # the customer id is not item metadata


def test_an_events_only_langfuse_stores_no_run_items_and_the_scores_still_land() -> None:
    with FakeLangfuseOTLP(public_key=f"pk-lf-{uuid.uuid4().hex[:8]}", events_only=True) as fake:
        settings, spec = _settings(fake), DatasetRunSpec(dataset="v4", run_name="v1")
        report = publish_dataset_run(settings, spec, _outcomes(), RUN_IDS)
        assert not report.run_items_stored and "events-only" in report.summary()
        assert fake.dataset_run_items == [] and len(fake.dataset_items) == 5
        assert report.scores_sent == 20
        assert not fake.errors


def test_an_item_id_taken_by_another_dataset_is_a_clear_error(fake: FakeLangfuseOTLP) -> None:
    settings = _settings(fake)
    publish_dataset_run(settings, DatasetRunSpec(dataset="first", run_name="v1"), _outcomes(), RUN_IDS)
    with pytest.raises(LangfuseDatasetError, match=r"409.*already exists in another dataset"):
        publish_dataset_run(settings, DatasetRunSpec(dataset="second", run_name="v1"), _outcomes(), RUN_IDS)


def test_langfuse_down_is_an_error_naming_the_step(fake: FakeLangfuseOTLP) -> None:
    settings = _settings(fake)
    publish_dataset_run(settings, DatasetRunSpec(dataset="d", run_name="v1"), _outcomes(), RUN_IDS)
    fake.fail_next(3, 503, "/api/public/dataset-run-items")
    with pytest.raises(LangfuseDatasetError, match="dataset-run-items: HTTP 503"):
        publish_dataset_run(settings, DatasetRunSpec(dataset="d", run_name="v2"), _outcomes(), RUN_IDS)


# ------------------------------------------------------------------------- the fake's own rules
def _request(fake: FakeLangfuseOTLP, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Authorization": fake.auth_header}
    request = urllib.request.Request(fake.url + path, data, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_fake_run_item_route_is_as_strict_as_the_server(fake: FakeLangfuseOTLP) -> None:
    assert _request(fake, "POST", "/api/public/v2/datasets", {"name": "d"})[0] == 200
    status, item = _request(fake, "POST", "/api/public/dataset-items", {"datasetName": "d", "id": "X"})
    assert status == 200 and item["status"] == "ACTIVE" and item["mediaReferences"] == []
    ok = {"runName": "r", "datasetItemId": "X", "traceId": "t" * 32}
    assert _request(fake, "POST", "/api/public/dataset-run-items", {**ok, "id": "mine"})[0] == 400
    assert (
        _request(fake, "POST", "/api/public/dataset-run-items", {"runName": "r", "datasetItemId": "X"})[0]
        == 400
    )
    assert (
        _request(fake, "POST", "/api/public/dataset-run-items", {**ok, "createdAt": "2025-10-01"})[0] == 400
    )
    assert _request(fake, "POST", "/api/public/dataset-run-items", {**ok, "datasetItemId": "nope"})[0] == 404
    # the server makes a new run item on every POST: the duplicate the product must avoid
    assert _request(fake, "POST", "/api/public/dataset-run-items", ok)[0] == 200
    assert _request(fake, "POST", "/api/public/dataset-run-items", ok)[0] == 200
    assert len(fake.dataset_run_items) == 2
    assert _request(fake, "GET", "/api/public/dataset-items?datasetName=d&limit=101")[0] == 400
    assert _request(fake, "GET", "/api/public/v2/datasets/missing")[0] == 404


def test_item_tags_file_is_checked_and_named(tmp_path) -> None:
    good = tmp_path / "tags.json"
    good.write_text(json.dumps({"G-1": ["lang:de", "outage"]}))
    assert langfuse_datasets.load_item_tags(good) == {"G-1": ["lang:de", "outage"]}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"G-1": "lang:de"}))
    with pytest.raises(ValueError, match=r"bad\.json: item tags must be"):
        langfuse_datasets.load_item_tags(bad)
    with pytest.raises(ValueError, match=r"missing\.json: cannot read item tags"):
        langfuse_datasets.load_item_tags(tmp_path / "missing.json")
