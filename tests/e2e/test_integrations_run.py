"""A day through real Airflow against loopback providers: the chaos LLM server, fake Slack and Jira,
and the machine's Redis. A re-run pays nothing and repeats no side effect; keys never leak."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from e2e.conftest import AirflowEnv
from fakes import FakeJira, FakeLangfuseOTLP, FakeSlack

from chaos_provider import ChaosServer
from llm_operators.core.offline_engine import triage_text
from llm_operators.core.prompts import SYSTEM_PROMPT, extract_ticket_text
from llm_operators.llm.prompt_source import DEFAULT_PROMPT_NAME as MANAGED_PROMPT

pytestmark = pytest.mark.e2e

DAY = "2025-10-04"
REDIS_DB = 9
API_KEY = "sk-proj-e2eSECRETkey0123456789abcdef"
LANGFUSE_SECRET = "sk-lf-e2e-secret-0123456789"
SLACK_TOKEN = "xoxb-e2e-1234567890-slacksecret"
JIRA_TOKEN = "jira-e2e-token-0123456789secret"
SECRETS = {
    "provider API key": API_KEY,
    "Langfuse secret": LANGFUSE_SECRET,
    "Slack token": SLACK_TOKEN,
    "Jira token": JIRA_TOKEN,
}


def _answer(model: str, messages: list[dict]) -> str:
    """A realistic provider: the offline engine, less sure of itself on the cheap model."""
    return json.dumps(triage_text(extract_ticket_text(messages), "careful" if "strong" in model else "fast"))


def _litellm_conn(chaos: ChaosServer, **extra: object) -> str:
    priced = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
    return json.dumps(
        {
            "conn_type": "litellm",
            "host": chaos.openai_base,
            "password": API_KEY,
            "extra": {
                "model_list": [
                    {"model_name": "cheap", "litellm_params": {"model": "openai/triage-cheap", **priced}},
                    {"model_name": "strong", "litellm_params": {"model": "openai/triage-strong", **priced}},
                ],
                "ladder": ["cheap", "strong"],
                "router_settings": {"num_retries": 0, "timeout": 10},
                **extra,
            },
        }
    )


def _summary(env: AirflowEnv) -> dict:
    return json.loads((env.output / DAY / "summary.json").read_text())


def _all_output_text(day_dir: Path) -> str:
    return "".join(p.read_text() for p in day_dir.iterdir() if p.is_file())


def _assert_langfuse(langfuse: FakeLangfuseOTLP, summary: dict) -> None:
    """Session = the DAG run, one trace per ticket, a generation per LLM call, gate scores on the trace."""
    generations = [
        s for s in langfuse.spans if s["attributes"].get("langfuse.observation.type") == "generation"
    ]
    assert len(generations) == summary["calls"]
    assert {g["attributes"]["session.id"] for g in generations} == {summary["run_id"]}
    traces = {g["trace_id"] for g in generations}
    by_ticket: dict[str, set] = {}
    for g in generations:
        by_ticket.setdefault(g["attributes"].get("langfuse.trace.name"), set()).add(
            (g["trace_id"], g["name"])
        )
    assert len(traces) == summary["tickets"], {
        k: v for k, v in by_ticket.items() if len({t for t, _ in v}) > 1
    }
    for g in generations:
        usage = json.loads(g["attributes"]["langfuse.observation.usage_details"])
        assert usage["input"] > 0 and usage["output"] > 0
        assert json.loads(g["attributes"]["langfuse.observation.cost_details"])["total"] > 0
    # each generation links the managed prompt version it used (the judge has a prompt of its own)
    assert {
        (
            g["attributes"].get("langfuse.observation.prompt.name"),
            g["attributes"].get("langfuse.observation.prompt.version"),
        )
        for g in generations
        if not g["name"].endswith("judge")
    } == {(MANAGED_PROMPT, 1)}
    scores = [s for s in langfuse.scores if s["name"] == "gate_decision"]
    assert {s["traceId"] for s in scores} == traces
    routes = sorted(s["value"] for s in scores)
    gate = summary["gate"]
    assert routes == sorted(["auto_reply"] * gate["auto_reply"] + ["manual_review"] * gate["manual_review"])


def _review_day(env: AirflowEnv) -> tuple[int, int]:
    """(review items, tickets paged) the day's gate handed to manual review and paging."""
    day = env.output / DAY
    review = [json.loads(x) for x in (day / "review.jsonl").read_text().splitlines() if x.strip()]
    pages = day / "pages.jsonl"
    paged = [json.loads(x) for x in pages.read_text().splitlines() if x.strip()] if pages.exists() else []
    return len(review), len([p for p in paged if p["action"] == "page_oncall"])


