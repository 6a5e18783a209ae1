"""QualityGateOperator: the branches it returns and the two sets it writes, one case per outcome."""

from __future__ import annotations

import pytest
from builders import DAY
from builders import make_outcome as _built

from llm_operators.core.config import ConfigError
from llm_operators.core.models import JudgeVerdict, ReviewItem, TicketOutcome
from llm_operators.core.outputs import read_jsonl
from llm_operators.core.replies import customer_reply
from llm_operators.operators.gate import QualityGateOperator


def make_outcome(*args, template: str = "troubleshooting_first_steps", **kwargs) -> TicketOutcome:
    """The shared builder's outcome, answered with an approved template (template mode's default)."""
    outcome = _built(*args, **kwargs)
    if outcome.result is not None:
        outcome.result = outcome.result.model_copy(update={"reply_template": template})
    return outcome


def _gate(root, **kwargs) -> QualityGateOperator:
    return QualityGateOperator(task_id="gate", triage_summary={"day": DAY}, output_root=str(root), **kwargs)


def _run(day_outputs, outcomes, **kwargs):
    outputs = day_outputs(outcomes)
    branches = _gate(outputs.root, **kwargs).choose_branch({})
    approved = list(read_jsonl(outputs.approved, TicketOutcome))
    review = list(read_jsonl(outputs.review, ReviewItem))
    return branches, approved, review, outputs


def test_both_branches(day_outputs) -> None:
    branches, approved, review, outputs = _run(
        day_outputs, [make_outcome("A"), make_outcome("B", confidence=0.3)]
    )
    assert branches == ["auto_reply", "manual_review"]
    assert [o.ticket_id for o in approved] == ["A"]
    assert [i.ticket_id for i in review] == ["B"]
    assert review[0].reasons == ["low confidence 0.30 < 0.65"]
    # outcomes.jsonl is rewritten with each ticket's decision
    decided = {o.ticket_id: o.gate.route for o in read_jsonl(outputs.outcomes, TicketOutcome)}
    assert decided == {"A": "auto_reply", "B": "manual_review"}


def test_auto_reply_only(day_outputs) -> None:
    branches, approved, review, _ = _run(day_outputs, [make_outcome("A"), make_outcome("B")])
    assert branches == ["auto_reply"] and len(approved) == 2 and review == []


def test_review_only_with_unresolved_and_rejected_lines(day_outputs) -> None:
    from llm_operators.core.models import RejectedLine
    from llm_operators.core.outputs import write_jsonl

    outcomes = [make_outcome("A", needs_human=True), make_outcome("B", unresolved=True)]
    outputs = day_outputs(outcomes)
    write_jsonl(outputs.rejected, [RejectedLine(source="x.jsonl", line=7, field="created_at", error="bad")])
    branches = _gate(outputs.root).choose_branch({})
    review = list(read_jsonl(outputs.review, ReviewItem))
    assert branches == ["manual_review"]
    assert [i.key for i in review] == ["A", "B", "x.jsonl:7"]
    assert review[1].reasons[0].startswith("unresolved: rung 1 (strong)")
    assert "x.jsonl:7 field 'created_at'" in review[2].reasons[0]


def test_page_engineering_for_p0_and_p1(day_outputs) -> None:
    branches, _, review, _ = _run(
        day_outputs, [make_outcome("A", priority="P0", needs_human=True), make_outcome("B", priority="P3")]
    )
    assert branches == ["auto_reply", "manual_review", "page_engineering"]
    assert review[0].page_engineering is True


def test_empty_day_takes_the_no_op_branch(day_outputs) -> None:
    branches, approved, review, _ = _run(day_outputs, [])
    assert branches == ["nothing_to_do"] and approved == [] and review == []


def test_threshold_from_params(day_outputs) -> None:
    branches, approved, _, _ = _run(day_outputs, [make_outcome("A", confidence=0.5)], min_confidence="0.4")
    assert branches == ["auto_reply"] and len(approved) == 1


def test_out_of_range_threshold_is_a_clear_error(day_outputs) -> None:
    outputs = day_outputs([make_outcome("A")])
    with pytest.raises(ConfigError, match=r"gate.*min_confidence"):
        _gate(outputs.root, min_confidence=1.5).choose_branch({})


def test_approved_outcomes_carry_the_reply_to_send(day_outputs) -> None:
    _, approved, review, _ = _run(day_outputs, [make_outcome("A"), make_outcome("B", template="none")])
    [a] = approved
    assert a.gate.reply_mode == "template" and a.gate.template_id == "troubleshooting_first_steps"
    assert customer_reply(a) == a.gate.reply and "Our engineers are looking into it." in a.gate.reply
    assert [i.ticket_id for i in review] == ["B"]
    assert review[0].reasons == ["no reply template fits (the model's draft is attached for the reviewer)"]


def test_free_text_mode_from_the_rules(day_outputs) -> None:
    judged = make_outcome("A")
    judged.judge = JudgeVerdict(approved=True, reason="fine")
    _, approved, review, _ = _run(day_outputs, [judged, make_outcome("B")], rules={"reply_mode": "free_text"})
    assert [o.ticket_id for o in approved] == ["A"]
    assert customer_reply(approved[0]) == judged.result.suggested_reply
    assert review[0].reasons == ["no judge verdict on the free-text reply"]


def test_free_text_mode_from_the_dag_param(day_outputs) -> None:
    judged = make_outcome("A")
    judged.judge = JudgeVerdict(approved=True, reason="fine")
    _, approved, review, _ = _run(day_outputs, [judged, make_outcome("B")], reply_mode="free_text")
    assert [o.ticket_id for o in approved] == ["A"] and approved[0].gate.reply_mode == "free_text"
    assert [i.ticket_id for i in review] == ["B"]


def test_an_unknown_reply_mode_is_a_clear_error(day_outputs) -> None:
    outputs = day_outputs([make_outcome("A")])
    with pytest.raises(ConfigError, match="reply_mode"):
        _gate(outputs.root, reply_mode="freestyle").choose_branch({})
