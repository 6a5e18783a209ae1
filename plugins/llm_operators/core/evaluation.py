"""How good the triage is, measured against the labels that ticket files may carry.

Pure: reads `TicketOutcome`s (the lines of `outcomes.jsonl`) and returns numbers; the CLI, the
operator and the report only print or draw them. The metrics themselves are scikit-learn's (accuracy,
macro-F1, confusion matrices, Brier score, reliability curve); only the expected calibration error
is computed here, as the bin-weighted gap of scikit-learn's curve, since the library has none.

Definitions (also in docs/evaluation.md):
- a ticket's triage is *right* when its category and priority both match the label; the reported
  confidence is calibrated against that;
- the gate's triage is *wrong* for an auto-replied ticket when it is not right or the label says
  `needs_human` (the issue's definition);
- P0/P1 recall counts a labelled P0/P1 ticket as found when the gate paged it; unresolved tickets
  were not paged;
- tickets without labels are counted and skipped; labelled tickets no rung could answer count in
  the gate's figures (they went to review) but not in the per-field ones, and are counted apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from llm_operators.core.gate import GateRules, decide
from llm_operators.core.models import GateDecision, OutcomeStatus, TicketLabels, TicketOutcome, TriageResult
from llm_operators.core.rung_answers import rung_answers

FieldName = Literal["category", "priority", "needs_human", "pii"]
FIELDS: tuple[FieldName, ...] = ("category", "priority", "needs_human", "pii")
PAGED_PRIORITIES = ("P0", "P1")
DEFAULT_BINS = 10


def predicted(result: TriageResult, field: FieldName) -> str:
    """A field of a model's answer, as the label writes it (booleans as 'true'/'false')."""
    value = {
        "category": result.category,
        "priority": result.priority,
        "needs_human": result.needs_human,
        "pii": result.pii_detected,
    }[field]
    return _label_text(value)


def labelled(labels: TicketLabels, field: FieldName) -> str:
    return _label_text(getattr(labels, field))


def _label_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(getattr(value, "value", value))


def triage_right(result: TriageResult | None, labels: TicketLabels) -> bool:
    return (
        result is not None
        and predicted(result, "category") == labelled(labels, "category")
        and predicted(result, "priority") == labelled(labels, "priority")
    )


def gate_wrong(result: TriageResult | None, labels: TicketLabels) -> bool:
    """Wrong to have answered automatically: the triage is not right, or a person was needed."""
    return labels.needs_human or not triage_right(result, labels)


# --- metrics (each tested against hand-computed cases) ---


class FieldScore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int
    accuracy: float | None
    macro_f1: float | None


def field_score(truth: Sequence[str], pred: Sequence[str]) -> FieldScore:
    """Accuracy and macro-F1 over the classes present in either list (a class never predicted and
    never true does not dilute the mean); an empty list has no score, not a perfect one."""
    from sklearn.metrics import accuracy_score, f1_score

    if not truth:
        return FieldScore(n=0, accuracy=None, macro_f1=None)
    return FieldScore(
        n=len(truth),
        accuracy=float(accuracy_score(truth, pred)),
        macro_f1=float(
            f1_score(truth, pred, labels=sorted(set(truth) | set(pred)), average="macro", zero_division=0)
        ),
    )


