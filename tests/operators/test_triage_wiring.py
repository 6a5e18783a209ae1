"""TriageOperator wired to its inputs: the triage prompt managed in Langfuse (fake Langfuse over real
HTTP) or bundled, the reply mode, and templated arguments rendered as native objects. Answers come
from the offline models; the answer cache is in real Redis (db 15, a namespace per test)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from fakes import FakeLangfuseOTLP

from llm_operators.core.prompts import SYSTEM_PROMPT, prompt_version
from llm_operators.core.reply_templates import catalogue_for
from llm_operators.llm.prompt_source import DEFAULT_PROMPT_NAME, text_digest
from llm_operators.operators.triage import TriageOperator

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "include" / "sample_data" / "tickets"
DAY = "2025-10-03"
TICKETS = 4
REDIS_DB = 15
RULES_V2 = SYSTEM_PROMPT + "\nAnswer in the customer's language."


class _Run:
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id


@pytest.fixture
def namespace(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Offline models whose answers are cached in Redis under a namespace of this test's own."""
    import redis

    ns = f"wiring-{uuid.uuid4().hex[:8]}"
    extra = {"offline": True, "cache_namespace": ns}
    monkeypatch.setenv("AIRFLOW_CONN_LITELLM_WIRING", json.dumps({"conn_type": "litellm", "extra": extra}))
    monkeypatch.setenv("AIRFLOW_CONN_REDIS_WIRING", f"redis://127.0.0.1:6379/{REDIS_DB}")
    client = redis.Redis(db=REDIS_DB)
    yield ns
    for key in client.scan_iter(f"{ns}:*"):
        client.delete(key)


@pytest.fixture
def langfuse(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLangfuseOTLP]:
    # a public key of its own: the SDK keeps one client per public key for the whole process
    with FakeLangfuseOTLP(public_key=f"pk-lf-{uuid.uuid4().hex[:8]}", secret_key="sk-lf-wiring") as fake:
        point_langfuse_at(monkeypatch, fake.url, fake.public_key, fake.secret_key)
        yield fake
        assert not fake.errors


def point_langfuse_at(monkeypatch: pytest.MonkeyPatch, host: str, public_key: str, secret_key: str) -> None:
    conn = {
        "conn_type": "langfuse",
        "host": host,
        "login": public_key,
        "password": secret_key,
        "extra": {"prompt_cache_ttl_s": 0},  # every task sees the label's current version
    }
    monkeypatch.setenv("AIRFLOW_CONN_LANGFUSE_WIRING", json.dumps(conn))


def triage(tmp_path: Path, run_id: str, **kwargs: Any) -> dict[str, Any]:
    op = TriageOperator(
        task_id="triage",
        source_root=str(SAMPLES),
        output_root=str(tmp_path),
        run_date=DAY,
        max_tickets=TICKETS,
        litellm_conn_id="litellm_wiring",
        redis_conn_id="redis_wiring",
        langfuse_conn_id="langfuse_wiring",
        **kwargs,
    )
    return op.execute({"logical_date": None, "dag_run": _Run(run_id), "outlet_events": {}})


def outcomes(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (tmp_path / DAY / "outcomes.jsonl").read_text().splitlines()]


def checkpoint_fingerprints(tmp_path: Path, run_id: str) -> set[str]:
    """The ticket fingerprints the run's outcomes were recorded under (fingerprint, run id, outcome)."""
    lines = (tmp_path / DAY / "checkpoint.jsonl").read_text().splitlines()
    entries = (x.split("\t", 2) for x in lines if not x.startswith("#"))  # not the day-complete marks
    return {fp for fp, rid, _ in entries if rid == run_id}


