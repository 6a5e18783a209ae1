"""An evaluation as a Langfuse dataset run: labelled tickets as items, triage traces as run items,
one correctness score per field per ticket on the trace.

Items are upserted (id = ticket id, input redacted, expected output = the labels) and only new or
changed ones written; run items are sent with httpx because langfuse 5.0.4 has no client for them
outside `run_experiment`, and only the missing (item, trace) pairs are sent since the server mints a
new id for every POST; scores (`<field>_correct`, `triage_correct`) go through `ScoreSender` with ids
derived from trace and name, so a re-run replaces them. A ticket's trace is the triage run's
(`Tracing.trace_id` of dag id, run id, ticket id). The contract, with its sources, and what an
events-only Langfuse v4 does not store: docs/evaluation.md, "Langfuse dataset run". langfuse and
httpx are imported only when something is sent.
"""

from __future__ import annotations

import base64
import logging
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from llm_operators.core.models import TicketOutcome
from llm_operators.core.pii import redact
from llm_operators.llm.langfuse_client import LangfuseSettings
from llm_operators.llm.langfuse_scores import Score, ScoreSender

log = logging.getLogger(__name__)

DEFAULT_DATASET = "ticket-triage-labelled"
DEFAULT_DAG_ID = "ticket_triage"
FIELDS = ("category", "priority", "needs_human", "pii")
TRIAGE_CORRECT = "triage_correct"
SCORE_NAMES = (*(f"{f}_correct" for f in FIELDS), TRIAGE_CORRECT)
# review-outcome verdicts that say whether the triage was right; "escalated"/"spam" say nothing of it
REVIEW_VERDICTS = {"agreed": 1, "corrected": 0}
RUN_ITEMS_PATH = "/api/public/dataset-run-items"
PAGE_LIMIT = 100  # the public API's largest page (packages/shared/src/utils/zod.ts:43-46)
RETRIES = 3
TIMEOUT_S = 10.0


class LangfuseDatasetError(RuntimeError):
    """Langfuse refused part of the dataset run (a 4xx, or 5xx after retries): the message says which."""


class ItemBody(BaseModel):
    """One dataset item as sent; compared with the stored one to skip unchanged items."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=255)  # publicApiIdSchema, public-api/types/datasets.ts:204-207
    input: dict[str, Any]
    expected_output: dict[str, Any]
    metadata: dict[str, Any]


@dataclass(frozen=True)
class FieldScore:
    name: str
    value: int  # 1 right, 0 wrong
    comment: str


def load_item_tags(path: Any) -> dict[str, list[str]]:
    """`{ticket id: [tag, ...]}` (the golden set's tags.json), checked so a wrong file is named."""
    import json
    from pathlib import Path

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read item tags: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(v, list) and all(isinstance(t, str) for t in v) for v in data.values()
    ):
        raise ValueError(f"{path}: item tags must be a JSON object of ticket id -> list of strings")
    return {str(k): list(v) for k, v in data.items()}


def dataset_item(outcome: TicketOutcome, tags: Mapping[str, list[str]] | None = None) -> ItemBody | None:
    """The ticket as a dataset item; None when it has no labels (unlabelled tickets are skipped)."""
    ticket = outcome.ticket
    if ticket.labels is None:
        return None
    metadata: dict[str, Any] = {"day": outcome.day, "channel": ticket.channel}
    if tags and ticket.id in tags:
        metadata["tags"] = list(tags[ticket.id])
    return ItemBody(
        id=ticket.id,
        input={"subject": redact(ticket.subject), "body": redact(ticket.body)},
        expected_output=ticket.labels.model_dump(mode="json"),
        metadata=metadata,
    )


def field_scores(outcome: TicketOutcome) -> list[FieldScore]:
    """Right (1) or wrong (0) per labelled field, and `triage_correct`; [] for an unlabelled ticket.
    A ticket no rung answered is wrong on every field (it had to go to a human)."""
    labels = outcome.ticket.labels
    if labels is None:
        return []
    result = outcome.result
    if result is None:
        why = f"no answer ({outcome.error or outcome.status.value})"
        return [FieldScore(name, 0, why) for name in SCORE_NAMES]
    answers = {
        "category": result.category.value,
        "priority": result.priority.value,
        "needs_human": result.needs_human,
        "pii": result.pii_detected,
    }
    expected = labels.model_dump(mode="json")
    scores = [
        FieldScore(
            f"{name}_correct",
            int(answers[name] == expected[name]),
            f"expected {_show(expected[name])}, got {_show(answers[name])}",
        )
        for name in FIELDS
    ]
    right = answers["category"] == expected["category"] and answers["priority"] == expected["priority"]
    scores.append(FieldScore(TRIAGE_CORRECT, int(right), "category and priority both match the label"))
    return scores


