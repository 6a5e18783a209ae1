"""The run summary: what a day cost, where its tickets went, and a table a person reads at a glance."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from llm_operators.core.gate import reason_key
from llm_operators.core.models import CallStatus, OutcomeStatus, TicketOutcome


class ModelUsage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class GateSplit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auto_reply: int = 0
    manual_review: int = 0
    page_engineering: int = 0
    reasons: dict[str, int] = Field(default_factory=dict)


class TriageSummary(BaseModel):
    """Small enough for XCom and an asset event's extra; never holds ticket text."""

    model_config = ConfigDict(extra="forbid")

    day: str
    tickets: int = 0
    rejected_lines: int = 0
    triaged: int = 0
    unresolved: int = 0
    escalated: int = 0
    stopped_at_rung: dict[str, int] = Field(default_factory=dict)
    calls: int = 0
    cache_hits: int = 0
    invalid_answers: int = 0
    failed_calls: int = 0
    fallbacks: dict[str, int] = Field(default_factory=dict)
    budget_exhausted: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cache_savings_usd: float = 0.0
    by_model: dict[str, ModelUsage] = Field(default_factory=dict)
    by_rung: dict[str, ModelUsage] = Field(default_factory=dict)
    gate: GateSplit | None = None

    @property
    def escalation_rate(self) -> float:
        return self.escalated / self.tickets if self.tickets else 0.0

    @property
    def cache_hit_rate(self) -> float:
        return self.cache_hits / self.calls if self.calls else 0.0


def summarise(day: str, outcomes: Iterable[TicketOutcome], rejected_lines: int = 0) -> TriageSummary:
    s = TriageSummary(day=day, rejected_lines=rejected_lines)
    by_model: dict[str, ModelUsage] = defaultdict(ModelUsage)
    by_rung: dict[str, ModelUsage] = defaultdict(ModelUsage)
    stopped: Counter[str] = Counter()
    fallbacks: Counter[str] = Counter()
    for o in outcomes:
        s.tickets += 1
        if o.status is OutcomeStatus.TRIAGED:
            s.triaged += 1
            stopped[str(o.final_rung)] += 1
        else:
            s.unresolved += 1
            stopped["unresolved"] += 1
        s.escalated += o.escalated
        s.budget_exhausted += o.budget_exhausted
        for c in o.calls:
            s.calls += 1
            s.invalid_answers += c.status is CallStatus.INVALID
            s.failed_calls += c.status is CallStatus.ERROR
            if c.fallback_used:
                fallbacks[c.deployment or "unknown"] += 1
            for usage, key in ((by_model, c.deployment or c.model_group), (by_rung, str(c.rung))):
                u = usage[key]
                u.calls += 1
                u.prompt_tokens += c.prompt_tokens
                u.completion_tokens += c.completion_tokens
                if c.cache_hit:
                    u.cache_hits += 1
                else:
                    u.cost_usd += c.cost_usd
            s.prompt_tokens += c.prompt_tokens
            s.completion_tokens += c.completion_tokens
            if c.cache_hit:
                s.cache_hits += 1
                s.cache_savings_usd += c.cost_usd
            else:
                s.cost_usd += c.cost_usd
        if o.gate is not None:
            g = s.gate or GateSplit()
            s.gate = g
            if o.gate.route == "auto_reply":
                g.auto_reply += 1
            else:
                g.manual_review += 1
            g.page_engineering += o.gate.page_engineering
            for r in {reason_key(r) for r in o.gate.reasons}:
                g.reasons[r] = g.reasons.get(r, 0) + 1
    s.by_model, s.by_rung = dict(sorted(by_model.items())), dict(sorted(by_rung.items()))
    s.stopped_at_rung, s.fallbacks = dict(sorted(stopped.items())), dict(fallbacks)
    # sums of float prices carry binary noise (0.009285600000000001); no price has more digits
    s.cost_usd, s.cache_savings_usd = round_usd(s.cost_usd), round_usd(s.cache_savings_usd)
    for u in (*s.by_model.values(), *s.by_rung.values()):
        u.cost_usd = round_usd(u.cost_usd)
    return s


