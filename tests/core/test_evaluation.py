"""Evaluation against labels: each metric checked on cases small enough to compute by hand."""

from __future__ import annotations

import pytest
from labelled_outcomes import labels, outcome, result

from llm_operators.core.evaluation import (
    calibration,
    confusion,
    evaluate,
    field_score,
    gate_quality,
    gate_wrong,
    triage_right,
)
from llm_operators.core.models import GateDecision


def test_accuracy_and_macro_f1_by_hand():
    # truth a b a c, pred a a a c: accuracy 3/4; F1 a = 2*(2/3*1)/(2/3+1) = 0.8, b = 0, c = 1 -> 0.6
    s = field_score(["a", "b", "a", "c"], ["a", "a", "a", "c"])
    assert (s.n, s.accuracy) == (4, 0.75)
    assert s.macro_f1 == pytest.approx(0.6)
    assert field_score([], []).accuracy is None  # nothing to score is not a perfect score


def test_confusion_matrix_rows_are_truth_in_the_given_order():
    m = confusion(["P0", "P2", "P2", "P1"], ["P1", "P2", "P0", "P1"], order=["P0", "P1", "P2", "P3"])
    assert m.labels == ["P0", "P1", "P2"]  # P3 neither true nor predicted: no row
    assert m.matrix == [[0, 1, 0], [0, 1, 0], [1, 0, 1]]


def test_calibration_ece_and_brier_by_hand():
    # bin (0, 0.1]: confidences 0.1, 0.1, both right -> |1 - 0.1| = 0.9, weight 2/4
    # bin (0.8, 0.9]: confidences 0.9, 0.9, one right -> |0.5 - 0.9| = 0.4, weight 2/4
    # ECE = 0.45 + 0.2 = 0.65; Brier = (0.01 + 0.81 + 0.81 + 0.81) / 4 = 0.61
    c = calibration([True, True, False, True], [0.9, 0.1, 0.9, 0.1])
    assert c.ece == pytest.approx(0.65)
    assert c.brier == pytest.approx(0.61)
    assert [(b.lower, b.upper, b.count, b.accuracy) for b in c.bins] == [
        (0.0, pytest.approx(0.1), 2, 1.0),
        (pytest.approx(0.8), pytest.approx(0.9), 2, 0.5),
    ]


def test_a_perfectly_calibrated_set_has_zero_ece_and_one_class_is_fine():
    assert calibration([True, False], [0.5, 0.5]).ece == pytest.approx(0.0)
    c = calibration([True, True], [1.0, 1.0])
    assert (c.ece, c.brier) == (0.0, 0.0)
    assert calibration([], []).ece is None


def test_gate_wrong_means_wrong_triage_or_a_person_needed():
    assert not gate_wrong(result(), labels())
    assert gate_wrong(result(priority="P3"), labels())
    assert gate_wrong(result(category="account"), labels())
    assert gate_wrong(result(), labels(needs_human=True))
    assert not triage_right(None, labels()) and gate_wrong(None, labels())


def test_gate_quality_by_hand():
    items = [
        # auto-replied: one right, one wrong priority, one needing a human -> 2 of 3 wrong
        (outcome("1", result(), labels()), labels(), GateDecision(route="auto_reply")),
        (outcome("2", result(priority="P3"), labels()), labels(), GateDecision(route="auto_reply")),
        (
            outcome("3", result(), labels(needs_human=True)),
            labels(needs_human=True),
            GateDecision(route="auto_reply"),
        ),
        # P0/P1 labelled: one paged, one not
        (
            outcome("4", result(priority="P0"), labels(priority="P0")),
            labels(priority="P0"),
            GateDecision(route="manual_review", page_engineering=True),
        ),
        (
            outcome("5", result(priority="P2"), labels(priority="P1")),
            labels(priority="P1"),
            GateDecision(route="manual_review"),
        ),
    ]
    g = gate_quality(items)
    assert (g.tickets, g.auto_replied, g.auto_reply_wrong) == (5, 3, 2)
    assert g.auto_reply_error_rate == pytest.approx(2 / 3)
    assert (g.reviewed, g.review_share) == (2, 0.4)
    assert (g.p0_p1_labelled, g.p0_p1_paged, g.p0_p1_paged_recall) == (2, 1, 0.5)


def test_evaluate_counts_and_skips_unlabelled_and_scores_rungs_and_models():
    cheap_wrong = result(category="account", confidence=0.4)
    outcomes = [
        outcome("1", result(), labels()),
        outcome("2", result(priority="P3", confidence=0.6), labels(), route="manual_review"),
        # escalated: rung 0 said account (wrong), rung 1 billing (right)
        outcome(
            "3",
            result(confidence=0.95),
            labels(),
            rung_answers=[cheap_wrong, result(confidence=0.95)],
            final_model="fake/strong",
        ),
        outcome("4", result(), None),  # unlabelled: counted, skipped
        outcome("5", None, labels(priority="P0"), route="manual_review"),  # unresolved: gate only
    ]
    ev = evaluate(outcomes)
    assert (ev.tickets, ev.labelled, ev.unlabelled, ev.unresolved_labelled) == (5, 4, 1, 1)
    assert ev.fields["category"].accuracy == 1.0 and ev.fields["category"].n == 3
    assert ev.fields["priority"].accuracy == pytest.approx(2 / 3)
    assert ev.by_rung["rung 0 (cheap)"]["category"].accuracy == pytest.approx(2 / 3)  # tickets 1, 2, 3
    assert ev.by_rung["rung 1 (strong)"]["category"].n == 1
    assert set(ev.by_final_model) == {"fake/cheap", "fake/strong"}
    assert ev.gate.p0_p1_labelled == 1 and ev.gate.p0_p1_paged_recall == 0.0
    assert ev.gate.auto_replied == 2 and ev.gate.auto_reply_error_rate == 0.0
    assert ev.confusion["priority"].labels == ["P2", "P3"]
    summary = ev.summary_json()
    assert summary["fields"]["needs_human"]["accuracy"] == 1.0
    assert set(summary) >= {"tickets", "labelled", "fields", "calibration", "gate"}
    assert set(summary["gate"]) >= {
        "auto_replied",
        "auto_reply_error_rate",
        "p0_p1_labelled",
        "p0_p1_paged_recall",
    }
    assert set(summary["calibration"]) >= {"ece", "brier"}


def test_an_outcome_without_a_gate_decision_gets_the_live_gate():
    o = outcome("1", result(confidence=0.3), labels()).model_copy(update={"gate": None})
    ev = evaluate([o])
    assert ev.gate.recomputed == 1 and ev.gate.auto_replied == 0  # 0.3 < 0.65: review
