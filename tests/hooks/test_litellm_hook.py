"""LiteLLMHook: the `litellm` connection in, a validated Router out; offline only when chosen, and a
missing or unfilled connection fails the task at once (no retries), naming what to set."""

from __future__ import annotations

import asyncio
import json

import pytest
from airflow.sdk.exceptions import AirflowFailException

from llm_operators.core.call_request import CallRequest
from llm_operators.core.config import ConfigError
from llm_operators.core.prompts import PROMPT_VERSION
from llm_operators.hooks.litellm import LiteLLMHook, set_litellm_environment_defaults

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


def _offline(monkeypatch: pytest.MonkeyPatch, conn_id: str = "litellm_offline_t") -> str:
    _conn(monkeypatch, conn_id, extra={"offline": True})
    return conn_id


def test_no_connection_fails_at_once_saying_how_to_set_it_or_choose_offline() -> None:
    hook = LiteLLMHook("litellm_missing_for_test", redis_conn_id=None)
    with pytest.raises(AirflowFailException) as raised:
        _ = hook.settings
    message = str(raised.value)
    assert "AIRFLOW_CONN_LITELLM_MISSING_FOR_TEST" in message and '"offline": true' in message
    assert isinstance(raised.value, ConfigError)  # still a configuration error for code that catches those
    ok, why = hook.test_connection()
    assert not ok and "No LiteLLM connection" in why