class ConfusionMatrix(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: list[str]
    matrix: list[list[int]] = Field(description="rows: label (truth), columns: prediction")


def confusion(truth: Sequence[str], pred: Sequence[str], order: Sequence[str] = ()) -> ConfusionMatrix:
    from sklearn.metrics import confusion_matrix

    present = set(truth) | set(pred)
    labels = [x for x in order if x in present] + sorted(present - set(order))
    if not labels:
        return ConfusionMatrix(labels=[], matrix=[])
    if len(labels) == 1:  # scikit-learn warns on a 1x1 matrix; it is simply the count
        return ConfusionMatrix(labels=labels, matrix=[[len(truth)]])
    m = confusion_matrix(truth, pred, labels=labels)
    return ConfusionMatrix(labels=labels, matrix=[[int(x) for x in row] for row in m])


class ReliabilityBin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lower: float
    upper: float
    count: int
    mean_confidence: float
    accuracy: float


class Calibration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int
    ece: float | None
    brier: float | None
    bins: list[ReliabilityBin] = Field(default_factory=list)


def calibration(right: Sequence[bool], confidence: Sequence[float], bins: int = DEFAULT_BINS) -> Calibration:
    """Reliability of the reported confidence: scikit-learn's curve (uniform bins, each (lo, hi], the
    first closed at 0) and Brier score, and ECE = sum over non-empty bins of
    (bin size / n) * |accuracy - mean confidence|."""
    import numpy as np
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    n = len(right)
    if n == 0:
        return Calibration(n=0, ece=None, brier=None)
    y = np.array([1 if r else 0 for r in right])
    conf = np.clip(np.array(confidence, dtype=float), 0.0, 1.0)
    accuracy, mean_conf = calibration_curve(y, conf, n_bins=bins, strategy="uniform", pos_label=1)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ids = np.searchsorted(edges[1:-1], conf)  # the curve's own binning, for the bins' sizes
    counts = np.bincount(ids, minlength=bins)
    filled = [i for i in range(bins) if counts[i]]
    out = [
        ReliabilityBin(
            lower=float(edges[i]),
            upper=float(edges[i + 1]),
            count=int(counts[i]),
            mean_confidence=float(mc),
            accuracy=float(acc),
        )
        for i, acc, mc in zip(filled, accuracy, mean_conf, strict=True)
    ]
    ece = sum(b.count / n * abs(b.accuracy - b.mean_confidence) for b in out)
    return Calibration(n=n, ece=float(ece), brier=float(brier_score_loss(y, conf, pos_label=1)), bins=out)


class GateQuality(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tickets: int = Field(description="labelled tickets with a gate decision")
    auto_replied: int
    auto_reply_wrong: int
    auto_reply_error_rate: float | None
    reviewed: int
    review_share: float | None
    p0_p1_labelled: int
    p0_p1_paged: int
    p0_p1_paged_recall: float | None
    recomputed: int = Field(0, description="decisions recomputed with default rules (none on record)")


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def gate_quality(
    items: Iterable[tuple[TicketOutcome, TicketLabels, GateDecision]], recomputed: int = 0
) -> GateQuality:
    n = auto = wrong = reviewed = p01 = paged = 0
    for outcome, labels, decision in items:
        n += 1
        if decision.route == "auto_reply":
            auto += 1
            wrong += gate_wrong(outcome.result, labels)
        else:
            reviewed += 1
        if labelled(labels, "priority") in PAGED_PRIORITIES:
            p01 += 1
            paged += decision.page_engineering
    return GateQuality(
        tickets=n,
        auto_replied=auto,
        auto_reply_wrong=wrong,
        auto_reply_error_rate=_rate(wrong, auto),
        reviewed=reviewed,
        review_share=_rate(reviewed, n),
        p0_p1_labelled=p01,
        p0_p1_paged=paged,
        p0_p1_paged_recall=_rate(paged, p01),
        recomputed=recomputed,
    )


# --- the evaluation of a set of outcomes ---


class Evaluation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: list[str]
    tickets: int
    labelled: int
    unlabelled: int
    unresolved_labelled: int
    fields: dict[str, FieldScore]
    by_rung: dict[str, dict[str, FieldScore]]
    by_final_model: dict[str, dict[str, FieldScore]]
    confusion: dict[str, ConfusionMatrix]
    calibration: Calibration
    gate: GateQuality

    def summary_json(self) -> dict[str, object]:
        """The `--json` shape of the issue (rates in 0..1; null where there is nothing to divide)."""
        return {
            "days": self.days,
            "tickets": self.tickets,
            "labelled": self.labelled,
            "unlabelled": self.unlabelled,
            "unresolved_labelled": self.unresolved_labelled,
            "fields": {
                f: {"accuracy": s.accuracy, "macro_f1": s.macro_f1, "n": s.n} for f, s in self.fields.items()
            },
            "calibration": {
                "ece": self.calibration.ece,
                "brier": self.calibration.brier,
                "n": self.calibration.n,
            },
            "gate": {
                "auto_replied": self.gate.auto_replied,
                "auto_reply_error_rate": self.gate.auto_reply_error_rate,
                "p0_p1_labelled": self.gate.p0_p1_labelled,
                "p0_p1_paged_recall": self.gate.p0_p1_paged_recall,
                "review_share": self.gate.review_share,
            },
        }


_ORDER = {
    "category": ["billing", "technical", "account", "shipping", "feature_request", "other"],
    "priority": ["P0", "P1", "P2", "P3"],
    "needs_human": ["false", "true"],
    "pii": ["false", "true"],
}


def _scores(pairs: dict[FieldName, tuple[list[str], list[str]]]) -> dict[str, FieldScore]:
    return {f: field_score(*pairs[f]) for f in FIELDS}


def _empty_pairs() -> dict[FieldName, tuple[list[str], list[str]]]:
    return {f: ([], []) for f in FIELDS}


def _add(
    pairs: dict[FieldName, tuple[list[str], list[str]]], labels: TicketLabels, result: TriageResult
) -> None:
    for f in FIELDS:
        pairs[f][0].append(labelled(labels, f))
        pairs[f][1].append(predicted(result, f))


def evaluate(
    outcomes: Iterable[TicketOutcome], rules: GateRules | None = None, bins: int = DEFAULT_BINS
) -> Evaluation:
    """Score the labelled tickets of `outcomes`. The gate is judged on the decision on record (what
    the run did); an outcome without one gets the live `decide` with `rules` (defaults if None)."""
    rules = rules or GateRules()
    days: set[str] = set()
    tickets = unlabelled = unresolved = recomputed = 0
    final = _empty_pairs()
    by_rung: dict[str, dict[FieldName, tuple[list[str], list[str]]]] = {}
    by_model: dict[str, dict[FieldName, tuple[list[str], list[str]]]] = {}
    right: list[bool] = []
    confidence: list[float] = []
    gated: list[tuple[TicketOutcome, TicketLabels, GateDecision]] = []
    for outcome in outcomes:
        tickets += 1
        days.add(outcome.day)
        labels = outcome.ticket.labels
        if labels is None:
            unlabelled += 1
            continue
        decision = outcome.gate
        if decision is None:
            decision = decide(outcome, rules)
            recomputed += 1
        gated.append((outcome, labels, decision))
        result = outcome.result
        if outcome.status is not OutcomeStatus.TRIAGED or result is None:
            unresolved += 1
            continue
        _add(final, labels, result)
        _add(by_model.setdefault(outcome.final_model or "?", _empty_pairs()), labels, result)
        for r in rung_answers(outcome).values():
            if r.answer is not None:
                _add(by_rung.setdefault(f"rung {r.rung} ({r.group})", _empty_pairs()), labels, r.answer)
        right.append(triage_right(result, labels))
        confidence.append(result.confidence)
    return Evaluation(
        days=sorted(days),
        tickets=tickets,
        labelled=tickets - unlabelled,
        unlabelled=unlabelled,
        unresolved_labelled=unresolved,
        fields=_scores(final),
        by_rung={k: _scores(v) for k, v in sorted(by_rung.items())},
        by_final_model={k: _scores(v) for k, v in sorted(by_model.items())},
        confusion={f: confusion(*final[f], order=_ORDER[f]) for f in FIELDS},
        calibration=calibration(right, confidence, bins),
        gate=gate_quality(gated, recomputed),
    )