def answer_keys(ns: str, version: str) -> list[bytes]:
    import redis

    return list(redis.Redis(db=REDIS_DB).scan_iter(f"{ns}:{version}:answer:*"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_new_managed_prompt_version_gets_new_answers_and_says_so_then_langfuse_down_is_bundled(
    tmp_path: Path, namespace: str, langfuse: FakeLangfuseOTLP, monkeypatch: pytest.MonkeyPatch, caplog, capfd
) -> None:
    catalogue = catalogue_for()
    langfuse.set_prompt(DEFAULT_PROMPT_NAME, SYSTEM_PROMPT)
    triage(tmp_path, "run-1")
    v1 = outcomes(tmp_path)
    assert len(v1) == TICKETS
    assert {(o["prompt_name"], o["prompt_version"]) for o in v1} == {(DEFAULT_PROMPT_NAME, "1")}
    shown_v1 = prompt_version(catalogue, rules=SYSTEM_PROMPT)
    assert answer_keys(namespace, shown_v1)
    # each triage generation links the version it used
    generations = [
        s for s in langfuse.spans if s["attributes"].get("langfuse.observation.type") == "generation"
    ]
    assert generations and {
        g["attributes"].get("langfuse.observation.prompt.version") for g in generations
    } == {1}
    roots = {s["name"] for s in langfuse.spans if s["attributes"].get("langfuse.observation.type") == "span"}
    assert roots == {f"ticket {o['ticket_id']}" for o in v1}  # one closed trace root per ticket

    langfuse.set_prompt(DEFAULT_PROMPT_NAME, RULES_V2)  # version 2 takes the production label
    second = triage(tmp_path, "run-2")
    v2 = outcomes(tmp_path)
    assert {(o["prompt_name"], o["prompt_version"]) for o in v2} == {(DEFAULT_PROMPT_NAME, "2")}
    # asked again under the new rules: nothing reused, no cached answer served
    assert second["cost_usd"] > 0 and not any(c["cache_hit"] for o in v2 for c in o["calls"])
    shown_v2 = prompt_version(catalogue, rules=RULES_V2)
    assert shown_v2 != shown_v1 and answer_keys(namespace, shown_v2)
    assert checkpoint_fingerprints(tmp_path, "run-2").isdisjoint(checkpoint_fingerprints(tmp_path, "run-1"))

    # Langfuse unreachable: the bundled rules (the same words as version 1), said once in the log
    point_langfuse_at(monkeypatch, f"http://127.0.0.1:{free_port()}", f"pk-lf-{uuid.uuid4().hex[:8]}", "sk")
    caplog.clear()
    capfd.readouterr()
    third = triage(tmp_path, "run-3")
    bundled = outcomes(tmp_path)
    said = caplog.text + "".join(capfd.readouterr())
    assert {(o["prompt_name"], o["prompt_version"]) for o in bundled} == {
        (DEFAULT_PROMPT_NAME, f"bundled-{text_digest(SYSTEM_PROMPT)}")
    }
    assert said.count("using the bundled triage prompt") == 1 and "could not be fetched" in said
    # not reused from version 1's outcomes (they name another version), but its answers are the
    # same words' answers: served by the cache, for nothing
    assert third["cost_usd"] == 0 and all(c["cache_hit"] for o in bundled for c in o["calls"])
    assert [o["result"] for o in bundled] == [o["result"] for o in v1]
    assert checkpoint_fingerprints(tmp_path, "run-3").isdisjoint(checkpoint_fingerprints(tmp_path, "run-1"))


def test_free_text_mode_asks_the_judge_and_is_not_served_template_mode_outcomes(
    tmp_path: Path, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_LANGFUSE_WIRING", raising=False)
    triage(tmp_path, "run-template")
    template = outcomes(tmp_path)
    assert template and not any(c["purpose"] == "judge" for o in template for c in o["calls"])

    triage(tmp_path, "run-free", reply_mode="free_text", judge_group="fast")
    free = outcomes(tmp_path)
    triaged = [o for o in free if o["status"] == "triaged"]
    judged = [c for o in triaged for c in o["calls"] if c["purpose"] == "judge"]
    assert triaged and len(judged) == len([o for o in triaged if o["result"]["suggested_reply"].strip()]) > 0
    assert {c["model_group"] for c in judged} == {"fast"}
    assert all(o["judge"] is not None for o in triaged if o["result"]["suggested_reply"].strip())


def test_a_bad_reply_mode_or_judge_group_fails_the_task_at_once(
    tmp_path: Path, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_LANGFUSE_WIRING", raising=False)
    with pytest.raises(AirflowFailException, match=r"task 'triage': reply_mode='freetext'"):
        triage(tmp_path, "run-1", reply_mode="freetext")
    with pytest.raises(
        AirflowFailException, match=r"judge_group='gpt-judge' is not a model group.*careful, fast"
    ):
        triage(tmp_path, "run-1", reply_mode="free_text", judge_group="gpt-judge")


def test_empty_params_reach_the_operator_as_none_not_as_the_string_none() -> None:
    """The DAG renders native objects: an empty param is None in the operator, never "None"."""
    from airflow.sdk import DAG, Param

    with DAG(
        "native_params",
        schedule=None,
        render_template_as_native_obj=True,
        params={
            "max_tickets": Param(None, type=["null", "integer"]),
            "escalate_below": Param(None, type=["null", "number"]),
            "judge_group": Param(None, type=["null", "string"]),
        },
    ) as dag:
        op = TriageOperator(
            task_id="triage",
            source_root="/in",
            output_root="/out",
            max_tickets="{{ params.max_tickets }}",
            escalate_below="{{ params.escalate_below }}",
            judge_group="{{ params.judge_group }}",
            reply_mode="{{ params.reply_mode }}",
        )
    env = dag.get_template_env()
    params = {"max_tickets": None, "escalate_below": None, "judge_group": None, "reply_mode": "free_text"}
    op.render_template_fields({"params": params}, jinja_env=env)
    assert (op.max_tickets, op.escalate_below, op.judge_group, op.reply_mode) == (
        None,
        None,
        None,
        "free_text",
    )
    assert op._overrides() == {}
    params = {"max_tickets": 5, "escalate_below": 0.5, "judge_group": "fast", "reply_mode": "template"}
    op2 = TriageOperator(
        task_id="triage2",
        dag=dag,
        source_root="/in",
        output_root="/out",
        max_tickets="{{ params.max_tickets }}",
        escalate_below="{{ params.escalate_below }}",
    )
    op2.render_template_fields({"params": params}, jinja_env=env)
    assert (op2.max_tickets, op2.escalate_below) == (5, 0.5)


def test_resolving_the_prompt_without_langfuse_imports_neither_litellm_nor_langfuse() -> None:
    code = (
        "import sys\n"
        "from llm_operators.operators.observability import prompt_source_for\n"
        "prompt = prompt_source_for('langfuse_absent_for_test').resolve()\n"
        "print(prompt.source, [m for m in ('litellm', 'langfuse') if m in sys.modules])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANGFUSE_")}
    env["PYTHONPATH"] = str(REPO / "plugins")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "bundled []"
