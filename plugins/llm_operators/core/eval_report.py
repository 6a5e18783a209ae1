"""The evaluation as a person reads it: tables (text and markdown) and PNGs linked from report.md.

matplotlib is imported inside `write_report` with the Agg backend (files only, no display), so
importing this module (the CLI, the operator) costs nothing until a report is drawn.
"""

from __future__ import annotations

import json
from pathlib import Path

from llm_operators.core.evaluation import FIELDS, ConfusionMatrix, Evaluation, FieldScore
from llm_operators.core.replay import GridPoint, Replay, frontier


def _f(x: float | None, pct: bool = True) -> str:
    if x is None:
        return "n/a"
    return f"{x:.1%}" if pct else f"{x:.3f}"


def fields_table(scores: dict[str, FieldScore]) -> list[str]:
    rows = ["| field | n | accuracy | macro-F1 |", "|---|---:|---:|---:|"]
    rows += [f"| {f} | {s.n} | {_f(s.accuracy)} | {_f(s.macro_f1, False)} |" for f, s in scores.items()]
    return rows


def _grouped_table(title: str, groups: dict[str, dict[str, FieldScore]]) -> list[str]:
    head = f"| {title} | n | " + " | ".join(f"{f} acc / F1" for f in FIELDS) + " |"
    rows = [head, "|---|---:|" + "---:|" * len(FIELDS)]
    for name, scores in groups.items():
        n = scores["category"].n
        cells = " | ".join(f"{_f(scores[f].accuracy)} / {_f(scores[f].macro_f1, False)}" for f in FIELDS)
        rows.append(f"| {name} | {n} | {cells} |")
    return rows


def grid_table(points: list[GridPoint]) -> list[str]:
    rows = [
        "| escalate_below | min_confidence | coverage | $ / 1,000 | accuracy | auto-reply | auto-reply error "
        "| P0/P1 recall |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        rows.append(
            f"| {p.escalate_below:g} | {p.min_confidence:g} | {p.coverage:.0%} | {p.cost_per_1000:.4f} "
            f"| {_f(p.accuracy)} | {_f(p.auto_reply_share)} | {_f(p.auto_reply_error_rate)} "
            f"| {_f(p.p0_p1_recall)} |"
        )
    return rows


def render_text(ev: Evaluation, replay: Replay | None) -> str:
    """What the CLI prints."""
    g, c = ev.gate, ev.calibration
    lines = [
        f"Evaluation of {len(ev.days)} day(s): {ev.tickets} tickets, {ev.labelled} labelled, "
        f"{ev.unlabelled} unlabelled (skipped), {ev.unresolved_labelled} labelled but unresolved",
        "",
        *fields_table(ev.fields),
        "",
        f"calibration of the confidence (category and priority right): ECE {_f(c.ece, False)}, "
        f"Brier {_f(c.brier, False)} over {c.n} tickets",
        f"gate: {g.auto_replied} auto-replied, of which wrong {_f(g.auto_reply_error_rate)}; "
        f"review share {_f(g.review_share)}; P0/P1 paged {g.p0_p1_paged}/{g.p0_p1_labelled} "
        f"(recall {_f(g.p0_p1_paged_recall)})",
    ]
    if replay is not None:
        lines += [
            "",
            "Threshold replay (0 new LLM calls): the points nothing beats on cost, auto-reply error, "
            "P0/P1 recall and auto-reply share",
            *grid_table(frontier(replay.grid)),
            "",
        ]
        lines.append(replay.recommendation.message)
        if replay.recommendation.settings:
            lines += ["", "Settings to paste:", replay.recommendation.settings]
    return "\n".join(lines)