def round_usd(usd: float) -> float:
    """Ten decimals: below any per-token price, above the noise of summing floats."""
    return round(usd, 10)


def day_digest(summary: TriageSummary, **context: object) -> dict[str, object]:
    """The day's result as one flat-ish dict, day first: the report's XCom and the asset event's extra.

    Ordered for a person scanning the UI (the day, then where tickets went, then what it cost), and
    only what is known: the gate split appears once the gate has run.
    """
    g = summary.gate
    out: dict[str, object] = {"day": summary.day, "tickets": summary.tickets}
    if g is not None:
        out |= {
            "auto_reply": g.auto_reply,
            "manual_review": g.manual_review,
            "paged": g.page_engineering,
        }
    out |= {
        "escalated": summary.escalated,
        "escalation_rate": round(summary.escalation_rate, 3),
        "unresolved": summary.unresolved,
        "rejected_lines": summary.rejected_lines,
        "cost_usd": round(summary.cost_usd, 6),
        "tokens": {"in": summary.prompt_tokens, "out": summary.completion_tokens},
        "calls": summary.calls,
        "cache_hits": summary.cache_hits,
        "cache_savings_usd": round(summary.cache_savings_usd, 6),
        "stopped_at_rung": summary.stopped_at_rung,
        "by_rung": {k: _usage(u) for k, u in summary.by_rung.items()},
        "fallbacks": summary.fallbacks,
        "by_model": {k: _usage(u) for k, u in summary.by_model.items()},
    }
    if g is not None:
        out["review_reasons"] = dict(sorted(g.reasons.items(), key=lambda kv: -kv[1]))
    return out | context


def _usage(u: ModelUsage) -> dict[str, object]:
    return {
        "calls": u.calls,
        "cache_hits": u.cache_hits,
        "tokens": {"in": u.prompt_tokens, "out": u.completion_tokens},
        "cost_usd": round(u.cost_usd, 6),
    }


def _fmt_cost(usd: float) -> str:
    return f"${usd:.4f}"


def render_days_table(summaries: list[TriageSummary]) -> str:
    """Per-day and total lines; used by the task logs, the CLI and report.md.

    The auto/review/page columns appear only once some day has been through the gate: before it (the
    triage and merge logs) they would read as zeros that are not.
    """
    gated = any(s.gate is not None for s in summaries)
    gate_head = f"{'auto':>6}{'review':>8}{'page':>6}" if gated else ""
    header = (
        f"{'day':<12}{'tickets':>8}{gate_head}{'escal.':>8}{'unres.':>8}"
        f"{'tokens':>10}{'cost':>11}{'cache':>7}"
    )
    lines = [header, "-" * len(header)]
    total = TriageSummary(day="TOTAL", gate=GateSplit() if gated else None)

    def row(s: TriageSummary) -> str:
        if not gated:
            split = ""
        elif s.gate is None:
            split = f"{'-':>6}{'-':>8}{'-':>6}"
        else:
            split = f"{s.gate.auto_reply:>6}{s.gate.manual_review:>8}{s.gate.page_engineering:>6}"
        return (
            f"{s.day:<12}{s.tickets:>8}{split}{s.escalated:>8}{s.unresolved:>8}"
            f"{s.prompt_tokens + s.completion_tokens:>10}{_fmt_cost(s.cost_usd):>11}{s.cache_hit_rate:>7.0%}"
        )

    for s in summaries:
        lines.append(row(s))
        for f in (
            "tickets",
            "escalated",
            "unresolved",
            "prompt_tokens",
            "completion_tokens",
            "calls",
            "cache_hits",
        ):
            setattr(total, f, getattr(total, f) + getattr(s, f))
        total.cost_usd += s.cost_usd
        if total.gate is not None and s.gate is not None:
            total.gate.auto_reply += s.gate.auto_reply
            total.gate.manual_review += s.gate.manual_review
            total.gate.page_engineering += s.gate.page_engineering
    if len(summaries) > 1:
        lines.append("-" * len(header))
        lines.append(row(total))
    return "\n".join(lines)


