"""The triage prompt from Langfuse prompt management, the bundled rules as the fallback, and the upload."""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterator

import pytest
from fakes import FakeLangfuseOTLP

from llm_operators.core.prompts import SYSTEM_PROMPT
from llm_operators.llm.langfuse_client import LangfuseSettings
from llm_operators.llm.prompt_source import (
    DEFAULT_PROMPT_NAME,
    PromptProblem,
    PromptSource,
    ResolvedPrompt,
    text_digest,
    upload_bundled_prompt,
)

RULES_V2 = SYSTEM_PROMPT + "\nAlways answer in the customer's language."


@pytest.fixture
def fake() -> Iterator[FakeLangfuseOTLP]:
    with FakeLangfuseOTLP(public_key=f"pk-lf-{uuid.uuid4().hex[:8]}", secret_key="sk-lf-prompt") as srv:
        yield srv
        assert not srv.errors


def _settings(fake: FakeLangfuseOTLP) -> LangfuseSettings:
    return LangfuseSettings(host=fake.url, public_key=fake.public_key, secret_key=fake.secret_key)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_labelled_version_comes_from_langfuse_and_is_cached_for_the_ttl(fake, caplog):
    caplog.set_level(logging.INFO)
    fake.set_prompt(DEFAULT_PROMPT_NAME, SYSTEM_PROMPT, labels=("production",))
    fake.set_prompt(DEFAULT_PROMPT_NAME, RULES_V2, labels=("staging",))
    source = PromptSource(_settings(fake), label="staging", cache_ttl_seconds=300)
    resolved = source.resolve()
    assert (resolved.source, resolved.version, resolved.text, resolved.label) == (
        "langfuse",
        2,
        RULES_V2,
        "staging",
    )
    assert resolved.ref == f"{DEFAULT_PROMPT_NAME}@2" and resolved.version_tag == "2"
    assert resolved.langfuse_link == {"name": DEFAULT_PROMPT_NAME, "version": 2}
    assert source.resolve() == resolved
    assert len(fake.requests_to(f"/api/public/v2/prompts/{DEFAULT_PROMPT_NAME}")) == 1  # the SDK's cache
    assert caplog.text.count("triage prompt ticket-triage-rules@2 from Langfuse") == 1

    production = PromptSource(_settings(fake), cache_ttl_seconds=0).resolve()
    assert (production.version, production.text) == (1, SYSTEM_PROMPT)


def test_without_langfuse_or_when_unreachable_the_bundled_rules_said_once(caplog):
    bundled = PromptSource(None).resolve()
    assert (bundled.source, bundled.version, bundled.text) == ("bundled", None, SYSTEM_PROMPT)
    assert bundled.version_tag == f"bundled-{text_digest(SYSTEM_PROMPT)}" and bundled.langfuse_link is None

    down = LangfuseSettings(
        host=f"http://127.0.0.1:{_free_port()}", public_key=f"pk-lf-{uuid.uuid4().hex[:8]}", secret_key="sk"
    )
    source = PromptSource(down, max_retries=0)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="llm_operators.llm.prompt_source"):
        assert source.resolve() == source.resolve() == bundled
    said = [r for r in caplog.records if r.name == "llm_operators.llm.prompt_source"]
    assert len(said) == 1 and "could not be fetched" in said[0].getMessage()
    assert "using the bundled triage prompt" in said[0].getMessage()


def test_an_unknown_name_or_a_prompt_that_drops_the_delimiters_falls_back(fake, caplog):
    assert PromptSource(_settings(fake), name="nope", max_retries=0).resolve().source == "bundled"
    fake.set_prompt("unsafe", "Classify the ticket.", labels=("production",))
    with caplog.at_level(logging.ERROR):
        resolved = PromptSource(_settings(fake), name="unsafe").resolve()
    assert resolved.source == "bundled" and resolved.name == "unsafe"
    assert "does not mention <ticket> and </ticket>" in caplog.text


def test_upload_creates_a_version_once_and_labels_it(fake):
    settings = _settings(fake)
    resolved, created = upload_bundled_prompt(settings)
    assert created and resolved.version == 1 and resolved.text == SYSTEM_PROMPT
    [stored] = fake.prompts[DEFAULT_PROMPT_NAME]
    assert stored["prompt"] == SYSTEM_PROMPT and stored["labels"] == ["latest"]  # production untouched
    assert stored["commitMessage"].startswith(f"bundled rules {text_digest(SYSTEM_PROMPT)}")

    again, created = upload_bundled_prompt(settings)
    assert not created and again.version == 1  # same text: no new version
    promoted, created = upload_bundled_prompt(settings, labels=("production",), force=True)
    assert created and promoted.version == 2
    assert PromptSource(settings, cache_ttl_seconds=0).resolve().version == 2
    with pytest.raises(Exception, match=r"400|Label must be lowercase"):
        upload_bundled_prompt(settings, labels=("Production!",), force=True)
    assert len(fake.prompts[DEFAULT_PROMPT_NAME]) == 2


def test_refs_differ_per_version_and_source():
    text = SYSTEM_PROMPT
    refs = {
        ResolvedPrompt(name="p", version=1, text=text, source="langfuse").ref,
        ResolvedPrompt(name="p", version=2, text=text, source="langfuse").ref,
        ResolvedPrompt(name="p", version=None, text=text, source="bundled").ref,
        ResolvedPrompt(name="p", version=None, text=text + " ", source="bundled").ref,
    }
    assert len(refs) == 4
    with pytest.raises(PromptProblem):
        from llm_operators.llm.prompt_source import check_rules

        check_rules("  ", "x")