def write_report(out: Path, ev: Evaluation, replay: Replay | None) -> Path:
    """report.md, evaluation.json and the PNGs under `out`; returns the report's path."""
    out.mkdir(parents=True, exist_ok=True)
    pngs = _plots(out, ev, replay)
    (out / "evaluation.json").write_text(
        json.dumps(
            {
                "summary": ev.summary_json(),
                "evaluation": ev.model_dump(mode="json"),
                "replay": replay.model_dump(mode="json") if replay else None,
            },
            indent=2,
        )
    )
    g, c = ev.gate, ev.calibration
    md = [
        f"# Triage evaluation: {ev.days[0]} to {ev.days[-1]}" if ev.days else "# Triage evaluation",
        "",
        f"{ev.tickets} tickets, **{ev.labelled} labelled**, "
        f"{ev.unlabelled} unlabelled (counted and skipped), "
        f"{ev.unresolved_labelled} labelled but unresolved (in the gate's figures only). Definitions: "
        "docs/evaluation.md.",
        "",
        "## Final answer per field",
        "",
        *fields_table(ev.fields),
        "",
        "## Per rung (every answer a rung gave) and per final model",
        "",
        *_grouped_table("rung", ev.by_rung),
        "",
        *_grouped_table("final model", ev.by_final_model),
        "",
        "## Confusion matrices",
        "",
        *[f"![{f}]({pngs[f'confusion_{f}']})" for f in FIELDS if f"confusion_{f}" in pngs],
        "",
        "## Calibration of the reported confidence",
        "",
        "Right = category and priority both right. "
        f"ECE **{_f(c.ece, False)}**, Brier **{_f(c.brier, False)}** "
        f"over {c.n} tickets.",
        "",
        "| confidence bin | tickets | mean confidence | share right |",
        "|---|---:|---:|---:|",
        *[
            f"| ({b.lower:.1f}, {b.upper:.1f}] | {b.count} | {b.mean_confidence:.2f} | {b.accuracy:.1%} |"
            for b in c.bins
        ],
        "",
        f"![reliability]({pngs['reliability']})" if "reliability" in pngs else "",
        "",
        "## The gate",
        "",
        "| auto-replied | of which wrong | review share | P0/P1 labelled | paged | P0/P1 recall |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {g.auto_replied} | {g.auto_reply_wrong} ({_f(g.auto_reply_error_rate)}) | {_f(g.review_share)} "
        f"| {g.p0_p1_labelled} | {g.p0_p1_paged} | {_f(g.p0_p1_paged_recall)} |",
    ]
    if g.recomputed:
        md += ["", f"{g.recomputed} outcomes had no gate decision on record: decided now with default rules."]
    if replay is not None:
        md += [
            "",
            "## Thresholds from data (replay, 0 new LLM calls)",
            "",
            f"{replay.tickets} tickets, ladder of {replay.ladder_size} rung(s), "
            "every rung's answer on record "
            f"for {replay.answers_recorded}. Points a run did not ask enough rungs for have coverage < 100 % "
            "and are never recommended.",
            "",
            f"**{replay.recommendation.message}**",
            "",
        ]
        if replay.recommendation.settings:
            md += ["```", replay.recommendation.settings, "```", ""]
        if "frontier" in pngs:
            md += [f"![cost/quality frontier]({pngs['frontier']})", ""]
        md += [
            "The frontier (points nothing beats on cost, auto-reply error, P0/P1 recall and auto-reply "
            "share at once); every point is in evaluation.json:",
            "",
            *grid_table(frontier(replay.grid)),
        ]
    path = out / "report.md"
    path.write_text("\n".join(md) + "\n")
    return path


def _plots(out: Path, ev: Evaluation, replay: Replay | None) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files: dict[str, str] = {}
    for f in FIELDS:
        cm = ev.confusion[f]
        if cm.labels:
            name = f"confusion_{f}.png"
            _confusion_png(plt, cm, f, out / name)
            files[f"confusion_{f}"] = name
    if ev.calibration.bins:
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.plot([0, 1], [0, 1], "--", color="grey", label="perfectly calibrated")
        xs = [b.mean_confidence for b in ev.calibration.bins]
        ys = [b.accuracy for b in ev.calibration.bins]
        ax.plot(xs, ys, "o-", label=f"triage (ECE {ev.calibration.ece:.3f})")
        for b in ev.calibration.bins:
            ax.annotate(
                str(b.count), (b.mean_confidence, b.accuracy), textcoords="offset points", xytext=(4, -10)
            )
        ax.set(
            xlim=(0, 1),
            ylim=(0, 1.02),
            xlabel="reported confidence",
            ylabel="share right (category+priority)",
        )
        ax.set_title("Reliability of the confidence")
        ax.legend(loc="upper left")
        fig.tight_layout()
        fig.savefig(out / "reliability.png", dpi=110)
        plt.close(fig)
        files["reliability"] = "reliability.png"
    if replay is not None:
        # a point that auto-replies to no labelled ticket has no error rate: not drawn as 0 %
        points = [p for p in replay.grid if p.coverage >= 1.0 and p.auto_reply_error_rate is not None]
        if points:
            fig, ax = plt.subplots(figsize=(7, 5))
            sc = ax.scatter(
                [p.cost_per_1000 for p in points],
                [(p.auto_reply_error_rate or 0.0) * 100 for p in points],
                c=[(p.auto_reply_share or 0.0) * 100 for p in points],
                cmap="viridis",
            )
            fig.colorbar(sc, label="auto-reply share (%)")
            best = replay.recommendation.point
            if best is not None:
                ax.scatter(
                    [best.cost_per_1000],
                    [(best.auto_reply_error_rate or 0.0) * 100],
                    marker="*",
                    s=300,
                    color="red",
                    label=f"recommended e={best.escalate_below:g} m={best.min_confidence:g}",
                )
                ax.legend()
            ax.set(xlabel="$ per 1,000 tickets", ylabel="auto-reply error (%)")
            ax.set_title("Cost / quality of each threshold pair (replayed)")
            fig.tight_layout()
            fig.savefig(out / "frontier.png", dpi=110)
            plt.close(fig)
            files["frontier"] = "frontier.png"
    return files


def _confusion_png(plt: object, cm: ConfusionMatrix, field: str, path: Path) -> None:
    n = len(cm.labels)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * n, 1.0 + 0.8 * n))  # type: ignore[attr-defined]
    ax.imshow(cm.matrix, cmap="Blues")
    ax.set_xticks(range(n), cm.labels, rotation=45, ha="right")
    ax.set_yticks(range(n), cm.labels)
    peak = max((max(r) for r in cm.matrix), default=0)
    for i, row in enumerate(cm.matrix):
        for j, v in enumerate(row):
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > peak / 2 else "black")
    ax.set(xlabel="model", ylabel="label", title=field)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)  # type: ignore[attr-defined]
