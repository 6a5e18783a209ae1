"""Tests for the chaos LLM provider (tools/chaos_provider), over real loopback HTTP,
including the real litellm client (OpenAI and Anthropic paths, Router fallbacks)."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # before litellm is imported: no network

_TOOLS = str(Path(__file__).resolve().parents[2] / "tools")
if _TOOLS not in sys.path:
    sys.path.insert(0, _TOOLS)

import litellm  # noqa: E402
import pytest  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from chaos_provider import (  # noqa: E402
    DEFAULT_RESULT,
    MALFORMED_KINDS,
    ChaosConfig,
    ChaosServer,
    ModelBehaviour,
)

litellm.suppress_debug_info = True
litellm.num_retries = 0

MESSAGES = [
    {"role": "system", "content": "You triage support tickets. Answer with JSON."},
    {"role": "user", "content": "My invoice was charged twice, please refund."},
]
TRIAGE_KEYS = set(DEFAULT_RESULT)


@pytest.fixture
def server():
    srv = ChaosServer().start()
    try:
        yield srv
    finally:
        srv.stop()


def openai_call(srv: ChaosServer, model: str, **kwargs):
    """Real litellm, OpenAI path. max_retries=0: the OpenAI SDK would otherwise retry twice itself."""
    kwargs.setdefault("max_retries", 0)
    return asyncio.run(
        litellm.acompletion(
            model=f"openai/{model}",
            api_base=srv.openai_base,
            api_key="sk-test",
            messages=MESSAGES,
            num_retries=0,
            **kwargs,
        )
    )


def post(url: str, path: str, payload: object, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        url + path,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer sk-secret"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def get_json(url: str, path: str) -> dict:
    with urllib.request.urlopen(url + path, timeout=5) as response:
        return json.loads(response.read())


def chat(url: str, model: str) -> tuple[int, dict]:
    status, _, body = post(url, "/v1/chat/completions", {"model": model, "messages": MESSAGES})
    return status, json.loads(body)


def content_of(body: dict) -> str:
    return body["choices"][0]["message"]["content"]


# --- success paths through the real litellm client -----------------------------------------------


def test_openai_path_canned_answer_result_override_and_stats(server):
    server.configure(ChaosConfig(models={"cheap": {"result": {"confidence": 0.3, "category": "billing"}}}))

    response = openai_call(server, "cheap")
    result = json.loads(response.choices[0].message.content)
    assert set(result) == TRIAGE_KEYS
    assert result["confidence"] == 0.3 and result["category"] == "billing"
    assert result["priority"] == DEFAULT_RESULT["priority"]
    assert response.usage.prompt_tokens == pytest.approx(sum(len(m["content"]) for m in MESSAGES) / 4, abs=2)
    assert response.usage.completion_tokens == pytest.approx(
        len(response.choices[0].message.content) / 4, abs=1
    )

    other = json.loads(openai_call(server, "other").choices[0].message.content)
    assert other == DEFAULT_RESULT

    stats = server.stats()
    assert stats["models"]["cheap"] == {"requests": 1, "outcomes": {"ok": 1}, "statuses": {"200": 1}}
    assert stats["models"]["other"]["requests"] == 1
    assert stats["total_requests"] == 2

    first = server.requests[0]
    assert first["model"] == "cheap" and first["path"] == "/v1/chat/completions"
    assert first["body"]["messages"] == MESSAGES
    assert first["outcome"] == "ok" and first["status"] == 200
    assert "authorization" not in first["headers"] and "content-type" in first["headers"]


def test_anthropic_path_through_litellm(server):
    response = asyncio.run(
        litellm.acompletion(
            model="anthropic/claude-test",
            api_base=server.url,
            api_key="sk-ant-test",
            messages=MESSAGES,
            max_tokens=256,
            num_retries=0,
        )
    )
    assert json.loads(response.choices[0].message.content) == DEFAULT_RESULT
    assert response.usage.completion_tokens > 0 and response.usage.prompt_tokens > 0

    (record,) = server.requests
    assert record["path"] == "/v1/messages" and record["model"] == "claude-test"
    assert record["headers"]["anthropic-version"]
    assert "x-api-key" not in record["headers"]
    assert server.stats()["models"]["claude-test"]["outcomes"] == {"ok": 1}


def test_content_fn_replaces_reply_and_sees_normalised_messages(server):
    seen = []

    def engine(model, messages):
        seen.append((model, messages))
        return json.dumps({**DEFAULT_RESULT, "category": "billing", "rationale": f"engine for {model}"})

    server.content_fn = engine
    result = json.loads(openai_call(server, "m1").choices[0].message.content)
    assert result["category"] == "billing" and result["rationale"] == "engine for m1"

    # Anthropic: system is lifted out by litellm; content_fn still sees it first, as plain strings.
    asyncio.run(
        litellm.acompletion(
            model="anthropic/m2",
            api_base=server.url,
            api_key="k",
            messages=MESSAGES,
            max_tokens=64,
            num_retries=0,
        )
    )
    assert seen[0] == ("m1", MESSAGES)
    assert seen[1] == ("m2", MESSAGES)

    # malformed kinds apply on top of content_fn output
    server.configure({"default": {"malformed_rate": 1.0, "malformed_kind": "unknown_enum"}})
    status, body = chat(server.url, "m3")
    assert status == 200 and json.loads(content_of(body))["rationale"] == "engine for m3"
    assert json.loads(content_of(body))["category"] == "banana"

    server.content_fn = lambda model, messages: 1 / 0
    status, body = chat(server.url, "m4")
    assert status == 500 and "ZeroDivisionError" in body["error"]["message"]
    assert server.stats()["models"]["m4"]["outcomes"] == {"content_fn_error": 1}


# --- errors and litellm's exception mapping ------------------------------------------------------


def test_outage_raises_service_unavailable_and_router_falls_back(server):
    server.configure(ChaosConfig(models={"primary": ModelBehaviour(outage=True)}))

    with pytest.raises(litellm.ServiceUnavailableError):
        openai_call(server, "primary")
    with pytest.raises(litellm.ServiceUnavailableError):  # same class on the Anthropic path
        asyncio.run(
            litellm.acompletion(
                model="anthropic/primary", api_base=server.url, api_key="k", messages=MESSAGES, max_tokens=8
            )
        )

    router = litellm.Router(
        model_list=[
            {
                "model_name": name,
                "litellm_params": {
                    "model": f"openai/{name}",
                    "api_base": server.openai_base,
                    "api_key": "sk-test",
                    "max_retries": 0,
                },
            }
            for name in ("primary", "backup")
        ],
        fallbacks=[{"primary": ["backup"]}],
        num_retries=0,
    )
    response = asyncio.run(router.acompletion(model="primary", messages=MESSAGES))
    assert json.loads(response.choices[0].message.content) == DEFAULT_RESULT

    stats = server.stats()["models"]
    assert stats["primary"]["outcomes"] == {"outage": 3}
    assert stats["primary"]["statuses"] == {"503": 3}
    assert stats["backup"]["outcomes"] == {"ok": 1}


def test_rate_limit_429_has_retry_after_and_maps_to_rate_limit_error(server):
    server.configure({"models": {"rl": {"error_rates": {"429": 1.0}, "retry_after_s": 7}}})
    with pytest.raises(litellm.RateLimitError):
        openai_call(server, "rl")

    status, headers, raw = post(server.url, "/v1/chat/completions", {"model": "rl", "messages": MESSAGES})
    assert status == 429 and headers["Retry-After"] == "7"
    error = json.loads(raw)["error"]
    assert error["type"] == "requests" and error["code"] == "rate_limit_exceeded" and error["message"]

    status, headers, raw = post(
        server.url, "/v1/messages", {"model": "rl", "messages": MESSAGES, "max_tokens": 8}
    )
    assert status == 429 and headers["Retry-After"] == "7"
    assert json.loads(raw) == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "chaos: injected 429 for model 'rl'"},
    }


def test_bad_requests_get_400_in_api_shape(server):
    status, _, raw = post(server.url, "/v1/chat/completions", {"messages": MESSAGES})
    assert status == 400 and json.loads(raw)["error"]["type"] == "invalid_request_error"
    status, _, raw = post(server.url, "/v1/messages", {"model": "x", "messages": MESSAGES, "stream": True})
    assert status == 400 and json.loads(raw)["type"] == "error"
    status, _, raw = post(server.url, "/v1/nope", {"model": "x"})
    assert status == 404
    assert server.stats()["outcomes"] == {"bad_request": 2}


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_malformed_kinds(server, kind):
    server.configure({"models": {"bad": {"malformed_rate": 1.0, "malformed_kind": kind}}})
    status, body = chat(server.url, "bad")
    assert status == 200 and body["object"] == "chat.completion"
    content = content_of(body)

    if kind in ("not_json", "truncated_json"):
        with pytest.raises(ValueError):
            json.loads(content)
        if kind == "truncated_json":
            assert content.startswith('{"category"')
        return
    if kind == "empty":
        assert content == ""
        return
    result = json.loads(content)
    expected = {
        "unknown_enum": lambda r: r["category"] == "banana",
        "confidence_out_of_range": lambda r: r["confidence"] == 1.7,
        "missing_field": lambda r: "priority" not in r and set(r) == TRIAGE_KEYS - {"priority"},
        "oversized": lambda r: len(r["suggested_reply"]) == 50_000,
        "wrong_types": lambda r: r["confidence"] == "high",
    }[kind]
    assert expected(result)
    (record,) = server.requests
    assert record["outcome"] == "malformed" and record["detail"] == kind


def test_not_json_reaches_litellm_caller_verbatim(server):
    server.configure({"default": {"malformed_rate": 1.0, "malformed_kind": "not_json"}})
    content = openai_call(server, "x").choices[0].message.content
    with pytest.raises(ValueError):
        json.loads(content)


# --- statistics, reproducibility ----------------------------------------------------------------


def _statuses(url: str, model: str, n: int) -> list[int]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)  # one keep-alive connection
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]})
    out = []
    try:
        for _ in range(n):
            conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            out.append(response.status)
    finally:
        conn.close()
    return out


def test_error_rates_are_statistical_and_reproducible(server):
    server.configure({"models": {"flaky": {"error_rates": {"503": 0.3}, "seed": 42}}})
    first = _statuses(server.url, "flaky", 200)
    errors = first.count(503)
    assert 40 <= errors <= 80
    assert set(first) == {200, 503}
    assert server.stats()["models"]["flaky"]["statuses"] == {"200": 200 - errors, "503": errors}

    server.reset()
    assert _statuses(server.url, "flaky", 200) == first  # same seed -> same sequence

    server.configure({"models": {"flaky": {"error_rates": {"503": 0.3}, "seed": 43}}})
    assert _statuses(server.url, "flaky", 200) != first

    # several statuses split by their own rates
    server.configure({"models": {"mix": {"error_rates": {"429": 0.25, "500": 0.25}}}})
    mixed = _statuses(server.url, "mix", 200)
    assert 25 <= mixed.count(429) <= 75 and 25 <= mixed.count(500) <= 75


def test_latency_is_added(server):
    server.configure({"default": {"latency_ms": 300}})
    started = time.monotonic()
    status, _ = chat(server.url, "slow")
    assert status == 200 and time.monotonic() - started >= 0.3


# --- hangs, outage windows ------------------------------------------------------------------------


def test_timeout_raises_litellm_timeout_and_stop_is_prompt():
    srv = ChaosServer({"models": {"hang": {"timeout_rate": 1.0, "timeout_s": 60}}}).start()
    try:
        started = time.monotonic()
        with pytest.raises(litellm.Timeout):
            openai_call(srv, "hang", timeout=0.5)
        assert time.monotonic() - started < 2
        assert srv.stats()["models"]["hang"]["outcomes"] == {"timeout": 1}
        # the server noticed the client giving up and stopped hanging (no answer was sent)
        deadline = time.monotonic() + 1
        while srv.requests[0]["detail"] is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert srv.requests[0]["detail"] == "client_gave_up" and srv.requests[0]["status"] is None

        # a request still hanging when the server stops: stop() must not wait for it
        outcome: list[object] = []

        def hang_client():
            try:
                outcome.append(chat(srv.url, "hang"))
            except Exception as exc:  # the connection is dropped
                outcome.append(exc)

        client = threading.Thread(target=hang_client, daemon=True)
        client.start()
        deadline = time.monotonic() + 2
        while srv.stats()["models"]["hang"]["requests"] < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert srv.stats()["models"]["hang"]["requests"] == 2
    finally:
        started = time.monotonic()
        srv.stop()
        stop_took = time.monotonic() - started
    assert stop_took < 1.0
    client.join(2)
    assert outcome and isinstance(outcome[0], Exception)
    assert srv.requests[1]["detail"] == "server_stopped"


def test_short_hang_ends_with_504():
    with ChaosServer({"default": {"timeout_rate": 1.0, "timeout_s": 0.2}}) as srv:
        status, body = chat(srv.url, "x")
    assert status == 504 and body["error"]["type"] == "server_error"


def test_outage_window_opens_and_closes(server):
    server.configure({"models": {"w": {"outage_windows": [{"start_s": 0.0, "end_s": 0.5}]}}})
    assert chat(server.url, "w")[0] == 503
    assert chat(server.url, "other")[0] == 200
    time.sleep(0.6)
    assert chat(server.url, "w")[0] == 200

    # a window in the future, relative to the config change
    server.configure(
        {"models": {"w": {"outage_windows": [{"start_s": 0.3, "end_s": 0.6}], "outage_status": 529}}}
    )
    assert chat(server.url, "w")[0] == 200
    time.sleep(0.35)
    assert chat(server.url, "w")[0] == 529
    time.sleep(0.35)
    assert chat(server.url, "w")[0] == 200
    assert server.stats()["models"]["w"]["outcomes"] == {"outage": 2, "ok": 3}


# --- admin endpoints ------------------------------------------------------------------------------


def test_http_admin_endpoints(server):
    status, _, raw = post(
        server.url, "/_chaos/config", {"models": {"p": {"outage": True, "outage_status": 502}}}
    )
    assert status == 200 and json.loads(raw)["models"]["p"]["outage"] is True
    assert server.config.models["p"].outage_status == 502
    assert get_json(server.url, "/_chaos/config")["models"]["p"]["outage_status"] == 502

    assert chat(server.url, "p")[0] == 502
    assert chat(server.url, "q")[0] == 200

    stats = get_json(server.url, "/_chaos/stats")
    assert stats["total_requests"] == 2
    assert stats["models"]["p"]["statuses"] == {"502": 1}
    assert stats["outcomes"] == {"outage": 1, "ok": 1}
    recent = get_json(server.url, "/_chaos/requests?limit=1")["requests"]
    assert [r["model"] for r in recent] == ["q"]
    assert "authorization" not in recent[0]["headers"]

    status, _, raw = post(server.url, "/_chaos/config", {"models": {"p": {"no_such_field": 1}}})
    assert status == 422 and "no_such_field" in json.loads(raw)["error"]["message"]
    assert server.config.models["p"].outage is True  # unchanged

    status, _, _ = post(server.url, "/_chaos/reset", {})
    assert status == 200
    assert get_json(server.url, "/_chaos/stats")["total_requests"] == 0
    assert server.requests == []
    assert get_json(server.url, "/v1/models")["data"][0]["id"] == "p"


# --- config, safety, CLI --------------------------------------------------------------------------


def test_config_validation():
    with pytest.raises(ValidationError):
        ModelBehaviour(latency=5)  # extra="forbid"
    with pytest.raises(ValidationError):
        ModelBehaviour(error_rates={503: 0.8}, timeout_rate=0.3)  # > 1 in total
    with pytest.raises(ValidationError):
        ModelBehaviour(error_rates={200: 0.1})
    with pytest.raises(ValidationError):
        ModelBehaviour(malformed_kind="banana")
    with pytest.raises(ValidationError):
        ChaosConfig.model_validate({"models": {"m": {"outage_windows": [{"start_s": 5, "end_s": 1}]}}})
    config = ChaosConfig.model_validate_json('{"models": {"m": {"error_rates": {"503": 0.2}}}}')
    assert config.behaviour_for("m").error_rates == {503: 0.2}
    assert config.behaviour_for("unknown") is config.default


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "example.com", "::1"])
def test_refuses_non_loopback_hosts(host):
    with pytest.raises(ValueError, match="loopback"):
        ChaosServer(host=host)


def test_cli_serves_and_terminates(tmp_path):
    config = tmp_path / "chaos.json"
    config.write_text(json.dumps({"models": {"cheap": {"result": {"confidence": 0.3}}}}))
    env = {**os.environ, "PYTHONPATH": _TOOLS}
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "chaos_provider", "--port", "0", "--config", str(config)),
            *("--error-rate", "503=0.0", "--latency-ms", "1"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        first_line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", first_line)
        assert match, first_line + proc.stderr.read() if proc.poll() is not None else first_line
        url = match.group(0)
        status, body = chat(url, "cheap")
        assert status == 200 and json.loads(content_of(body))["confidence"] == 0.3
        assert get_json(url, "/_chaos/stats")["models"]["cheap"]["requests"] == 1
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=5)
    assert proc.returncode == 0, err
    assert "stopped" in out
