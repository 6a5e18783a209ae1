"""What `triage_day` does with a real export's quirks and its hooks into tracing, and what the run
fingerprint keys on. A fake caller stands in for the Router (every answer confident)."""

from __future__ import annotations

import json
import logging
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from chaos_provider.config import DEFAULT_RESULT
from llm_operators.core.call_request import CallRequest
from llm_operators.core.config import LiteLLMSettings
from llm_operators.core.day_source import FileTicketSource
from llm_operators.core.fingerprint import ladder_fingerprint, run_fingerprint
from llm_operators.core.ladder import Ladder, LadderPolicy
from llm_operators.core.models import CallRecord, CallStatus, RejectedLine
from llm_operators.core.outputs import DayOutputs, read_jsonl
from llm_operators.core.prompts import SYSTEM_PROMPT
from llm_operators.core.reply_templates import catalogue_for
from llm_operators.core.triage_policy import TriageChoices, ladder_policy
from llm_operators.core.triage_run import DayPlan, triage_day

DAY = date(2025, 10, 1)


class Caller:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, request: CallRequest) -> tuple[str, CallRecord]:
        self.asked.append(request.ticket_id)
        record = CallRecord(
            ticket_id=request.ticket_id,
            rung=request.rung,
            model_group=request.group,
            status=CallStatus.OK,
            cost_usd=0.01,
        )
        return json.dumps({**DEFAULT_RESULT, "confidence": 0.95}), record


def ticket(ticket_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": ticket_id,
        "created_at": f"{DAY.isoformat()}T09:00:00+00:00",
        "subject": "Export fails",
        "body": f"The CSV export of {ticket_id} fails with error 500.",
        "customer": "CUST-1",
        "channel": "email",
        **extra,
    }


