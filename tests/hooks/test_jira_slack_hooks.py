"""Deployment choice of the Jira hook, and the Slack poster's pacing and channel errors."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException
from fakes import FakeSlack

from llm_operators.core.actions import PermanentActionError
from llm_operators.hooks.jira import JiraConfigError, deployment_for
from llm_operators.hooks.slack import SlackChannelError, SlackPoster


@pytest.mark.parametrize(
    ("host", "extra", "expected"),
    [
        ("https://acme.atlassian.net", {}, "cloud"),
        ("https://acme.atlassian.net/", {"deployment": "server"}, "server"),
        ("https://jira.acme.internal:8443", {}, "server"),
        ("http://127.0.0.1:8080", {"deployment": "Cloud"}, "cloud"),
        ("https://jira.acme.internal", {"deployment": "datacenter"}, "server"),
    ],
)
def test_deployment_from_the_connection(host, extra, expected):
    assert deployment_for(host, extra) == expected


def test_a_misspelt_deployment_fails_without_retries():
    with pytest.raises(JiraConfigError, match="deployment='clod'") as err:
        deployment_for("https://acme.atlassian.net", {"deployment": "clod"})
    assert isinstance(err.value, AirflowFailException)


def test_posts_to_one_channel_are_spaced(monkeypatch: pytest.MonkeyPatch):
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        now[0] += seconds

    with FakeSlack(min_interval_s=0) as slack:
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_P", slack.airflow_conn_json())
        poster = SlackPoster("slack_p", min_interval_s=1.0, clock=lambda: now[0], sleep=sleep)
        poster.post("#eng-oncall", "1")
        now[0] += 0.25
        poster.post("#eng-oncall", "2")
        poster.post("#triage-review", "other channel, no wait")
        assert slept == [0.75] and len(slack.messages) == 3


def test_not_in_channel_is_a_permanent_error_naming_the_channel(monkeypatch: pytest.MonkeyPatch):
    with FakeSlack(member_of={"general"}, min_interval_s=0) as slack:
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_P", slack.airflow_conn_json())
        with pytest.raises(
            SlackChannelError, match=r"not_in_channel for channel '#eng-oncall'.*/invite"
        ) as err:
            SlackPoster("slack_p").post("#eng-oncall", "page")
    assert isinstance(err.value, PermanentActionError)
