"""What the live and the provider-batch triage operators share: their arguments, the day window a
task works on, and how its choices and prompt become a ladder policy, so both build the same policy,
fingerprint and answer-cache namespace from the same arguments."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException

from llm_operators.core.batches import BatchSpec, batch_outputs
from llm_operators.core.config import ConfigError, LiteLLMSettings
from llm_operators.core.day_source import TicketSource
from llm_operators.core.ladder import LadderPolicy
from llm_operators.core.models import ReplyMode
from llm_operators.core.outputs import DayOutputs
from llm_operators.core.prompts import prompt_version
from llm_operators.core.reply_templates import Catalogue
from llm_operators.core.spotlight import DEFAULT_MODE, SpotlightMode
from llm_operators.core.triage_policy import TriageChoices, ladder_policy
from llm_operators.hooks.litellm import LiteLLMHook
from llm_operators.operators.sources import open_ticket_source
from llm_operators.operators.storage import day_outputs, run_day_for

if TYPE_CHECKING:
    from llm_operators.llm.prompt_source import ResolvedPrompt

H = TypeVar("H", bound=LiteLLMHook)

# What an asset event carries: the per-day totals, visible in the UI without opening a file.
ASSET_EXTRA_KEYS = (
    "day",
    "tickets",
    "escalated",
    "unresolved",
    "calls",
    "cache_hits",
    "cost_usd",
    "cache_savings_usd",
    "by_model",
    "output_dir",
)

TRIAGE_TEMPLATE_FIELDS: tuple[str, ...] = (
    "source_root",
    "output_root",
    "run_date",
    "max_tickets",
    "escalate_below",
    "max_cost_usd",
    "batch",
    "ticket_source",
    "jira_project",
    "reply_mode",
    "judge_group",
    "reply_templates",
)


@dataclass(frozen=True)
class TriageWindow:
    """The tickets a task triages: a whole day, or one mapped batch (`spec`) of it."""

    spec: BatchSpec | None
    day: date
    outputs: DayOutputs


class TriageTaskBase(BaseOperator):
    """The arguments both triage operators take; subclasses add what only their mode uses."""

    template_fields: Sequence[str] = TRIAGE_TEMPLATE_FIELDS
    # task arguments that beat the connection's settings when set
    settings_override_fields: tuple[str, ...] = ("escalate_below", "max_cost_usd")

    def __init__(
        self,
        *,
        source_root: str,
        output_root: str,
        run_date: str | None = None,
        batch: dict[str, Any] | None = None,
        max_tickets: int | None = None,
        escalate_below: float | None = None,
        max_cost_usd: float | None = None,
        litellm_conn_id: str = LiteLLMHook.default_conn_name,
        redis_conn_id: str | None = "redis_default",
        langfuse_conn_id: str | None = "langfuse_default",
        ticket_source: str = "files",
        jira_conn_id: str | None = "jira_default",
        jira_project: str = "HELP",
        reply_mode: ReplyMode = "template",
        judge_group: str | None = None,
        reply_templates: str | None = None,
        spotlight: SpotlightMode = DEFAULT_MODE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_root = source_root
        self.output_root = output_root
        self.run_date = run_date
        self.batch = batch
        self.max_tickets = max_tickets
        self.escalate_below = escalate_below
        self.max_cost_usd = max_cost_usd
        self.litellm_conn_id = litellm_conn_id
        self.redis_conn_id = redis_conn_id
        self.langfuse_conn_id = langfuse_conn_id
        self.ticket_source = ticket_source
        self.jira_conn_id = jira_conn_id
        self.jira_project = jira_project
        self.reply_mode = reply_mode
        self.judge_group = judge_group
        self.reply_templates = reply_templates
        self.spotlight = spotlight

    def _overrides(self) -> dict[str, Any]:
        """Task arguments/params beat the connection's defaults; None means 'not set here'."""
        pairs = {name: getattr(self, name) for name in self.settings_override_fields}
        return {k: v for k, v in pairs.items() if v is not None}

    def _window(self, context: Context) -> TriageWindow:
        spec = BatchSpec.model_validate(self.batch) if self.batch else None
        day = date.fromisoformat(spec.day) if spec else run_day_for(self.run_date, context, self.log).day
        outputs = day_outputs(self.output_root, day.isoformat())
        if spec:
            outputs = batch_outputs(outputs, spec.index)
        return TriageWindow(spec=spec, day=day, outputs=outputs)

    def _choices(self) -> tuple[TriageChoices, Catalogue]:
        """The task's reply mode, judge, templates and spotlighting, and the catalogue they select."""
        with failing_at_once():
            choices = TriageChoices.parse(
                f"task {self.task_id!r}",
                reply_mode=self.reply_mode,
                judge_group=self.judge_group,
                spotlight=self.spotlight,
                reply_templates=self.reply_templates,
            )
            return choices, choices.catalogue()

    def _policy(
        self,
        settings: LiteLLMSettings,
        choices: TriageChoices,
        catalogue: Catalogue,
        prompt: ResolvedPrompt,
    ) -> LadderPolicy:
        with failing_at_once():
            return ladder_policy(
                settings,
                choices,
                catalogue=catalogue,
                rules=prompt.text,
                prompt_name=prompt.name,
                prompt_version=prompt.version_tag,
                where=f"task {self.task_id!r}",
            )

    def _hook(self, hook_class: type[H], catalogue: Catalogue, prompt: ResolvedPrompt) -> H:
        return hook_class(
            self.litellm_conn_id,
            redis_conn_id=self.redis_conn_id,
            settings_overrides=self._overrides(),
            # what the models are shown: the answer cache's namespace, so a new prompt or catalogue
            # is never served answers made for the old one (live and batch share it)
            prompt_version=prompt_version(catalogue, rules=prompt.text),
        )

    def _source(self) -> TicketSource:
        return open_ticket_source(self.ticket_source, self.source_root, self.jira_conn_id, self.jira_project)

    def _publish(self, context: Context, payload: dict[str, Any]) -> None:
        """The day's totals on every outlet's asset event."""
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = {k: payload[k] for k in ASSET_EXTRA_KEYS if k in payload}


def run_id_of(context: Context) -> str:
    return getattr(context.get("dag_run"), "run_id", None) or "manual"


@contextmanager
def failing_at_once() -> Iterator[None]:
    """A wrong task argument fails the task without retries: no retry can fix it."""
    try:
        yield
    except ConfigError as exc:
        raise AirflowFailException(str(exc)) from None