def render_rungs_table(summary: TriageSummary) -> str:
    """Where the ladder spent the day: calls, tokens and cost per rung, and where tickets stopped."""
    header = f"{'rung':<12}{'stopped':>8}{'calls':>7}{'cached':>8}{'tokens':>10}{'cost':>11}"
    lines = [header, "-" * len(header)]
    for rung in sorted(set(summary.by_rung) | set(summary.stopped_at_rung)):
        u = summary.by_rung.get(rung, ModelUsage())
        lines.append(
            f"{rung:<12}{summary.stopped_at_rung.get(rung, 0):>8}{u.calls:>7}{u.cache_hits:>8}"
            f"{u.prompt_tokens + u.completion_tokens:>10}{_fmt_cost(u.cost_usd):>11}"
        )
    fallbacks = ", ".join(f"{k}: {v}" for k, v in summary.fallbacks.items()) or "none"
    lines.append(f"escalation rate {summary.escalation_rate:.0%}; fallbacks: {fallbacks}")
    return "\n".join(lines)


def render_models_table(summaries: list[TriageSummary]) -> str:
    merged: dict[str, ModelUsage] = defaultdict(ModelUsage)
    for s in summaries:
        for name, u in s.by_model.items():
            m = merged[name]
            m.calls += u.calls
            m.cache_hits += u.cache_hits
            m.prompt_tokens += u.prompt_tokens
            m.completion_tokens += u.completion_tokens
            m.cost_usd += u.cost_usd
    header = f"{'model':<28}{'calls':>7}{'cached':>8}{'tokens in':>11}{'tokens out':>12}{'cost':>11}"
    lines = [header, "-" * len(header)]
    for name, u in sorted(merged.items()):
        lines.append(
            f"{name:<28}{u.calls:>7}{u.cache_hits:>8}{u.prompt_tokens:>11}{u.completion_tokens:>12}"
            f"{_fmt_cost(u.cost_usd):>11}"
        )
    return "\n".join(lines)


def render_markdown(summary: TriageSummary, files: dict[str, str]) -> str:
    g = summary.gate or GateSplit()
    reasons = (
        "\n".join(f"| {r} | {n} |" for r, n in sorted(g.reasons.items(), key=lambda kv: -kv[1]))
        or "| - | 0 |"
    )
    rungs = ", ".join(f"rung {k}: {v}" for k, v in summary.stopped_at_rung.items()) or "-"
    fallbacks = ", ".join(f"{k}: {v}" for k, v in summary.fallbacks.items()) or "none"
    file_lines = "\n".join(f"- {name}: `{path}`" for name, path in files.items())
    return f"""# Ticket triage report, {summary.day}

| tickets | auto-reply | manual review | paged | escalated | unresolved | rejected lines |
|---:|---:|---:|---:|---:|---:|---:|
| {summary.tickets} | {g.auto_reply} | {g.manual_review} | {g.page_engineering} | {summary.escalated} \
| {summary.unresolved} | {summary.rejected_lines} |

**Cost** {_fmt_cost(summary.cost_usd)} for {summary.prompt_tokens + summary.completion_tokens} tokens \
in {summary.calls} calls; cache hits {summary.cache_hits} ({summary.cache_hit_rate:.0%}), \
saving {_fmt_cost(summary.cache_savings_usd)}. Escalation rate {summary.escalation_rate:.0%}; \
stopped at {rungs}. Fallbacks: {fallbacks}. Budget-limited tickets: {summary.budget_exhausted}.

## By model

```
{render_models_table([summary])}
```

## Why tickets went to review

| reason | tickets |
|---|---:|
{reasons}

## Files

{file_lines}
"""