def write_day(root: Path, rows: list[dict[str, Any]]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{DAY.isoformat()}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def plan(tmp_path: Path, **kwargs: Any) -> DayPlan:
    return DayPlan(
        source=FileTicketSource(tmp_path / "tickets"),
        outputs=DayOutputs(tmp_path / "out", DAY.isoformat()),
        day=DAY,
        concurrency=2,
        fingerprint="fp",
        progress_every_s=3600,
        **kwargs,
    )


def test_a_duplicate_line_is_triaged_once_not_reviewed_and_said_once(tmp_path: Path, caplog) -> None:
    a = ticket("T-1")
    others = [ticket(f"T-{i}") for i in range(2, 8)]
    write_day(tmp_path / "tickets", [a, others[0], a, {**a, "subject": "Export still fails"}, *others[1:]])
    caller = Caller()
    caplog.set_level(logging.INFO, logger="llm_operators.core.triage_run")
    day_plan = plan(tmp_path)
    result = triage_day(day_plan, Ladder(LadderPolicy(rungs=["fast"]), caller))

    # T-1 twice word for word, then with other content: a conflict, so every T-1 line goes to review
    assert sorted(caller.asked) == [t["id"] for t in others]
    rejected = list(read_jsonl(day_plan.outputs.rejected, RejectedLine))
    assert [(r.line, r.ticket_id) for r in rejected] == [(1, "T-1"), (3, "T-1"), (4, "T-1")]

    write_day(tmp_path / "tickets", [a, others[0], a, *others[1:]])
    caller = Caller()
    caplog.clear()
    again = plan(tmp_path, run_id="other")
    result = triage_day(again, Ladder(LadderPolicy(rungs=["fast"]), caller))
    assert caller.asked == ["T-1"]  # the others reused from the checkpoint; T-1 asked once
    assert result.summary.tickets == 7 and result.rejected == [] and result.read.duplicates == 1
    assert list(read_jsonl(again.outputs.rejected, RejectedLine)) == []  # the duplicate is not for review
    skipped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped ")]
    assert len(skipped) == 1 and ":3 ticket T-1" in skipped[0] and "same content as line 1" in skipped[0]


def test_export_fields_the_triage_does_not_read_are_said_once_and_kept(tmp_path: Path, caplog) -> None:
    write_day(
        tmp_path / "tickets",
        [ticket("T-1", sla_tier="gold", org_id=7), ticket("T-2", sla_tier="silver"), ticket("T-3")],
    )
    caplog.set_level(logging.INFO, logger="llm_operators.core.triage_run")
    day_plan = plan(tmp_path)
    triage_day(day_plan, Ladder(LadderPolicy(rungs=["fast"]), Caller()))
    notes = [r.getMessage() for r in caplog.records if "fields not read by the triage" in r.getMessage()]
    assert len(notes) == 1 and "org_id (1), sla_tier (2)" in notes[0]
    outcomes = [json.loads(x) for x in day_plan.outputs.outcomes.read_text().splitlines()]
    assert outcomes[0]["ticket"]["sla_tier"] == "gold"

    caplog.clear()
    write_day(tmp_path / "tickets", [ticket("T-4")])
    triage_day(plan(tmp_path), Ladder(LadderPolicy(rungs=["fast"]), Caller()))
    assert "fields not read by the triage" not in caplog.text


def test_each_triaged_ticket_closes_its_trace_once_and_reused_ones_open_none(tmp_path: Path) -> None:
    write_day(tmp_path / "tickets", [ticket(f"T-{i}") for i in range(5)])
    done: list[str] = []
    triage_day(
        plan(tmp_path, trace_done=lambda t: done.append(t.id)), Ladder(LadderPolicy(rungs=["fast"]), Caller())
    )
    assert sorted(done) == [f"T-{i}" for i in range(5)]
    done.clear()
    triage_day(
        plan(tmp_path, run_id="rerun", trace_done=lambda t: done.append(t.id)),
        Ladder(LadderPolicy(rungs=["fast"]), Caller()),
    )
    assert done == []  # every outcome reused: nothing was traced, nothing to close


def test_a_plan_has_exactly_one_ticket_source(tmp_path: Path) -> None:
    outputs = DayOutputs(tmp_path / "out", DAY.isoformat())
    with pytest.raises(TypeError):
        DayPlan(outputs=outputs, day=DAY, source=FileTicketSource(tmp_path), source_root=tmp_path)
    with pytest.raises(TypeError):
        DayPlan(outputs=outputs, day=DAY)


def _settings(**changes: Any) -> LiteLLMSettings:
    """Deployments on an OpenAI-compatible server (batch mode needs a provider with a batch API)."""
    base = "http://127.0.0.1:9/v1"
    data: dict[str, Any] = {
        "model_list": [
            {"model_name": g, "litellm_params": {"model": f"openai/{g}", "api_base": base}}
            for g in ("fast", "careful")
        ],
        "ladder": ["fast", "careful"],
        **changes,
    }
    return LiteLLMSettings.parse(data, "test")


def test_live_and_batch_mode_share_a_fingerprint_but_answer_settings_do_not() -> None:
    live = _settings()
    assert run_fingerprint(live, "v1") == run_fingerprint(
        _settings(mode="batch", batch={"deadline_s": 60, "min_round_size": 3}), "v1"
    )
    assert run_fingerprint(live, "v1") != run_fingerprint(_settings(escalate_below=0.5), "v1")
    assert run_fingerprint(live, "v1") != run_fingerprint(live, "v2")


def test_the_ladder_fingerprint_keys_on_prompt_reply_mode_templates_and_spotlight(tmp_path: Path) -> None:
    settings = _settings()

    def fingerprint(rules: str = SYSTEM_PROMPT, version: str = "1", **choices: Any) -> str:
        catalogue = catalogue_for(choices.pop("reply_templates", None))
        policy = ladder_policy(
            settings,
            TriageChoices(**choices),
            catalogue=catalogue,
            rules=rules,
            prompt_name="ticket-triage-rules",
            prompt_version=version,
        )
        return ladder_fingerprint(settings, policy)

    base = fingerprint()
    assert fingerprint() == base
    assert fingerprint(version="2") != base  # same words, new version: outcomes must say which
    assert fingerprint(rules=SYSTEM_PROMPT + "\nBe brief.") != base
    assert fingerprint(reply_mode="free_text") != base
    assert fingerprint(reply_mode="free_text", judge_group="fast") != fingerprint(reply_mode="free_text")
    assert fingerprint(judge_group="fast") == base  # no judge is asked in template mode
    assert fingerprint(spotlight="encode") != base

    own = tmp_path / "templates.json"  # the deployment's own wording of one template
    data = catalogue_for().model_dump(mode="json")
    data["templates"][0]["use_when"] += " (deployment wording)"
    own.write_text(json.dumps(data))
    assert catalogue_for(own).version != catalogue_for().version
    assert fingerprint(reply_templates=str(own)) != base


def test_a_judge_group_must_be_a_model_group() -> None:
    from llm_operators.core.config import ConfigError

    with pytest.raises(ConfigError, match=r"judge_group='gpt-judge'.*careful, fast"):
        ladder_policy(
            _settings(),
            TriageChoices(reply_mode="free_text", judge_group="gpt-judge"),
            catalogue=catalogue_for(),
            rules=SYSTEM_PROMPT,
        )
    with pytest.raises(ConfigError, match=r"reply_mode='freetext'"):
        TriageChoices.parse("task 'triage'", reply_mode="freetext")
    assert TriageChoices.parse("t", reply_mode=None, judge_group=None) == TriageChoices()
