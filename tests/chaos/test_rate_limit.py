"""The chaos provider's hard rate limit: a sliding window per model, 429 with Retry-After beyond it."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from chaos_provider import ChaosServer


def post(server: ChaosServer, model: str) -> tuple[int, dict[str, str]]:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]}).encode()
    request = urllib.request.Request(
        f"{server.openai_base}/chat/completions", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


def test_requests_beyond_the_window_get_429_with_retry_after() -> None:
    config = {"models": {"limited": {"rate_limit_requests": 3, "rate_limit_window_s": 1.0}}}
    with ChaosServer(config) as server:
        answers = [post(server, "limited") for _ in range(5)]
        assert [status for status, _ in answers] == [200, 200, 200, 429, 429]
        assert answers[3][1]["Retry-After"] == "1"
        assert post(server, "other")[0] == 200  # per model
        time.sleep(1.05)
        assert post(server, "limited")[0] == 200  # the window slid
        outcomes = server.stats()["models"]["limited"]["outcomes"]
        assert outcomes == {"ok": 4, "rate_limited": 2}


def test_a_rejected_request_does_not_count() -> None:
    config = {"default": {"rate_limit_requests": 1, "rate_limit_window_s": 0.5}}
    with ChaosServer(config) as server:
        assert post(server, "m")[0] == 200
        for _ in range(5):
            assert post(server, "m")[0] == 429
        time.sleep(0.55)
        assert post(server, "m")[0] == 200