def _assert_filed_once(jira: FakeJira, slack: FakeSlack, env: AirflowEnv) -> None:
    """One SUP issue per review item, one ENG issue and one page per paged ticket, one digest."""
    review, paged = _review_day(env)
    by_project: dict[str, list[str]] = {}
    for issue in jira.created_issues:
        label = next(x for x in issue["fields"]["labels"] if x.startswith("ticket-") and x != "ticket-triage")
        by_project.setdefault(issue["key"].split("-")[0], []).append(label)
    assert len(by_project.get("SUP", [])) == len(set(by_project.get("SUP", []))) == review > 0
    assert len(by_project.get("ENG", [])) == len(set(by_project.get("ENG", []))) == paged > 0
    channels = [m["channel"] for m in slack.messages]
    assert channels.count("#triage-review") == 1 and channels.count("#eng-oncall") == paged
    assert all(m["mentions"] == [] for m in slack.messages)


def test_rerun_is_served_from_cache_and_repeats_no_side_effect(airflow_env: AirflowEnv) -> None:
    store = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    store.flushdb()
    try:
        with (
            ChaosServer(content_fn=_answer) as chaos,
            FakeSlack(token=SLACK_TOKEN) as slack,
            FakeJira(username="bot@example.com", api_token=JIRA_TOKEN) as jira,
            FakeLangfuseOTLP(public_key="pk-lf-e2e", secret_key=LANGFUSE_SECRET) as langfuse,
        ):
            env = {
                "AIRFLOW_CONN_LANGFUSE_DEFAULT": json.dumps(
                    {
                        "conn_type": "generic",
                        "host": langfuse.url,
                        "login": "pk-lf-e2e",
                        "password": LANGFUSE_SECRET,
                    }
                ),
                "AIRFLOW_CONN_LITELLM_DEFAULT": _litellm_conn(chaos),
                "AIRFLOW_CONN_REDIS_DEFAULT": json.dumps(
                    {"conn_type": "redis", "host": "127.0.0.1", "port": 6379, "extra": {"db": REDIS_DB}}
                ),
                "AIRFLOW_CONN_SLACK_API_DEFAULT": slack.airflow_conn_json(),
                "AIRFLOW_CONN_JIRA_DEFAULT": jira.airflow_conn_json(),
            }
            langfuse.set_prompt(MANAGED_PROMPT, SYSTEM_PROMPT)  # the rules, managed in Langfuse
            log1 = airflow_env.dags_test(DAY, extra_env=env)
            first_requests = chaos.stats()["total_requests"]
            first = _summary(airflow_env)
            issues, messages = len(jira.created_issues), len(slack.messages)
            assert first["offline"] is False and first["cache_hits"] == 0
            assert first_requests == first["calls"] > 0 and first["cost_usd"] > 0
            assert issues > 0 and messages > 0
            assert jira.deployment == "server" and jira.requests_to("/rest/api/2/search")
            _assert_filed_once(jira, slack, airflow_env)
            assert set(first["by_model"]) <= {"openai/triage-cheap", "openai/triage-strong"}
            _assert_langfuse(langfuse, first)

            log2 = airflow_env.dags_test(DAY, extra_env=env)
            second = _summary(airflow_env)
            assert chaos.stats()["total_requests"] == first_requests  # zero new provider requests
            assert second["cache_hits"] == second["calls"] == first["calls"]  # 100 % cache hit rate
            assert second["cost_usd"] == 0 and second["cache_savings_usd"] == pytest.approx(first["cost_usd"])
            assert (len(jira.created_issues), len(slack.messages)) == (issues, messages)  # nothing repeated
            _assert_filed_once(jira, slack, airflow_env)

            # a new prompt version / cache namespace is a different cache: it misses
            env["AIRFLOW_CONN_LITELLM_DEFAULT"] = _litellm_conn(chaos, cache_namespace="ticket-triage-next")
            airflow_env.dags_test(DAY, extra_env=env)
            assert chaos.stats()["total_requests"] == 2 * first_requests

            # the provider key appears nowhere it should not
            sent = json.dumps(slack.messages) + json.dumps(jira.issues) + json.dumps(langfuse.spans)
            for where, text in (
                ("task logs", log1 + log2),
                ("outputs", _all_output_text(airflow_env.output / DAY)),
                ("Slack/Jira payloads", sent),
            ):
                for name, secret in SECRETS.items():
                    assert secret not in text, f"{name} leaked into {where}"
    finally:
        store.flushdb()


