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

import gzip
import json
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime

import pytest

from fakes import FakeJira, FakeLangfuseOTLP, FakeServer, FakeSlack, JQLError, Response, parse_jql
from fakes.slack import render_mrkdwn

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
    with FakeSlack(token="xoxb-test", min_interval_s=0.05) as fake:
        yield fake
        assert not fake.errors


def _slack_client(fake, token="xoxb-test", **kwargs):
    from slack_sdk import WebClient

    return WebClient(token=token, base_url=fake.url + "/api/", **kwargs)


def test_slack_post_message_through_webclient(slack):
    client = _slack_client(slack)
    first = client.chat_postMessage(channel="#triage-review", text="*T-1* triaged")
    assert first["ok"] is True and first["channel"] == "C0REVIEW"
    second = client.chat_postMessage(channel="C0ONCALL", text="by id")
    assert float(second["ts"]) > float(first["ts"])
    m1, m2 = slack.messages
    assert (m1["channel"], m1["channel_id"], m1["text"], m1["rendered"]) == (
        "#triage-review",
        "C0REVIEW",
        "*T-1* triaged",
        "*T-1* triaged",
    )
    assert m2["channel_id"] == "C0ONCALL"
    assert slack.requests[0].header("authorization") == "Bearer xoxb-test"
    assert client.auth_test()["user_id"] == "U0FAKEBOT"


def test_slack_renders_mentions_and_links_as_slack_does():
    text, mentions, links = render_mrkdwn(
        "<!channel> hi <@U123> see <https://evil.example|Reset your password> "
        "&lt;!here&gt; &amp; <#C1|general>"
    )
    assert mentions == ["channel", "U123"]
    assert links == [{"url": "https://evil.example", "label": "Reset your password"}]
    assert text == "@channel hi @U123 see Reset your password <!here> & #general"


def test_slack_auth_channels_and_message_limits(slack):
    from slack_sdk.errors import SlackApiError

    with pytest.raises(SlackApiError) as wrong:
        _slack_client(slack, token="xoxb-wrong").chat_postMessage(channel="#general", text="t")
    assert wrong.value.response["error"] == "invalid_auth" and wrong.value.response.status_code == 200
    with pytest.raises(SlackApiError) as missing:
        _slack_client(slack, token=None).auth_test()
    assert missing.value.response["error"] == "not_authed"
    client = _slack_client(slack)
    with pytest.raises(SlackApiError, match="no_text"), pytest.warns(UserWarning, match="`text` argument"):
        client.chat_postMessage(channel="#general")
    with pytest.raises(SlackApiError, match="channel_not_found"):
        client.chat_postMessage(channel="#nope", text="t")
    with pytest.raises(SlackApiError, match="msg_too_long"):
        client.chat_postMessage(channel="#general", text="x" * 40_001)
    assert slack.messages == []
    with FakeSlack(member_of={"general"}, archived={"eng-oncall"}) as strict:
        client = _slack_client(strict)
        with pytest.raises(SlackApiError, match="not_in_channel"):
            client.chat_postMessage(channel="#triage-review", text="t")
        with pytest.raises(SlackApiError, match="is_archived"):
            client.chat_postMessage(channel="#eng-oncall", text="t")


def test_slack_rate_limit_per_channel_and_the_retry_handler():
    from slack_sdk.errors import SlackApiError
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    with FakeSlack(min_interval_s=30) as slack:
        client = _slack_client(slack)
        client.chat_postMessage(channel="#general", text="1")
        client.chat_postMessage(channel="#triage-review", text="other channel: own limit")
        with pytest.raises(SlackApiError) as err:
            client.chat_postMessage(channel="#general", text="2")
        assert err.value.response.status_code == 429 and err.value.response["error"] == "ratelimited"
        retry_after = err.value.response.headers["Retry-After"]
        retry_after = retry_after[0] if isinstance(retry_after, list) else retry_after
        assert int(retry_after) >= 29  # whole seconds, as Slack sends
    with FakeSlack(min_interval_s=0.3, retry_after_s=0) as slack:
        retrying = _slack_client(slack, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=3)])
        for n in range(2):
            retrying.chat_postMessage(channel="#general", text=str(n))
        assert slack.rate_limited() >= 1 and [m["text"] for m in slack.messages] == ["0", "1"]