def _show(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def default_run_name(outcomes: Iterable[TicketOutcome]) -> str:
    """`<prompt>@<version> | <final models>`: one run per prompt version and model set, so the
    runs compare across both in Langfuse's UI."""
    outcomes = list(outcomes)
    prompts = Counter(
        f"{o.prompt_name}@{o.prompt_version}" for o in outcomes if o.prompt_name and o.prompt_version
    )
    models = sorted({o.final_model for o in outcomes if o.final_model})
    prompt = prompts.most_common(1)[0][0] if prompts else "prompt-unknown"
    return f"{prompt} | {'+'.join(models) or 'no-model'}"


def review_score(trace_id: str, outcome: str, *, environment: str | None = None) -> Score | None:
    """`triage_correct` from a human review (agreed 1, corrected 0), next to the evaluation's score of
    the same name on the trace; None for verdicts that do not judge the triage (escalated, spam).
    Its own id, so a review never overwrites the label-based score nor the other way round."""
    value = REVIEW_VERDICTS.get(outcome)
    if value is None:
        return None
    return Score(
        id=f"{trace_id}-review-{TRIAGE_CORRECT}",
        traceId=trace_id,
        name=TRIAGE_CORRECT,
        value=value,
        dataType="BOOLEAN",
        comment=f"review: {outcome}",
        metadata={"source": "review-outcome"},
        environment=environment,
    )


@dataclass(frozen=True)
class DatasetRunSpec:
    dataset: str = DEFAULT_DATASET
    run_name: str | None = None  # None: default_run_name
    dag_id: str = DEFAULT_DAG_ID  # the triage DAG whose traces the run items link
    run_id: str | None = None  # overrides the run id of every day's summary.json
    tags: Mapping[str, list[str]] = field(default_factory=dict)  # ticket id -> tags (item metadata)


@dataclass
class DatasetRunReport:
    dataset: str
    run_name: str
    items_created: int = 0
    items_updated: int = 0
    items_unchanged: int = 0
    run_items_linked: int = 0
    run_items_existing: int = 0
    run_items_stored: bool = True  # False: an events-only Langfuse v4 keeps no run items
    scores_sent: int = 0
    scores_rejected: int = 0
    unlabelled: int = 0
    untraced: list[str] = field(default_factory=list)  # labelled tickets whose run is unknown

    def summary(self) -> str:
        lines = [
            f"Langfuse dataset {self.dataset!r}, run {self.run_name!r}: items {self.items_created} created, "
            f"{self.items_updated} updated, {self.items_unchanged} unchanged; run items "
            f"{self.run_items_linked} linked, {self.run_items_existing} already linked; scores "
            f"{self.scores_sent} sent, {self.scores_rejected} rejected; {self.unlabelled} unlabelled skipped"
        ]
        if not self.run_items_stored:
            lines.append(
                "this Langfuse runs v4 events-only mode and stores no dataset run items: the scores are "
                "on the traces, the items are in the dataset, the run view stays empty"
            )
        if self.untraced:
            lines.append(
                f"{len(self.untraced)} labelled ticket(s) with no traced run (no run_id in the day's "
                f"summary.json, e.g. an every-rung evaluation triage): items only, no run item, no score"
            )
        return "\n".join(lines)


def publish_dataset_run(
    settings: LangfuseSettings,
    spec: DatasetRunSpec,
    outcomes: Iterable[TicketOutcome],
    run_ids: Mapping[str, str | None],
) -> DatasetRunReport:
    """Upserts the dataset and its items, links each labelled ticket's trace as a run item, scores it.
    `run_ids` maps a day to the triage run that wrote it (None: untraced). Idempotent."""
    from llm_operators.llm.langfuse_client import langfuse_client
    from llm_operators.llm.tracing import Tracing

    outcomes = list(outcomes)
    labelled = [o for o in outcomes if o.ticket.labels is not None]
    report = DatasetRunReport(
        dataset=spec.dataset,
        run_name=spec.run_name or default_run_name(labelled),
        unlabelled=len(outcomes) - len(labelled),
    )
    client = langfuse_client(settings)
    dataset = _call(
        lambda: client.create_dataset(name=spec.dataset, description=_DESCRIPTION), "create dataset"
    )
    stored = {item.id: item for item in _call(lambda: client.get_dataset(spec.dataset).items, "read dataset")}
    for outcome in labelled:
        body = dataset_item(outcome, spec.tags)
        assert body is not None
        known = stored.get(body.id)
        if known is not None and _same(known, body):
            report.items_unchanged += 1
            continue
        _call(
            lambda b=body: client.create_dataset_item(
                dataset_name=spec.dataset,
                id=b.id,
                input=b.input,
                expected_output=b.expected_output,
                metadata=b.metadata,
            ),
            f"upsert item {body.id}",
        )
        if known is None:
            report.items_created += 1
        else:
            report.items_updated += 1

    tracers: dict[str, Tracing] = {}
    traced: list[tuple[TicketOutcome, str]] = []
    for outcome in labelled:
        run_id = spec.run_id or run_ids.get(outcome.day)
        if not run_id:
            report.untraced.append(outcome.ticket_id)
            continue
        tracing = tracers.setdefault(run_id, Tracing(None, run_id=run_id, dag_id=spec.dag_id, day=""))
        traced.append((outcome, tracing.trace_id(outcome.ticket_id)))

    with _RunItems(settings) as run_items:
        existing = run_items.existing(dataset.id, report.run_name)
        report.run_items_stored = existing is not None
        for outcome, trace_id in traced:
            if existing is not None and (outcome.ticket_id, trace_id) in existing:
                report.run_items_existing += 1
                continue
            run_items.create(
                run_name=report.run_name,
                item_id=outcome.ticket_id,
                trace_id=trace_id,
                metadata={"dag_id": spec.dag_id, "day": outcome.day},
            )
            report.run_items_linked += 1

    sender = ScoreSender(settings)
    try:
        for outcome, trace_id in traced:
            for score in field_scores(outcome):
                sender.add(
                    Score(
                        id=f"{trace_id}-{score.name}",
                        traceId=trace_id,
                        name=score.name,
                        value=score.value,
                        dataType="BOOLEAN",
                        comment=score.comment,
                        metadata={"dataset": spec.dataset, "run_name": report.run_name, "day": outcome.day},
                        environment=settings.environment,
                    )
                )
    finally:
        sender.close()
    report.scores_sent, report.scores_rejected = sender.sent, sender.rejected
    return report


_DESCRIPTION = (
    "Labelled support tickets (input redacted, expected output = labels); runs = evaluations of "
    "ticket_triage, scored per field (llm_operators evaluate)"
)


def _same(stored: Any, body: ItemBody) -> bool:
    return (
        stored.input == body.input
        and stored.expected_output == body.expected_output
        and stored.metadata == body.metadata
        and str(getattr(stored, "status", "ACTIVE")).upper().endswith("ACTIVE")
    )


def _call(fn: Any, what: str) -> Any:
    """An SDK call; its errors become one LangfuseDatasetError naming the step and the server's answer."""
    try:
        return fn()
    except Exception as exc:
        status = getattr(exc, "status_code", None)
        body = getattr(exc, "body", None)
        detail = body.get("message") if isinstance(body, dict) else (body or exc)
        raise LangfuseDatasetError(f"Langfuse {what}: {status or type(exc).__name__} {detail}") from None


class _RunItems:
    """``/api/public/dataset-run-items`` over httpx (see the module doc for why not the SDK)."""

    def __init__(self, settings: LangfuseSettings) -> None:
        import httpx

        token = f"{settings.public_key}:{settings.secret_key.get_secret_value()}"
        self._http = httpx.Client(
            base_url=settings.host,
            headers={"Authorization": "Basic " + base64.b64encode(token.encode()).decode()},
            timeout=TIMEOUT_S,
        )

    def __enter__(self) -> _RunItems:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def existing(self, dataset_id: str, run_name: str) -> set[tuple[str, str]] | None:
        """(item id, trace id) already in the run; empty for a new run; None when the server keeps
        no run items (v4 events-only: the listing is a 404 with a message saying so)."""
        pairs: set[tuple[str, str]] = set()
        page = 1
        while True:
            response = self._request(
                "GET",
                RUN_ITEMS_PATH,
                params={"datasetId": dataset_id, "runName": run_name, "page": page, "limit": PAGE_LIMIT},
                allow_404=True,
            )
            if response.status_code == 404:
                message = str(_json(response).get("message", ""))
                if "events_only" in message:  # createAuthedProjectAPIRoute.ts:324-336
                    return None
                return pairs  # "Dataset run not found": the run starts with this evaluation
            data = _json(response)
            pairs.update((row["datasetItemId"], row["traceId"]) for row in data.get("data", []))
            if page >= int(data.get("meta", {}).get("totalPages", 1)):
                return pairs
            page += 1

    def create(self, *, run_name: str, item_id: str, trace_id: str, metadata: dict[str, Any]) -> None:
        self._request(
            "POST",
            RUN_ITEMS_PATH,
            json={
                "runName": run_name,
                "datasetItemId": item_id,
                "traceId": trace_id,
                "metadata": metadata,
                "createdAt": datetime.now(UTC).isoformat(),
            },
        )

    def _request(self, method: str, path: str, *, allow_404: bool = False, **kwargs: Any) -> Any:
        import httpx

        problem = ""
        for attempt in range(RETRIES):
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            else:
                if response.status_code < 300 or (allow_404 and response.status_code == 404):
                    return response
                problem = f"HTTP {response.status_code} {str(_json(response).get('message', ''))[:300]}"
                if response.status_code < 500 and response.status_code != 429:
                    break  # our request is wrong: it cannot succeed later
            if attempt + 1 < RETRIES:
                time.sleep(0.5 * 2**attempt)
        raise LangfuseDatasetError(f"Langfuse {method} {path}: {problem}")


def _json(response: Any) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