def test_offline_is_chosen_explicitly_and_said_once(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    hook = LiteLLMHook(_offline(monkeypatch), redis_conn_id=None)
    assert hook.settings.ladder == ["fast", "careful"]
    assert [d.model for d in hook.settings.model_list] == ["offline/fast", "offline/careful"]
    assert hook.offline is True
    _ = hook.settings  # cached: asking again must not log again
    assert _logged(capfd).count("chooses the offline models") == 1
    assert hook.test_connection() == (True, "ladder fast -> careful with offline models")


FORM_NULLS = {"escalate_below": None, "concurrency": None, "max_cost_usd": None}


def test_form_saved_with_optional_fields_empty_and_models_filled_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the UI form stores: every conn-field key, null when left empty, offline unticked."""
    extra = {**FORM_NULLS, **_extra(router_settings=None), "offline": False}
    _conn(monkeypatch, "litellm_form1", extra=extra)
    hook = LiteLLMHook("litellm_form1", redis_conn_id=None)
    assert hook.settings.escalate_below == 0.7 and hook.settings.concurrency == 16
    assert hook.settings.max_cost_usd is None and hook.settings.router_settings.num_retries == 2
    assert hook.offline is False
    ok, message = hook.test_connection()
    assert ok and "cheap -> strong" in message


def test_form_saved_with_offline_ticked_works(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {**FORM_NULLS, "model_list": None, "ladder": [], "router_settings": {}, "offline": True}
    _conn(monkeypatch, "litellm_form2", extra=extra)
    hook = LiteLLMHook("litellm_form2", redis_conn_id=None)
    assert hook.offline and hook.settings.ladder == ["fast", "careful"]


def test_form_saved_with_neither_models_nor_offline_fails_at_once_naming_what_to_fill(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extra = {**FORM_NULLS, "model_list": None, "ladder": None, "router_settings": None, "offline": False}
    _conn(monkeypatch, "litellm_form3", extra=extra)
    hook = LiteLLMHook("litellm_form3", redis_conn_id=None)
    with pytest.raises(AirflowFailException, match=r"litellm_form3.*'model_list'.*'ladder'.*'offline'"):
        _ = hook.settings
    assert not hook.test_connection()[0]


def test_offline_and_a_model_list_together_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _conn(monkeypatch, "litellm_form4", extra={**_extra(), "offline": True})
    with pytest.raises(AirflowFailException, match="choose one"):
        _ = LiteLLMHook("litellm_form4").settings


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
        # fallbacks are the llm layer's to walk; the hook hands them over as configured
        assert router.settings.router_settings.fallbacks == [{"cheap": ["cheap-backup"]}]
    finally:
        router.close()


def test_unknown_key_in_extra_is_an_error_naming_it_and_fails_without_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _conn(monkeypatch, "litellm_t2", extra=_extra(num_retires=3))
    with pytest.raises(
        ConfigError, match=r"litellm_t2.*num_retires: Extra inputs are not permitted"
    ) as raised:
        _ = LiteLLMHook("litellm_t2").settings
    assert isinstance(raised.value, AirflowFailException)


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
    with pytest.raises(AirflowFailException, match=r"model_list\['cheap'\].*gpt-nonexistent-9"):
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


def test_offline_router_answers_and_cache_is_local_without_redis(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    hook = LiteLLMHook(_offline(monkeypatch), redis_conn_id="redis_missing_for_test")
    cache = hook.cache_settings()
    assert cache["type"] == "local" and cache["namespace"].endswith(f":{PROMPT_VERSION}")
    router = hook.get_conn()
    assert hook.get_conn() is router is hook.client  # one client per hook, like SlackHook.client
    try:
        content, record = asyncio.run(
            router.call(
                CallRequest(
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
        )
    finally:
        router.close()
    assert json.loads(content)["category"] == "billing"
    assert record.deployment == "offline/fast" and record.cost_usd > 0
    assert "cached in-process only" in _logged(capfd)


def test_redis_cache_settings_come_from_the_redis_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_REDIS_T8",
        json.dumps(
            {
                "conn_type": "redis",
                "host": "127.0.0.1",
                "port": 6379,
                "login": "triage",
                "password": "redis-secret-0123",
                "extra": {"db": 11, "ssl": True, "ssl_cert_reqs": "none"},
            }
        ),
    )
    cache = LiteLLMHook(_offline(monkeypatch), redis_conn_id="redis_t8").cache_settings()
    assert cache["type"] == "redis"
    assert (cache["host"], cache["port"], cache["db"]) == ("127.0.0.1", 6379, 11)  # an int, never "None"
    assert (cache["username"], cache["password"], cache["ssl"]) == ("triage", "redis-secret-0123", True)
    assert cache["ssl_cert_reqs"] == "none"


def test_redis_uri_path_is_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_REDIS_T9", "redis://127.0.0.1:6379/13")
    cache = LiteLLMHook(_offline(monkeypatch), redis_conn_id="redis_t9").cache_settings()
    assert (cache["db"], cache["port"]) == (13, 6379)
    monkeypatch.setenv("AIRFLOW_CONN_REDIS_T10", "redis://127.0.0.1:6379/13?db=2")
    with pytest.raises(AirflowFailException, match=r"redis_t10.*database 13.*2"):
        LiteLLMHook(_offline(monkeypatch), redis_conn_id="redis_t10").cache_settings()
    monkeypatch.setenv("AIRFLOW_CONN_REDIS_T11", "redis://127.0.0.1:6379/cache")
    with pytest.raises(AirflowFailException, match=r"redis_t11.*'cache' is not a database number"):
        LiteLLMHook(_offline(monkeypatch), redis_conn_id="redis_t11").cache_settings()


def test_litellm_environment_defaults_are_set_by_one_function_and_never_override(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LITELLM_LOCAL_MODEL_COST_MAP", raising=False)
    monkeypatch.setenv("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "False")
    set_litellm_environment_defaults()
    import os

    assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert os.environ["LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS"] == "False"


def test_a_managed_prompt_version_gets_a_cache_namespace_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = _offline(monkeypatch)
    bundled = LiteLLMHook(conn, redis_conn_id=None).cache_settings()["namespace"]
    managed = LiteLLMHook(conn, redis_conn_id=None, prompt_version="v9-abc").cache_settings()["namespace"]
    assert bundled.endswith(f":{PROMPT_VERSION}") and managed.endswith(":v9-abc") and bundled != managed


def test_batch_mode_needs_a_provider_with_a_batch_api() -> None:
    from llm_operators.core.config import ConfigError, LiteLLMSettings

    models = [
        {"model_name": "cheap", "litellm_params": {"model": "anthropic/claude-3-5-haiku-latest"}},
        {"model_name": "cheap-openai", "litellm_params": {"model": "openai/gpt-4o-mini"}},
    ]
    with pytest.raises(ConfigError, match="mode=batch: model group 'cheap' has no deployment"):
        LiteLLMSettings.parse({"model_list": models, "ladder": ["cheap"], "mode": "batch"}, "test")
    ok = LiteLLMSettings.parse(
        {
            "model_list": models,
            "ladder": ["cheap"],
            "mode": "batch",
            "router_settings": {"fallbacks": [{"cheap": ["cheap-openai"]}]},
            "batch": {"min_round_size": 5},
        },
        "test",
    )
    assert ok.mode == "batch" and ok.batch.min_round_size == 5