def test_slack_hook_from_airflow_connection_env(slack, monkeypatch):
    from airflow.providers.slack.hooks.slack import SlackHook

    monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", slack.airflow_conn_json())
    assert json.loads(slack.airflow_conn_json()) == {
        "conn_type": "slack",
        "password": "xoxb-test",
        "extra": {"base_url": slack.url + "/api/"},
    }
    hook = SlackHook(slack_conn_id="slack_api_default")
    assert hook.client.chat_postMessage(channel="#general", text="via client")["ok"]
    ok, detail = hook.test_connection()
    assert ok and json.loads(detail)["user_id"] == "U0FAKEBOT"
    monkeypatch.setenv(
        "AIRFLOW_CONN_SLACK_BAD",
        json.dumps({**json.loads(slack.airflow_conn_json()), "password": "xoxb-bad"}),
    )
    ok, detail = SlackHook(slack_conn_id="slack_bad").test_connection()
    assert not ok and "invalid_auth" in detail


# ======================================================================================= jira

JIRA_USER, JIRA_TOKEN = "bot@example.com", "jira-token"


@pytest.fixture(params=["server", "cloud"])
def jira(request):
    with FakeJira(username=JIRA_USER, api_token=JIRA_TOKEN, max_results=2, deployment=request.param) as fake:
        yield fake
        assert not fake.errors


def _jira_client(fake, password=JIRA_TOKEN, **kwargs):
    from atlassian import Jira

    if fake.cloud:
        kwargs = {"cloud": True, "api_version": "3", **kwargs}
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
        reporter="ann@example.com",
    )
    fake.seed_issue(
        "ENG", "Crash on start", "Stack trace", "2025-10-01T10:00:00.000+0000", labels=["ticket-T-2"]
    )
    fake.seed_issue(
        "SUP", "Dark mode?", "Feature request", datetime(2025, 10, 1, 8, 0, tzinfo=UTC), labels=["ticket-T-3"]
    )
    fake.seed_issue("SUP", "Slow page", "Dashboard slow", "2025-10-01 23:59", labels=["ticket-T-4"])
    fake.seed_issue("SUP", "Next day", "Tomorrow", "2025-10-02T00:00:00.000+0000", labels=["ticket-T-5"])


DAY_JQL = (
    'project = SUP AND created >= "2025-10-01 00:00" AND created < "2025-10-02 00:00" ORDER BY created ASC'
)


def test_jira_search_per_deployment(jira):
    """Cloud: the removed search answers 410 (CHANGE-2046), search/jql pages by token. Server/DC:
    search pages by startAt, and there is no search/jql."""
    from requests import HTTPError

    _seed_day(jira)
    if jira.cloud:
        with pytest.raises(HTTPError, match="CHANGE-2046") as gone:
            _jira_client(jira, cloud=False, api_version="2").jql(DAY_JQL)
        assert gone.value.response.status_code == 410
        client = _jira_client(jira)
        issues = client.enhanced_jql_get_list_of_tickets(DAY_JQL, fields=["summary", "description"])
        requests = jira.requests_to("/rest/api/3/search/jql")
        assert (
            len(requests) == 2
            and requests[0].arg("nextPageToken") is None
            and requests[1].arg("nextPageToken")
        )
        assert issues[1]["fields"]["description"]["type"] == "doc"  # v3 renders ADF
        assert client.enhanced_jql("project = ENG", fields=None) == {
            "issues": [{"id": jira.issue("ENG-1")["id"]}],
            "isLast": True,
        }
    else:
        client = _jira_client(jira)
        first = client.jql(DAY_JQL)
        assert (first["total"], first["startAt"], first["maxResults"], len(first["issues"])) == (3, 0, 2, 2)
        issues = client.jql_get_list_of_tickets(DAY_JQL)
        assert [r.arg("startAt") for r in jira.requests_to("/rest/api/2/search")] == ["0", "0", "2"]
        assert issues[1]["fields"]["description"] == "Charged twice"
        with pytest.raises(HTTPError) as missing:
            client.get("rest/api/3/search/jql", params={"jql": "project = SUP"})
        assert missing.value.response.status_code == 404
    assert [i["fields"]["summary"] for i in issues] == ["Dark mode?", "Refund please", "Slow page"]


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
            'created >= "2025-10-01 00:00" AND created < "2025-10-02 00:00" ORDER BY created ASC, key ASC',
            ["SUP-3", "SUP-2", "ENG-1", "SUP-4"],
        ),
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
        ("project = SUP AND", "Expecting a field name"),
        ("project = OPS", "'OPS' does not exist for the field 'project'"),
        ("labels = x; DROP", "reserved JQL character"),
    ],
)
def test_jira_bad_jql_is_400(jql, message):
    from requests import HTTPError

    with FakeJira() as fake, pytest.raises(HTTPError, match=message) as err:
        _jira_client(fake).jql(jql)
    assert err.value.response.status_code == 400
    if "OPS" not in jql:
        with pytest.raises(JQLError):
            parse_jql(jql)


