"""LiteLLMHook: the `litellm` connection in, a validated Router out; offline when no connection."""

from __future__ import annotations

import asyncio
import json

import pytest

from llm_operators.core.config import ConfigError
from llm_operators.hooks.litellm import LiteLLMHook

SECRET = "sk-test-0123456789abcdefghijklmn"


def _conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: object) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "litellm", **fields}))


def _extra(**overrides: object) -> dict:
    extra = {
        "model_list": [
            {"model_name": "cheap", "litellm_params": {"model": "openai/gpt-4o-mini"}},
            {"model_name": "cheap-backup", "litellm_params": {"model": "anthropic/claude-3-5-haiku-latest"}},
            {
                "model_name": "strong",
                "litellm_params": {"model": "openai/gpt-4o", "api_base": "http://127.0.0.1:9/v1"},
            },
        ],
        "ladder": ["cheap", "strong"],
        "router_settings": {"fallbacks": [{"cheap": ["cheap-backup"]}], "num_retries": 1, "timeout": 5},
    }
    extra.update(overrides)
    return extra


def _logged(capfd: pytest.CaptureFixture[str]) -> str:
    """Airflow 3 hooks log through structlog to the process's stdout/stderr, not to caplog."""
    out, err = capfd.readouterr()
    return out + err


def test_no_connection_uses_offline_ladder_and_says_so(capfd: pytest.CaptureFixture[str]) -> None:
    hook = LiteLLMHook("litellm_missing_for_test", redis_conn_id=None)
    assert hook.settings.ladder == ["fast", "careful"]
    assert [d.model for d in hook.settings.model_list] == ["offline/fast", "offline/careful"]
    assert hook.offline is True
    _ = hook.settings  # cached: asking again must not log again
    assert _logged(capfd).count("Using the offline ladder") == 1


def test_connection_extra_becomes_settings_and_keys_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    _conn(monkeypatch, "litellm_t1", host="http://127.0.0.1:4000/v1", password=SECRET, extra=_extra())
    hook = LiteLLMHook("litellm_t1", redis_conn_id=None)
    assert hook.settings.ladder == ["cheap", "strong"]
    assert hook.settings.router_settings.num_retries == 1
    assert hook.offline is False
    router = hook.get_conn()
    try:
        params = {d["model_name"]: d["litellm_params"] for d in router.router.model_list}
        # the connection's key and base fill in where a deployment sets none, never overriding
        assert params["cheap"]["api_base"] == "http://127.0.0.1:4000/v1"
        assert params["strong"]["api_base"] == "http://127.0.0.1:9/v1"
        assert router.router.fallbacks == [{"cheap": ["cheap-backup"]}]
    finally:
        router.close()


def test_unknown_key_in_extra_is_an_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _conn(monkeypatch, "litellm_t2", extra=_extra(num_retires=3))
    with pytest.raises(ConfigError, match=r"litellm_t2.*num_retires: Extra inputs are not permitted"):
        _ = LiteLLMHook("litellm_t2").settings


def test_unknown_router_setting_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _conn(monkeypatch, "litellm_t3", extra=_extra(router_settings={"retries": 2}))
    with pytest.raises(ConfigError, match=r"router_settings\.retries"):
        _ = LiteLLMHook("litellm_t3").settings


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"escalate_below": 1.5}, "escalate_below"),
        ({"concurrency": 0}, "concurrency"),
        ({"ladder": ["cheap", "nope"]}, "ladder rung 'nope'"),
    ],
)
def test_out_of_range_settings_are_errors(
    monkeypatch: pytest.MonkeyPatch, override: dict, field: str
) -> None:
    _conn(monkeypatch, "litellm_t4", extra=_extra(**override))
    with pytest.raises(ConfigError, match=field):
        _ = LiteLLMHook("litellm_t4").settings


def test_model_litellm_does_not_know_fails_at_build(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = _extra(
        model_list=[{"model_name": "cheap", "litellm_params": {"model": "gpt-nonexistent-9"}}],
        ladder=["cheap"],
        router_settings={},
    )
    _conn(monkeypatch, "litellm_t5", extra=extra)
    hook = LiteLLMHook("litellm_t5", redis_conn_id=None)
    with pytest.raises(ConfigError, match=r"model_list\['cheap'\].*gpt-nonexistent-9"):
        hook.get_conn()
    ok, message = hook.test_connection()
    assert not ok and "gpt-nonexistent-9" in message


def test_task_overrides_beat_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    _conn(monkeypatch, "litellm_t6", extra=_extra(escalate_below=0.8))
    hook = LiteLLMHook("litellm_t6", settings_overrides={"escalate_below": 0.5})
    assert hook.settings.escalate_below == 0.5


def test_api_key_in_extra_is_registered_with_the_secret_masker(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk._shared.secrets_masker import _secrets_masker

    key = "sk-extra-key-abcdefghijklmnopqrstuv"
    extra = _extra()
    extra["model_list"][0]["litellm_params"]["api_key"] = key
    _conn(monkeypatch, "litellm_t7", extra=extra)
    _ = LiteLLMHook("litellm_t7").settings
    assert key not in _secrets_masker().redact(f"calling with {key}")


def test_offline_router_answers_and_cache_is_local_without_redis(capfd: pytest.CaptureFixture[str]) -> None:
    hook = LiteLLMHook("litellm_missing_for_test", redis_conn_id="redis_missing_for_test")
    kind, kwargs = hook.cache_description()
    assert kind == "local" and kwargs["namespace"].endswith(":triage-v1")
    router = hook.get_conn()
    try:
        content, record = asyncio.run(
            router.call(
                ticket_id="T-1",
                rung=0,
                group="fast",
                messages=[
                    {
                        "role": "user",
                        "content": "Triage this ticket.\n<ticket>\nsubject: invoice\nbody:\n"
                        "I was charged twice on my invoice, please refund\n</ticket>",
                    }
                ],
            )
        )
    finally:
        router.close()
    assert json.loads(content)["category"] == "billing"
    assert record.deployment == "offline/fast" and record.cost_usd > 0
    assert "cached in-process only" in _logged(capfd)


def test_redis_connection_selects_redis_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_REDIS_T8",
        json.dumps({"conn_type": "redis", "host": "127.0.0.1", "port": 6379, "extra": {"db": 11}}),
    )
    kind, kwargs = LiteLLMHook("litellm_missing_for_test", redis_conn_id="redis_t8").cache_description()
    assert kind == "redis"
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("127.0.0.1", "6379", 11)
