"""The fakes, exercised through the REAL clients: slack_sdk and Airflow's SlackHook, atlassian-python-api
and Airflow's JiraHook, the OpenTelemetry OTLP/HTTP exporter, the langfuse SDK and litellm's
``langfuse_otel`` callback.

Observed span attributes (langfuse 5.0.4, litellm 1.106.2) that later tests can assert on,
as "langfuse SDK (propagate_attributes / observation args)" | "litellm langfuse_otel (metadata=)":

* session id:       ``session.id`` | ``session.id`` (from ``metadata["session_id"]``)
* trace name:       ``langfuse.trace.name`` | ``langfuse.trace.name`` (``trace_name``)
* generation name:  span name | span name and ``langfuse.generation.name`` (``generation_name``)
* observation type: ``langfuse.observation.type`` | ``langfuse.observation.type`` = ``"generation"``
* model:            ``langfuse.observation.model.name`` | ``llm.model_name`` (also ``llm.response.model``;
                    ``llm.provider`` = ``"openai"``)
* tokens:           ``langfuse.observation.usage_details`` (JSON string) | ``llm.token_count.prompt``,
                    ``llm.token_count.completion``, ``llm.token_count.total`` (ints)
* cost:             ``langfuse.observation.cost_details`` (JSON string) | ``llm.cost.total`` and
                    ``llm.response.cost`` (floats; absent/0 for an unpriced model)
* tags:             ``langfuse.trace.tags`` (list) | ``langfuse.trace.tags`` (JSON string)
* input/output:     ``langfuse.observation.input`` / ``.output`` (JSON strings) on both

litellm also emits a child span with the same name holding only ``llm.openai.stringified_raw_response``:
select the generation by ``langfuse.observation.type == "generation"``.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime

import pytest

from fakes import FakeJira, FakeLangfuseOTLP, FakeServer, FakeSlack, JQLError, Response, parse_jql

# ======================================================================================= base


class _Echo(FakeServer):
    def handle(self, request):
        if request.path == "/boom":
            raise RuntimeError("boom")
        return Response(200, request.body or b"ok", {"Content-Type": "text/plain"})


def _post(url: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "example.com", "::1", "192.168.0.1"])
def test_base_refuses_non_loopback(host):
    with pytest.raises(ValueError, match="loopback"):
        _Echo(host=host)


def test_base_lifecycle_recording_errors_and_failure_injection():
    fake = _Echo()
    with fake:
        assert fake.url.startswith("http://127.0.0.1:") and fake.port > 0
        assert _post(fake.url + "/x?a=1&a=2", b"hello") == (200, b"hello")
        [req] = fake.requests
        assert (req.method, req.path, req.query, req.body, req.status) == (
            "POST",
            "/x",
            {"a": ["1", "2"]},
            b"hello",
            200,
        )

        status, body = _post(fake.url + "/boom")
        assert status == 500 and b"RuntimeError: boom" in body
        assert len(fake.errors) == 1 and "boom" in fake.errors[0]

        fake.inject_failure(Response(503, b"down"), n=2, path="/only")
        assert _post(fake.url + "/other")[0] == 200  # path filter: not consumed
        assert _post(fake.url + "/only")[0] == 503
        assert _post(fake.url + "/only")[0] == 503
        assert _post(fake.url + "/only")[0] == 200
        assert [r.injected for r in fake.requests_to("/only")] == [True, True, False]
        url = fake.url
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/x", timeout=2)
    with pytest.raises(RuntimeError):
        _ = fake.url


# ====================================================================================== slack


@pytest.fixture
def slack():
    with FakeSlack(token="xoxb-test") as fake:
        yield fake
        assert not fake.errors


def _slack_client(fake, token="xoxb-test", **kwargs):
    from slack_sdk import WebClient

    return WebClient(token=token, base_url=fake.url + "/api/", **kwargs)


def test_slack_post_message_through_webclient(slack):
    client = _slack_client(slack)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*T-1* triaged"}}]
    first = client.chat_postMessage(channel="#triage", text="T-1 triaged", blocks=blocks)
    assert first["ok"] is True and first["channel"].startswith("C")
    assert first["message"]["text"] == "T-1 triaged" and first["message"]["blocks"] == blocks
    reply = client.chat_postMessage(channel=first["channel"], text="details", thread_ts=first["ts"])
    assert float(reply["ts"]) > float(first["ts"])
    assert reply["message"]["thread_ts"] == first["ts"]

    m1, m2 = slack.messages
    assert (m1["channel"], m1["text"], m1["blocks"], m1["thread_ts"]) == (
        "#triage",
        "T-1 triaged",
        blocks,
        None,
    )
    assert m2["channel_id"] == m1["channel_id"] and m2["thread_ts"] == first["ts"]
    assert m1["body"]["channel"] == "#triage"
    assert slack.requests[0].header("authorization") == "Bearer xoxb-test"
    assert client.auth_test()["user_id"] == "U0FAKEBOT"


def test_slack_form_and_multipart_bodies(slack):
    client = _slack_client(slack)
    blocks = [{"type": "divider"}]
    client.api_call(
        "chat.postMessage", params={"channel": "C123", "text": "form", "blocks": json.dumps(blocks)}
    )
    client.api_call(  # files= makes slack_sdk send multipart/form-data
        "chat.postMessage", data={"channel": "general", "text": "multipart"}, files={"file": io.BytesIO(b"x")}
    )
    form, multipart = slack.messages
    assert slack.requests[0].content_type == "application/x-www-form-urlencoded"
    assert slack.requests[1].content_type == "multipart/form-data"
    assert (form["channel_id"], form["text"], form["blocks"]) == ("C123", "form", blocks)
    assert (multipart["channel_id"], multipart["text"]) == ("C123", "multipart")


def test_slack_auth_and_errors(slack):
    from slack_sdk.errors import SlackApiError

    with pytest.raises(SlackApiError) as wrong:
        _slack_client(slack, token="xoxb-wrong").chat_postMessage(channel="#x", text="t")
    assert wrong.value.response["error"] == "invalid_auth" and wrong.value.response.status_code == 200
    with pytest.raises(SlackApiError) as missing:
        _slack_client(slack, token=None).auth_test()
    assert missing.value.response["error"] == "not_authed"
    with pytest.raises(SlackApiError, match="no_text"), pytest.warns(UserWarning, match="`text` argument"):
        _slack_client(slack).chat_postMessage(channel="#x")
    assert slack.messages == []

    with FakeSlack(channels={"triage": "C999"}) as strict:
        client = _slack_client(strict)
        assert client.chat_postMessage(channel="#triage", text="ok")["channel"] == "C999"
        with pytest.raises(SlackApiError, match="channel_not_found"):
            client.chat_postMessage(channel="#nope", text="t")


def test_slack_rate_limit_injection(slack):
    from slack_sdk.errors import SlackApiError
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    slack.fail_next(1, retry_after=7)
    client = _slack_client(slack)
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="#triage", text="t")
    assert err.value.response.status_code == 429 and err.value.response["error"] == "ratelimited"
    assert err.value.response.headers["Retry-After"] in ("7", ["7"])
    assert client.chat_postMessage(channel="#triage", text="t")["ok"]

    slack.fail_next(1, retry_after=0)
    retrying = _slack_client(slack, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    assert retrying.chat_postMessage(channel="#triage", text="after retry")["ok"]
    assert [r.status for r in slack.requests_to("chat.postMessage")][-2:] == [429, 200]
    assert [m["text"] for m in slack.messages] == ["t", "after retry"]

    slack.fail_next(1, error="internal_error", status=500)
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="#triage", text="t")
    assert err.value.response.status_code == 500


def test_slack_hook_from_airflow_connection_env(slack, monkeypatch):
    from airflow.providers.slack.hooks.slack import SlackHook

    monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", slack.airflow_conn_json())
    assert json.loads(slack.airflow_conn_json()) == {
        "conn_type": "slack",
        "password": "xoxb-test",
        "extra": {"base_url": slack.url + "/api/"},
    }
    hook = SlackHook(slack_conn_id="slack_api_default")
    assert hook.call("chat.postMessage", json={"channel": "#triage", "text": "via call"})["ok"]
    assert hook.client.chat_postMessage(channel="#triage", text="via client")["ok"]
    assert hook.get_channel_id("triage") == slack.channels["triage"]
    ok, detail = hook.test_connection()
    assert ok and json.loads(detail)["user_id"] == "U0FAKEBOT"
    assert [m["text"] for m in slack.messages] == ["via call", "via client"]

    monkeypatch.setenv(
        "AIRFLOW_CONN_SLACK_BAD",
        json.dumps({**json.loads(slack.airflow_conn_json()), "password": "xoxb-bad"}),
    )
    ok, detail = SlackHook(slack_conn_id="slack_bad").test_connection()
    assert not ok and "invalid_auth" in detail


# ======================================================================================= jira

JIRA_USER, JIRA_TOKEN = "bot@example.com", "jira-token"


@pytest.fixture
def jira():
    with FakeJira(username=JIRA_USER, api_token=JIRA_TOKEN, max_results=2) as fake:
        yield fake
        assert not fake.errors


def _jira_client(fake, password=JIRA_TOKEN, **kwargs):
    from atlassian import Jira

    return Jira(url=fake.url, username=JIRA_USER, password=password, **kwargs)


def _seed_day(fake):
    fake.seed_issue(
        "SUP",
        "Login broken",
        "Cannot log in\nsince 9am",
        "2025-09-30T23:59:00.000+0000",
        labels=["ticket-T-0"],
    )
    fake.seed_issue(
        "SUP",
        "Refund please",
        "Charged twice",
        "2025-10-01T09:15:00.000+0000",
        labels=["ticket-T-1", "billing"],
        priority="High",
        reporter="ann@example.com",
    )
    fake.seed_issue(
        "ENG", "Crash on start", "Stack trace", "2025-10-01T10:00:00.000+0000", labels=["ticket-T-2"]
    )
    fake.seed_issue(
        "SUP",
        "Dark mode?",
        "Feature request",
        datetime(2025, 10, 1, 8, 0, tzinfo=UTC),
        labels=["ticket-T-3"],
        priority="Low",
    )
    fake.seed_issue("SUP", "Slow page", "Dashboard slow", "2025-10-01 23:59", labels=["ticket-T-4"])
    fake.seed_issue("SUP", "Next day", "Tomorrow", "2025-10-02T00:00:00.000+0000", labels=["ticket-T-5"])


def test_jira_create_get_and_search_with_real_client(jira):
    client = _jira_client(jira)
    created = client.create_issue(
        fields={
            "project": {"key": "SUP"},
            "summary": "Refund request from T-1",
            "description": "Customer was charged twice.",
            "issuetype": {"name": "Task"},
            "labels": ["ticket-T-1", "triage"],
            "priority": {"name": "High"},
        }
    )
    assert created["key"] == "SUP-1" and created["self"].endswith("/rest/api/2/issue/" + created["id"])
    assert (
        client.create_issue(fields={"project": {"key": "ENG"}, "summary": "x", "issuetype": {"name": "Bug"}})[
            "key"
        ]
        == "ENG-1"
    )
    issue = client.issue("SUP-1")
    assert issue["fields"]["summary"] == "Refund request from T-1"
    assert issue["fields"]["status"]["name"] == "To Do"
    assert issue["fields"]["project"]["key"] == "SUP"
    datetime.strptime(issue["fields"]["created"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert client.get_issue("SUP-1", fields="summary,labels")["fields"] == {
        "summary": "Refund request from T-1",
        "labels": ["ticket-T-1", "triage"],
    }
    assert client.jql('labels = "ticket-T-1"')["issues"][0]["key"] == "SUP-1"
    assert [i["key"] for i in jira.created_issues] == ["SUP-1", "ENG-1"]
    assert jira.issue("SUP-1")["fields"]["priority"] == {"name": "High"}
    assert client.myself()["emailAddress"] == JIRA_USER
    assert client.get_server_info()["deploymentType"] == "Server"


def test_jira_search_pagination_startat(jira):
    _seed_day(jira)
    client = _jira_client(jira)
    jql = (
        'project = SUP AND created >= "2025-10-01 00:00" AND created < "2025-10-02 00:00" '
        "ORDER BY created ASC"
    )
    first = client.jql(jql)  # page size capped by the fake at 2
    assert (first["total"], first["startAt"], first["maxResults"], len(first["issues"])) == (3, 0, 2, 2)
    issues = client.jql_get_list_of_tickets(jql)
    assert [i["fields"]["summary"] for i in issues] == ["Dark mode?", "Refund please", "Slow page"]
    assert [r.arg("startAt") for r in jira.requests_to("/rest/api/2/search")] == ["0", "0", "2"]
    refund = issues[1]
    assert refund["fields"]["created"] == "2025-10-01T09:15:00.000+0000"
    assert refund["fields"]["labels"] == ["ticket-T-1", "billing"]
    assert refund["fields"]["description"] == "Charged twice"
    assert refund["fields"]["reporter"]["emailAddress"] == "ann@example.com"


def test_jira_enhanced_search_next_page_token(jira):
    _seed_day(jira)
    cloud = _jira_client(jira, cloud=True)
    issues = cloud.enhanced_jql_get_list_of_tickets(
        "labels in (ticket-T-1, ticket-T-2, ticket-T-4) ORDER BY key DESC"
    )
    assert [i["key"] for i in issues] == ["SUP-4", "SUP-2", "ENG-1"]
    requests = jira.requests_to("/rest/api/3/search/jql")
    assert (
        len(requests) == 2 and requests[0].arg("nextPageToken") is None and requests[1].arg("nextPageToken")
    )
    assert issues[1]["fields"]["description"]["type"] == "doc"  # v3 renders ADF
    page = cloud.enhanced_jql("project = ENG", fields=None)
    assert page == {"issues": [{"id": issues[2]["id"]}], "isLast": True}  # Cloud: ids only without fields


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("project = SUP", ["SUP-1", "SUP-2", "SUP-3", "SUP-4", "SUP-5"]),
        ('labels = "ticket-T-1"', ["SUP-2"]),
        ("labels in (ticket-T-3, 'ticket-T-5')", ["SUP-3", "SUP-5"]),
        (
            'labels not in ("billing") AND project = SUP ORDER BY created DESC',
            ["SUP-5", "SUP-4", "SUP-3", "SUP-1"],
        ),
        (
            'created >= "2025-10-01 00:00" AND created < "2025-10-02 00:00" ORDER BY created ASC',
            ["SUP-3", "SUP-2", "ENG-1", "SUP-4"],
        ),
        ("project = SUP AND (priority = High OR priority = low)", ["SUP-2", "SUP-3"]),
        ("priority is EMPTY AND project = ENG", ["ENG-1"]),
        ('summary ~ "refund" OR text ~ "stack"', ["SUP-2", "ENG-1"]),
        ("PROJECT = sup and created >= 2025-10-02", ["SUP-5"]),
        ("ORDER BY key DESC", ["SUP-5", "SUP-4", "SUP-3", "SUP-2", "SUP-1", "ENG-1"]),
    ],
)
def test_jira_jql_subset(jql, expected):
    with FakeJira(max_results=50) as fake:
        _seed_day(fake)
        result = _jira_client(fake).jql(jql)
        assert [i["key"] for i in result["issues"]] == expected
        assert result["total"] == len(expected)


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("project = SUP AND created >= now()", "function 'now'"),
        ("projekt = SUP", "Field 'projekt' does not exist"),
        ('created >= "yesterday"', "Date value 'yesterday'"),
        ("project ~ SUP", "operator '~' is not supported"),
        ("project = SUP AND", "Expecting a field name"),
        ("project = SUP labels = x", "Expecting either 'OR' or 'AND'"),
        ("project = SUP ORDER BY colour", "Field 'colour' does not exist"),
        ("labels = x; DROP", "reserved JQL character"),
    ],
)
def test_jira_bad_jql_is_400(jira, jql, message):
    from requests import HTTPError

    with pytest.raises(HTTPError, match=message) as err:
        _jira_client(jira).jql(jql)
    assert err.value.response.status_code == 400
    assert err.value.response.json()["errors"] == {}
    with pytest.raises(JQLError):
        parse_jql(jql)


def test_jira_validation_auth_and_failures(jira):
    from requests import HTTPError

    client = _jira_client(jira)
    with pytest.raises(HTTPError) as err:
        client.create_issue(
            fields={"project": {"key": "SUP"}, "issuetype": {"name": "Task"}, "labels": ["needs triage"]}
        )
    assert err.value.response.status_code == 400
    assert set(err.value.response.json()["errors"]) == {"summary", "labels"}
    with pytest.raises(HTTPError, match="Priority name 'P1'"):
        client.create_issue(
            fields={
                "project": {"key": "SUP"},
                "summary": "s",
                "issuetype": {"name": "Task"},
                "priority": {"name": "P1"},
            }
        )

    with pytest.raises(HTTPError) as err:
        _jira_client(jira, password="wrong").myself()
    assert err.value.response.status_code == 401

    jira.fail_next(2, status=503)
    for _ in range(2):
        with pytest.raises(HTTPError) as err:
            client.myself()
        assert err.value.response.status_code == 503
    assert client.myself()["name"] == JIRA_USER
    assert jira.issues == []

    jira.fail_next(1, status=429, retry_after=0)  # atlassian retries a 429 once when Retry-After is set
    assert client.myself()["name"] == JIRA_USER
    assert [r.status for r in jira.requests_to("/myself")][-2:] == [429, 200]

    with FakeJira(projects=["SUP"]) as strict:
        strict_client = _jira_client(strict)
        with pytest.raises(HTTPError, match="valid project is required"):
            strict_client.create_issue(
                fields={"project": {"key": "OPS"}, "summary": "s", "issuetype": {"name": "T"}}
            )
        with pytest.raises(HTTPError, match="'OPS' does not exist for the field 'project'"):
            strict_client.jql("project = OPS")


def test_jira_hook_from_airflow_connection_env(jira, monkeypatch):
    from airflow.providers.atlassian.jira.hooks.jira import JiraHook

    conn = {"conn_type": "jira", "host": jira.url, "login": JIRA_USER, "password": JIRA_TOKEN}
    assert json.loads(jira.airflow_conn_json()) == conn
    monkeypatch.setenv("AIRFLOW_CONN_JIRA_DEFAULT", jira.airflow_conn_json())
    client = JiraHook(jira_conn_id="jira_default").get_conn()
    assert client.url == jira.url
    key = client.create_issue(
        fields={"project": {"key": "SUP"}, "summary": "from hook", "issuetype": {"name": "Task"}}
    )["key"]
    assert client.jql("project = SUP")["issues"][0]["key"] == key == "SUP-1"

    # The hook passes conn.host verbatim as the URL: host/port/schema split does NOT work.
    monkeypatch.setenv(
        "AIRFLOW_CONN_JIRA_SPLIT",
        json.dumps({**conn, "host": "127.0.0.1", "port": jira.port, "schema": "http"}),
    )
    assert JiraHook(jira_conn_id="jira_split").get_conn().url == "127.0.0.1"


# ============================================================================== langfuse / otlp


@pytest.fixture
def langfuse_fake():
    # A unique public key per test: langfuse caches its resource manager per public key for the
    # whole process, so reusing a key would keep sending to an earlier (stopped) fake's URL.
    with FakeLangfuseOTLP(public_key=f"pk-lf-{uuid.uuid4().hex[:8]}", secret_key="sk-lf-test") as fake:
        yield fake
        assert not fake.errors


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_otlp_exporter_plain_opentelemetry(langfuse_fake, compression):
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "ticket-triage"}))
    exporter = OTLPSpanExporter(
        endpoint=langfuse_fake.traces_endpoint,
        headers={"Authorization": langfuse_fake.auth_header},
        compression=Compression.Gzip if compression == "gzip" else Compression.NoCompression,
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("parent") as parent, tracer.start_as_current_span("child") as child:
        child.set_attributes({"s": "x", "i": 3, "f": 0.5, "b": True, "l": ["a", "b"]})
    provider.shutdown()

    child_span, parent_span = langfuse_fake.wait_for_spans(2)
    assert child_span["name"] == "child" and parent_span["name"] == "parent"
    assert child_span["attributes"] == {"s": "x", "i": 3, "f": 0.5, "b": True, "l": ["a", "b"]}
    assert child_span["trace_id"] == format(parent.get_span_context().trace_id, "032x")
    assert (
        child_span["parent_span_id"]
        == parent_span["span_id"]
        == format(parent.get_span_context().span_id, "016x")
    )
    assert parent_span["parent_span_id"] is None
    assert child_span["resource"]["service.name"] == "ticket-triage"
    assert child_span["end_time_unix_nano"] >= child_span["start_time_unix_nano"] > 0
    request = langfuse_fake.requests[0]
    assert request.content_type == "application/x-protobuf"
    assert (request.header("content-encoding") == "gzip") == (compression == "gzip")


def test_otlp_rejects_bad_auth_and_accepts_json(langfuse_fake):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider()
    exporter = OTLPSpanExporter(
        endpoint=langfuse_fake.traces_endpoint, headers={"Authorization": "Basic Zm9vOmJhcg=="}
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("denied"):
        pass
    provider.shutdown()
    assert [r.status for r in langfuse_fake.requests] == [401] and langfuse_fake.spans == []

    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "manual"},
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": "eee19b7ec3c1b174",
                                "name": "json-span",
                                "kind": 1,
                                "startTimeUnixNano": "1",
                                "endTimeUnixNano": "2",
                                "attributes": [{"key": "n", "value": {"intValue": "7"}}],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    status, _ = _post(
        langfuse_fake.traces_endpoint,
        gzip.compress(json.dumps(body).encode()),
        {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Authorization": langfuse_fake.auth_header,
        },
    )
    assert status == 200
    [span] = langfuse_fake.spans
    assert (span["trace_id"], span["span_id"], span["attributes"], span["resource"]) == (
        "5b8efff798038103d269b633813fc60c",
        "eee19b7ec3c1b174",
        {"n": 7},
        {"service.name": "svc"},
    )


def test_langfuse_sdk_spans_session_and_scores(langfuse_fake):
    from langfuse import Langfuse, propagate_attributes
    from langfuse._client.resource_manager import LangfuseResourceManager
    from opentelemetry.sdk.trace import TracerProvider

    client = Langfuse(
        public_key=langfuse_fake.public_key,
        secret_key=langfuse_fake.secret_key,
        base_url=langfuse_fake.url,
        tracer_provider=TracerProvider(),  # keep the global OTel provider untouched
    )
    try:
        with client.start_as_current_observation(as_type="span", name="triage-ticket") as root:
            with (
                propagate_attributes(session_id="run-1", trace_name="ticket-T-1", user_id="airflow"),
                client.start_as_current_observation(
                    as_type="generation",
                    name="classify",
                    model="gpt-4o-mini",
                    usage_details={"input": 10, "output": 5},
                    cost_details={"total": 0.001},
                ) as generation,
            ):
                generation.update(output={"category": "billing"})
            root.score(name="confidence", value=0.9)
            client.create_score(name="gate_passed", value=1, trace_id=root.trace_id, data_type="BOOLEAN")
        client.flush()  # flushes both the span processor (OTLP) and the score queue (REST)

        spans = {s["name"]: s for s in langfuse_fake.wait_for_spans(2)}
        gen, top = spans["classify"]["attributes"], spans["triage-ticket"]["attributes"]
        assert gen["session.id"] == top["session.id"] == "run-1"
        assert gen["langfuse.trace.name"] == "ticket-T-1" and gen["user.id"] == "airflow"
        assert gen["langfuse.observation.type"] == "generation" and top["langfuse.observation.type"] == "span"
        assert gen["langfuse.observation.model.name"] == "gpt-4o-mini"
        assert json.loads(gen["langfuse.observation.usage_details"]) == {"input": 10, "output": 5}
        assert json.loads(gen["langfuse.observation.cost_details"]) == {"total": 0.001}
        assert spans["classify"]["trace_id"] == root.trace_id == spans["triage-ticket"]["trace_id"]

        scores = {s["name"]: s for s in langfuse_fake.wait_for_scores(2)}
        assert scores["confidence"]["value"] == 0.9 and scores["confidence"]["observationId"] == root.id
        assert scores["gate_passed"] == {
            **scores["gate_passed"],
            "value": 1.0,
            "traceId": root.trace_id,
            "dataType": "BOOLEAN",
        }
        assert [r.status for r in langfuse_fake.requests_to("/api/public/scores")] == [202]
        assert langfuse_fake.requests_to("/api/public/ingestion") == []
    finally:
        client.shutdown()
        LangfuseResourceManager._instances.pop(langfuse_fake.public_key, None)


def test_langfuse_ingestion_and_scores_endpoints(langfuse_fake):
    auth = {"Authorization": langfuse_fake.auth_header, "Content-Type": "application/json"}
    batch = {
        "batch": [
            {
                "id": "e1",
                "type": "score-create",
                "timestamp": "2025-10-01T00:00:00Z",
                "body": {"id": "s1", "traceId": "t", "name": "q", "value": 1},
            },
            {"id": "e2", "type": "trace-create", "timestamp": "2025-10-01T00:00:00Z", "body": {}},
        ]
    }
    status, body = _post(langfuse_fake.url + "/api/public/ingestion", json.dumps(batch).encode(), auth)
    assert status == 207 and json.loads(body) == {
        "successes": [{"id": "e1", "status": 201}, {"id": "e2", "status": 201}],
        "errors": [],
    }
    assert [e["id"] for e in langfuse_fake.ingestion_events] == ["e1", "e2"]
    status, body = _post(langfuse_fake.url + "/api/public/scores", json.dumps([{"name": "x"}]).encode(), auth)
    assert status == 207 and json.loads(body)["rejected"] == 1
    assert [s["name"] for s in langfuse_fake.scores] == ["q"]
    status, _ = _post(langfuse_fake.url + "/api/public/scores", b"[]", {"Content-Type": "application/json"})
    assert status == 401


_LITELLM_SCRIPT = textwrap.dedent(
    """
    import litellm
    from litellm.integrations.langfuse.langfuse_otel import LangfuseOtelLogger
    from litellm.litellm_core_utils import litellm_logging

    litellm.callbacks = ["langfuse_otel"]
    response = litellm.completion(
        model="openai/gpt-4o-mini",
        api_key="sk-unused",
        api_base="http://127.0.0.1:9/v1",  # never contacted: mock_response
        mock_response="hi",
        messages=[{"role": "user", "content": "classify T-1"}],
        metadata={"session_id": "run-1", "trace_name": "ticket-T-1", "generation_name": "classify",
                  "tags": ["ticket-T-1"]},
    )
    # The callback exports from a BatchSpanProcessor (5 s delay) on its own provider(s): force-flush
    # the base provider AND the per-credentials providers it caches.
    for logger in litellm_logging._in_memory_loggers:
        if isinstance(logger, LangfuseOtelLogger):
            logger._tracer_provider.force_flush()
            for cached in logger._tracer_provider_cache.values():
                cached.provider.force_flush()
    print(response._hidden_params["response_cost"])
    """
)


def test_litellm_langfuse_otel_callback(langfuse_fake):
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LANGFUSE_PUBLIC_KEY": langfuse_fake.public_key,
        "LANGFUSE_SECRET_KEY": langfuse_fake.secret_key,
        "LANGFUSE_HOST": langfuse_fake.url,
    }
    env.pop("LANGFUSE_OTEL_HOST", None)
    done = subprocess.run(
        [sys.executable, "-c", _LITELLM_SCRIPT], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    cost = float(done.stdout.strip().splitlines()[-1])

    spans = langfuse_fake.wait_for_spans(1, timeout=2)
    [gen] = [s for s in spans if s["attributes"].get("langfuse.observation.type") == "generation"]
    attrs = gen["attributes"]
    assert gen["name"] == "classify" and attrs["langfuse.generation.name"] == "classify"
    assert attrs["session.id"] == "run-1"
    assert attrs["langfuse.trace.name"] == "ticket-T-1"
    assert json.loads(attrs["langfuse.trace.tags"]) == ["ticket-T-1"]
    assert attrs["llm.model_name"] == "gpt-4o-mini" and attrs["llm.provider"] == "openai"
    assert (
        attrs["llm.token_count.prompt"],
        attrs["llm.token_count.completion"],
        attrs["llm.token_count.total"],
    ) == (
        10,
        20,
        30,
    )
    assert cost > 0 and attrs["llm.cost.total"] == pytest.approx(cost) == attrs["llm.response.cost"]
    assert json.loads(attrs["langfuse.observation.output"]) == {"role": "assistant", "content": "hi"}
    assert langfuse_fake.requests[0].path == "/api/public/otel/v1/traces"
    assert langfuse_fake.requests[0].header("x-langfuse-ingestion-version") == "4"
    assert (
        base64.b64decode(langfuse_fake.requests[0].header("authorization")[6:])
        .decode()
        .startswith(langfuse_fake.public_key + ":")
    )