def _fields(**extra):
    return {"project": {"key": "SUP"}, "summary": "s", "issuetype": {"name": "Task"}, **extra}


def test_jira_create_is_validated_like_jira(jira):
    from requests import HTTPError

    client = _jira_client(jira)
    description = {"type": "doc", "version": 1, "content": []} if jira.cloud else "text"
    created = client.create_issue(fields=_fields(description=description, labels=["ticket-T-1"]))
    assert created["key"] == "SUP-1"

    def refused(fields):
        with pytest.raises(HTTPError) as err:
            client.create_issue(fields=fields)
        assert err.value.response.status_code == 400
        body = err.value.response.json()
        return {**body["errors"], **dict.fromkeys(body["errorMessages"], "")}

    assert "summary" in refused(_fields(summary="two\nlines"))
    assert refused(_fields(summary="😀" * 127 + "a")) == {
        "summary": "Summary must be less than 255 characters."
    }
    client.create_issue(fields=_fields(summary="😀" * 127))  # 254 UTF-16 units pass
    assert "labels" in refused(_fields(labels=["needs triage"]))
    assert "labels" in refused(_fields(labels=["x" * 256]))
    assert "priority" in refused(_fields(priority={"name": "P1"}))
    assert "issuetype" in refused(_fields(issuetype={"name": "Incident"}))
    assert "project" in refused(_fields(project={"key": "OPS"}))
    assert "customfield_1" in refused(_fields(customfield_1="x"))  # not on the create screen
    wrong_shape = "text" if jira.cloud else {"type": "doc", "version": 1, "content": []}
    assert "description" in refused(_fields(description=wrong_shape))


def test_jira_createmeta_per_deployment(jira):
    client = _jira_client(jira)
    page = client.issue_createmeta_issuetypes("SUP", limit=2)
    items = page["issueTypes" if jira.cloud else "values"]
    assert [t["name"] for t in items] == ["Task", "Bug"] and page["total"] == 3
    fields = client.issue_createmeta_fieldtypes("SUP", items[0]["id"])
    fields = fields["fields" if jira.cloud else "values"]
    priority = next(f for f in fields if f["fieldId"] == "priority")
    assert [v["name"] for v in priority["allowedValues"]][:2] == ["Highest", "High"]


def test_jira_service_management_comment_is_public_or_internal(jira):
    from atlassian import ServiceDesk
    from requests import HTTPError

    jira.seed_issue("HELP", "Where is my refund?", "b", "2025-10-01T10:00:00.000+0000")
    desk = ServiceDesk(url=jira.url, username=JIRA_USER, password=JIRA_TOKEN)
    assert desk.create_request_comment("HELP-1", "Your refund is on its way.")["public"] is True
    desk.create_request_comment("HELP-1", "internal note", public=False)
    assert [(c["body"], c["public"]) for c in jira.request_comments("HELP-1")] == [
        ("Your refund is on its way.", True),
        ("internal note", False),
    ]
    with pytest.raises(HTTPError) as err:
        desk.create_request_comment("HELP-99", "x")
    assert err.value.response.status_code == 404


def test_jira_auth_and_failure_injection(jira):
    from requests import HTTPError

    with pytest.raises(HTTPError) as err:
        _jira_client(jira, password="wrong").issue_createmeta_issuetypes("SUP")
    assert err.value.response.status_code == 401
    jira.fail_next(1, status=503)
    with pytest.raises(HTTPError) as err:
        _jira_client(jira).issue_createmeta_issuetypes("SUP")
    assert err.value.response.status_code == 503
    jira.fail_next_creates(1)
    with pytest.raises(HTTPError):
        _jira_client(jira).create_issue(fields=_fields())
    assert _jira_client(jira).create_issue(fields=_fields())["key"] == "SUP-1"


def test_jira_conn_json_names_the_deployment(jira, monkeypatch):
    from llm_operators.hooks.jira import TriageJiraHook

    conn = json.loads(jira.airflow_conn_json())
    assert conn["host"] == jira.url and conn["extra"] == {"deployment": jira.deployment}
    monkeypatch.setenv("AIRFLOW_CONN_JIRA_DEFAULT", jira.airflow_conn_json())
    assert TriageJiraHook().deployment == jira.deployment


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