HOSTILE = "<!channel> <!here> <@U0ADMIN> <https://evil.example|Reset your password>"


def test_jira_cloud_day_over_pages_files_once_and_renders_no_mention(airflow_env: AirflowEnv) -> None:
    """`ticket_source=jira` on Jira Cloud: the day comes over three `search/jql` pages (the removed
    search would answer 410), review issues and pages go out once, a re-run repeats nothing, and a
    subject full of mentions and a disguised link reaches Slack as text."""
    db = 15
    store = redis.Redis(host="127.0.0.1", port=6379, db=db)
    store.flushdb()
    try:
        with (
            FakeSlack(token=SLACK_TOKEN) as slack,
            FakeJira(api_token=JIRA_TOKEN, deployment="cloud", max_results=5) as jira,
        ):
            subjects = [f"Invoice {i} question" for i in range(8)] + [
                "Production API down for all users, outage since 09:00",
                "Checkout outage: payments failing for everyone",
                f"Urgent {HOSTILE}",
                "Export to CSV broken",
            ]
            for i, subject in enumerate(subjects):
                body = "Please call me back at jane.doe@example.com." if "Urgent" in subject else subject
                jira.seed_issue("HELP", subject, body, f"{DAY}T{i + 8:02d}:00:00.000+0000", reporter="cust-1")
            env = {
                "AIRFLOW_CONN_LITELLM_DEFAULT": json.dumps(
                    {"conn_type": "litellm", "extra": {"offline": True}}
                ),
                "AIRFLOW_CONN_REDIS_DEFAULT": json.dumps(
                    {"conn_type": "redis", "host": "127.0.0.1", "port": 6379, "extra": {"db": db}}
                ),
                "AIRFLOW_CONN_SLACK_API_DEFAULT": slack.airflow_conn_json(),
                "AIRFLOW_CONN_JIRA_DEFAULT": jira.airflow_conn_json(),
            }
            conf = {"ticket_source": "jira", "jira_project": "HELP"}
            airflow_env.dags_test(DAY, conf=conf, extra_env=env)
            assert _summary(airflow_env)["tickets"] == len(subjects)  # every page of the day read
            assert len(jira.requests_to("/rest/api/3/search/jql")) >= 3
            assert all((r.status or 0) < 400 for r in jira.requests)  # no 410 from a removed endpoint
            _assert_filed_once(jira, slack, airflow_env)
            hostile = [m for m in slack.messages if "evil.example" in m["rendered"]]
            assert hostile and all(m["mentions"] == [] and m["links"] == [] for m in hostile)
            assert all(HOSTILE in m["rendered"] for m in hostile)  # shown as text, nothing hidden
            before = (len(jira.created_issues), len(slack.messages))

            airflow_env.dags_test(DAY, conf=conf, extra_env=env)
            assert (len(jira.created_issues), len(slack.messages)) == before  # nothing repeated
    finally:
        store.flushdb()
