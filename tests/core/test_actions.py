"""perform_once: an external action at most once, through the ledger."""

from __future__ import annotations

from typing import Any

from llm_operators.core.actions import perform_once
from llm_operators.core.ledger import Claim, MemoryLedger


class Action:
    """A stand-in for a Slack/Jira call: counts calls, can fail a number of times first."""

    def __init__(self, fail_times: int = 0) -> None:
        self.calls = 0
        self.fail_times = fail_times

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.fail_times:
            raise ConnectionError("jira unreachable")
        return {"key": f"TRIAGE-{self.calls}"}


def test_done_records_the_result():
    ledger, action = MemoryLedger(), Action()
    record = perform_once(ledger, "jira_issue", "T-1", "TRIAGE", action)
    assert (record.status, record.result, record.error) == ("done", {"key": "TRIAGE-1"}, None)
    assert (record.action, record.ticket_key, record.target) == ("jira_issue", "T-1", "TRIAGE")
    assert action.calls == 1
    assert ledger.claim("jira_issue", "T-1") == Claim("done", {"key": "TRIAGE-1"})


def test_already_done_does_not_perform_again():
    ledger, action = MemoryLedger(), Action()
    perform_once(ledger, "jira_issue", "T-1", "TRIAGE", action)
    again = perform_once(ledger, "jira_issue", "T-1", "TRIAGE", action)
    assert again.status == "already_done"
    assert again.result == {"key": "TRIAGE-1"}  # the earlier result, not a new one
    assert action.calls == 1


def test_failure_releases_the_claim_and_a_retry_succeeds():
    ledger, action = MemoryLedger(), Action(fail_times=1)
    failed = perform_once(ledger, "jira_issue", "T-1", "TRIAGE", action)
    assert failed.status == "failed"
    assert failed.error == "ConnectionError: jira unreachable"
    assert failed.result is None
    retry = perform_once(ledger, "jira_issue", "T-1", "TRIAGE", action)
    assert (retry.status, retry.result) == ("done", {"key": "TRIAGE-2"})
    assert action.calls == 2


def test_failure_error_is_bounded():
    def boom() -> dict[str, Any]:
        raise RuntimeError("x" * 2000)

    record = perform_once(MemoryLedger(), "reply", "T-1", "customer", boom)
    assert record.status == "failed"
    assert len(record.error) == 500


def test_dry_run_neither_performs_nor_touches_the_ledger():
    ledger, action = MemoryLedger(), Action()
    record = perform_once(ledger, "reply", "T-1", "customer", action, dry_run=True, describe="send reply")
    assert (record.status, record.result) == ("dry_run", None)
    assert action.calls == 0
    assert ledger.claim("reply", "T-1").state == "claimed"  # nothing was recorded


def test_in_progress_when_another_attempt_holds_the_claim():
    ledger, action = MemoryLedger(), Action()
    assert ledger.claim("reply", "T-1").acquired  # another worker is mid-action
    record = perform_once(ledger, "reply", "T-1", "customer", action)
    assert record.status == "in_progress"
    assert "holds the claim" in record.error
    assert action.calls == 0


def test_a_refusal_is_marked_permanent_and_still_releases_the_claim():
    from llm_operators.core.actions import PermanentActionError

    def refused() -> dict[str, Any]:
        raise PermanentActionError("422 customer unknown")

    ledger = MemoryLedger()
    record = perform_once(ledger, "reply", "T-1", "customer", refused)
    assert (record.status, record.permanent) == ("failed", True)
    assert ledger.claim("reply", "T-1").acquired  # a fixed target may be tried again later
    transient = perform_once(MemoryLedger(), "jira_issue", "T-1", "TRIAGE", Action(fail_times=1))
    assert (transient.status, transient.permanent) == ("failed", False)
