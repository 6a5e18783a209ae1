"""Provider batch jobs through LiteLLM's files and batches API (`acreate_file`, `acreate_batch`,
`aretrieve_batch`, `afile_content`, `acancel_batch`).

One batch asks one model group, on one deployment: OpenAI takes one model per input file. A group's
deployments are tried in `model_list` order, then those of its `router_settings.fallbacks` groups,
until one accepts the upload and the batch; the `BatchRef` says which took it (and what failed
before), and is all a later process needs to find the batch again (no secret in it: keys are looked
up from the connection each time). Only providers LiteLLM can batch on are tried (openai, azure,
vertex_ai, bedrock, hosted_vllm, litellm_proxy): an offline or Anthropic deployment is skipped.

Every batch is tagged with metadata that names it: the caller's (run, task, day, round), the model
group, the deployment that took it and a digest of its sorted `custom_id`s. `find` lists a group's
endpoints (`alist_batches`, newest first, paging with `after`) for a batch with exactly that identity,
so a task that may have created a batch without recording it can adopt it instead of paying twice.

Cost per line is at the batch price: LiteLLM's `batch_cost_calculator` where LiteLLM (or the
deployment) knows a batch price, else the deployment's live price times the connection's discount.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from llm_operators.core.config import LiteLLMSettings
from llm_operators.llm.environment import import_litellm
from llm_operators.llm.router_client import build_model_list, fallback_chains, quiet_litellm

BATCH_PROVIDERS = frozenset({"openai", "azure", "vertex_ai", "bedrock", "hosted_vllm", "litellm_proxy"})
CHAT_ENDPOINT = "/v1/chat/completions"
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
# a batch in one of these has nothing more to give: an earlier try's batch in it is not adopted
UNUSABLE = frozenset({"failed", "expired", "cancelling", "cancelled"})
# Where a batch can be found again by its metadata: LiteLLM 1.106.2 lists batches for these
# (`ListBatchesSupportedProvider`, litellm/types/utils.py; not bedrock) and sends them the metadata;
# vertex_ai is listed too, but its create drops the metadata (vertex_ai/batches/transformation.py).
LOOKUP_PROVIDERS = frozenset({"openai", "azure", "hosted_vllm", "litellm_proxy"})
# OpenAI API reference, "Create batch", `metadata`: "Set of 16 key-value pairs ... Keys are strings with a
# maximum length of 64 characters. Values are strings with a maximum length of 512 characters."
METADATA_PAIRS, METADATA_KEY_CHARS, METADATA_VALUE_CHARS = 16, 64, 512
# OpenAI API reference, "List batch", `limit`: "can range between 1 and 100, and the default is 20"
LIST_PAGE_MAX = 100
# litellm_params passed on to the files/batches calls (how to reach and authenticate, nothing else)
_CLIENT_KEYS = ("api_base", "api_key", "api_version", "organization", "timeout")
_CLIENT_PREFIXES = ("aws_", "vertex_")


class BatchCreateError(RuntimeError):
    """No deployment of the group (or its fallbacks) accepted the batch."""


class BatchLine(BaseModel):
    """One request of a batch: its id (the round's request key) and the chat body minus the model."""

    custom_id: str = Field(min_length=1, max_length=64)
    messages: list[dict[str, Any]]
    response_format: dict[str, Any] | None = None


class BatchRef(BaseModel):
    """What finds a submitted batch again, persisted before the task defers."""

    batch_id: str
    input_file_id: str
    group: str  # the model group asked
    answered_group: str  # the group whose deployment took the batch (a fallback group, or the same)
    deployment_index: int  # position in model_list: where the key and price come from
    deployment: str  # litellm model, e.g. "openai/gpt-4o-mini"
    provider: str
    api_base: str | None = None
    lines: int
    submitted_at: float
    tried: list[str] = Field(default_factory=list)  # "<deployment>: <error>" of those that refused
    adopted: bool = False  # found at the provider (created by an earlier try), not created by this one


class BatchLookup(BaseModel):
    """What `find` found, and what it could not check (the caller logs it: a batch an unchecked
    endpoint holds is not seen, and creating again pays that round twice)."""

    ref: BatchRef | None = None
    listed: list[str] = Field(default_factory=list)  # endpoints listed, as "<provider> <api_base>"
    seen: int = 0  # batches read
    pages: int = 0
    skipped: list[str] = Field(default_factory=list)  # "<batch id> <status>" of matches not adopted
    problems: list[str] = Field(default_factory=list)


class BatchPoll(BaseModel):
    status: str
    output_file_id: str | None = None
    error_file_id: str | None = None
    completed: int = 0
    failed: int = 0
    total: int = 0

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


class LineResult(BaseModel):
    """One line's answer, or why it has none (the caller decides: next round or live)."""

    custom_id: str
    content: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class _Target:
    index: int
    group: str
    model: str
    provider: str
    provider_model: str
    params: dict[str, Any]

    @property
    def client_kwargs(self) -> dict[str, Any]:
        out = {k: v for k, v in self.params.items() if k in _CLIENT_KEYS or k.startswith(_CLIENT_PREFIXES)}
        out["max_retries"] = 0  # a refused batch goes to the next deployment, not to a hidden retry
        return out

    @property
    def endpoint(self) -> str:
        """Where the batches are (for logs: no key in it)."""
        return f"{self.provider} {self.params.get('api_base') or '(default base)'}"

    @property
    def account(self) -> str:
        """Deployments with the same account see the same batches: listed once."""
        kwargs = {k: v for k, v in self.client_kwargs.items() if k not in ("timeout", "max_retries")}
        return json.dumps([self.provider, kwargs], sort_keys=True, default=str)


class BatchClient:
    def __init__(
        self,
        settings: LiteLLMSettings,
        *,
        api_key: str | None = None,
        api_base: str | None = None,
        discount: float = 0.5,
        completion_window: str = "24h",
        list_page_size: int = LIST_PAGE_MAX,
        list_max_pages: int = 20,
        list_timeout_s: float = 60.0,
    ) -> None:
        # litellm imported here, with its environment defaults, not when this module is imported
        self.litellm = import_litellm()
        quiet_litellm()
        self.settings = settings
        self.discount = discount
        self.completion_window = completion_window
        self.list_page_size = list_page_size
        self.list_max_pages = list_max_pages
        self.list_timeout_s = list_timeout_s  # a hung listing must not hold the worker for LiteLLM's 600 s
        self._model_list = build_model_list(settings, api_key, api_base)
        self._chains = fallback_chains(settings)

    # -- which deployment ------------------------------------------------------------------------
    def _target(self, index: int) -> _Target | None:
        entry = self._model_list[index]
        params = entry["litellm_params"]
        try:
            provider_model, provider, _, _ = self.litellm.get_llm_provider(
                params["model"], api_base=params.get("api_base")
            )
        except Exception:
            return None
        if provider not in BATCH_PROVIDERS:
            return None
        return _Target(index, entry["model_name"], params["model"], provider, provider_model, params)

    def targets(self, group: str) -> list[_Target]:
        """Deployments that may take a batch for `group`, in the order they are tried."""
        out = []
        for asked in self._chains.get(group, [group]):
            for index, entry in enumerate(self._model_list):
                if entry["model_name"] == asked and (target := self._target(index)) is not None:
                    out.append(target)
        return out

    def _ref_target(self, ref: BatchRef) -> _Target:
        target = self._target(ref.deployment_index)
        if target is None or target.model != ref.deployment:
            raise BatchCreateError(
                f"batch {ref.batch_id} was created on {ref.deployment}, which model_list no longer has at "
                f"position {ref.deployment_index}: the connection changed while the batch ran"
            )
        return target

    # -- the calls -------------------------------------------------------------------------------
    async def submit(
        self, group: str, lines: list[BatchLine], metadata: dict[str, str] | None = None
    ) -> BatchRef:
        """Upload and create the batch on the first deployment that takes it, tagged with `identity`."""
        targets = self.targets(group)
        if not targets:
            raise BatchCreateError(
                f"model group {group!r} has no deployment on a provider with a batch API "
                f"({', '.join(sorted(BATCH_PROVIDERS))})"
            )
        tags = identity(group, (line.custom_id for line in lines), metadata)
        tried: list[str] = []
        for target in targets:
            tagged = check_metadata({**tags, "deployment": target.model[:METADATA_VALUE_CHARS]})
            payload = "".join(
                json.dumps(
                    {
                        "custom_id": line.custom_id,
                        "method": "POST",
                        "url": CHAT_ENDPOINT,
                        "body": {
                            "model": target.provider_model,
                            "messages": line.messages,
                            **({"response_format": line.response_format} if line.response_format else {}),
                        },
                    },
                    separators=(",", ":"),
                )
                + "\n"
                for line in lines
            ).encode()
            kwargs = {"custom_llm_provider": target.provider, **target.client_kwargs}
            try:
                upload = await self.litellm.acreate_file(
                    file=(f"triage-{group}.jsonl", payload, "application/jsonl"), purpose="batch", **kwargs
                )
                batch = await self.litellm.acreate_batch(
                    completion_window=self.completion_window,
                    endpoint=CHAT_ENDPOINT,
                    input_file_id=upload.id,
                    metadata=tagged,
                    **kwargs,
                )
            except Exception as exc:
                tried.append(f"{target.model}: {_error_text(exc)}")
                continue
            return BatchRef(
                batch_id=batch.id,
                input_file_id=upload.id,
                group=group,
                answered_group=target.group,
                deployment_index=target.index,
                deployment=target.model,
                provider=target.provider,
                api_base=target.params.get("api_base"),
                lines=len(lines),
                submitted_at=time.time(),
                tried=tried,
            )
        raise BatchCreateError(f"no deployment of {group!r} took the batch: " + "; ".join(tried))

    async def find(
        self, group: str, custom_ids: list[str], metadata: dict[str, str] | None, *, since: float
    ) -> BatchLookup:
        """A batch `submit(group, lines with these custom_ids, metadata)` created at or after `since`
        (unix time) on any deployment it may have used, unless failed, expired or cancelled.

        Each account is listed newest first, page after page (`after` = the last id of the page, as
        the OpenAI reference says), until a batch older than `since`, the last page (`has_more`
        false) or `list_max_pages`. Listing errors are not raised: they are in `problems`.
        """
        want = identity(group, custom_ids, metadata)
        lookup = BatchLookup()
        accounts: dict[str, list[_Target]] = {}
        for target in self.targets(group):
            if target.provider in LOOKUP_PROVIDERS:
                accounts.setdefault(target.account, []).append(target)
            else:
                lookup.problems.append(
                    f"{target.model}: LiteLLM cannot find a {target.provider} batch by its metadata"
                )
        for targets in accounts.values():
            lookup.listed.append(targets[0].endpoint)
            try:
                lookup.ref = await self._scan(targets, want, len(custom_ids), since, lookup)
            except Exception as exc:
                lookup.problems.append(f"listing batches at {targets[0].endpoint} failed: {_error_text(exc)}")
                continue
            if lookup.ref is not None:
                break
        return lookup

    async def _scan(
        self, targets: list[_Target], want: dict[str, str], lines: int, since: float, lookup: BatchLookup
    ) -> BatchRef | None:
        first = targets[0]
        kwargs = first.client_kwargs
        kwargs["timeout"] = min(float(kwargs.get("timeout") or self.list_timeout_s), self.list_timeout_s)
        after: str | None = None
        seen: set[str] = set()
        for _ in range(self.list_max_pages):
            page = await self.litellm.alist_batches(
                after=after, limit=self.list_page_size, custom_llm_provider=first.provider, **kwargs
            )
            lookup.pages += 1
            data = [b for b in (_get(page, "data") or []) if _get(b, "id") not in seen]
            if not data:
                if _get(page, "data"):  # the same batches again: the provider ignored `after`
                    lookup.problems.append(f"{first.endpoint} ignored the `after` cursor: one page checked")
                return None
            older = False
            for batch in data:
                seen.add(_get(batch, "id"))
                lookup.seen += 1
                if (_get(batch, "created_at") or 0) < since:
                    older = True  # newest first: the rest of the list is older still
                    continue
                tags = _get(batch, "metadata") or {}
                if any(tags.get(k) != v for k, v in want.items()):
                    continue
                if _get(batch, "status") in UNUSABLE:
                    lookup.skipped.append(f"{_get(batch, 'id')} {_get(batch, 'status')}")
                    continue
                target = next((t for t in targets if t.model == tags.get("deployment")), first)
                return BatchRef(
                    batch_id=_get(batch, "id"),
                    input_file_id=_get(batch, "input_file_id"),
                    group=want["group"],
                    answered_group=target.group,
                    deployment_index=target.index,
                    deployment=target.model,
                    provider=target.provider,
                    api_base=target.params.get("api_base"),
                    lines=lines,
                    submitted_at=float(_get(batch, "created_at") or time.time()),
                    adopted=True,
                )
            if older or not _get(page, "has_more"):
                return None
            after = _get(data[-1], "id")
        lookup.problems.append(
            f"{first.endpoint}: stopped after {self.list_max_pages} pages of {self.list_page_size} batches"
        )
        return None

    async def poll(self, ref: BatchRef) -> BatchPoll:
        target = self._ref_target(ref)
        batch = await self.litellm.aretrieve_batch(
            batch_id=ref.batch_id, custom_llm_provider=target.provider, **target.client_kwargs
        )
        counts = batch.request_counts
        return BatchPoll(
            status=batch.status,
            output_file_id=batch.output_file_id,
            error_file_id=batch.error_file_id,
            completed=getattr(counts, "completed", 0) or 0,
            failed=getattr(counts, "failed", 0) or 0,
            total=getattr(counts, "total", 0) or 0,
        )

    async def cancel(self, ref: BatchRef) -> None:
        target = self._ref_target(ref)
        await self.litellm.acancel_batch(
            batch_id=ref.batch_id, custom_llm_provider=target.provider, **target.client_kwargs
        )

    async def results(self, ref: BatchRef, poll: BatchPoll, custom_ids: list[str]) -> dict[str, LineResult]:
        """Every asked line's result; a line in neither file (a cancelled or failed batch) is an error."""
        target = self._ref_target(ref)
        out: dict[str, LineResult] = {}
        for file_id in (poll.output_file_id, poll.error_file_id):
            if not file_id:
                continue
            content = await self.litellm.afile_content(
                file_id=file_id, custom_llm_provider=target.provider, **target.client_kwargs
            )
            for raw in content.content.decode("utf-8").splitlines():
                if raw.strip():
                    result = _line_result(json.loads(raw))
                    out[result.custom_id] = result
        for custom_id in custom_ids:
            out.setdefault(
                custom_id, LineResult(custom_id=custom_id, error=f"batch {poll.status}: no result")
            )
        return out

    # -- price -----------------------------------------------------------------------------------
    def line_cost(self, ref: BatchRef, prompt_tokens: int, completion_tokens: int) -> float:
        target = self._ref_target(ref)
        params = target.params
        from litellm.cost_calculator import batch_cost_calculator
        from litellm.types.utils import Usage

        usage = Usage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        )
        deployment_info = {k: v for k, v in params.items() if "cost_per_token" in k}
        global_info: dict[str, Any] = {}
        with contextlib.suppress(Exception):  # a model LiteLLM has no price for: the deployment's
            global_info = dict(self.litellm.get_model_info(model=target.model))
        info = {**global_info, **deployment_info}
        if (
            info.get("input_cost_per_token_batches") is not None
            or info.get("output_cost_per_token_batches") is not None
        ):
            prompt_cost, completion_cost = batch_cost_calculator(
                usage, target.model, custom_llm_provider=target.provider, model_info=info
            )
            return prompt_cost + completion_cost
        price_in = info.get("input_cost_per_token") or 0.0
        price_out = info.get("output_cost_per_token") or 0.0
        return (prompt_tokens * price_in + completion_tokens * price_out) * self.discount


def _line_result(entry: dict[str, Any]) -> LineResult:
    custom_id = str(entry.get("custom_id"))
    response = entry.get("response") or {}
    error = entry.get("error")
    status = response.get("status_code")
    body = response.get("body") or {}
    if error or status != 200:
        detail = (error or {}).get("message") or (body.get("error") or {}).get("message") or ""
        code = (error or {}).get("code") or status
        return LineResult(custom_id=custom_id, error=f"{code}: {detail}"[:300])
    choices = body.get("choices") or []
    usage = body.get("usage") or {}
    message = (choices[0].get("message") or {}) if choices else {}
    return LineResult(
        custom_id=custom_id,
        content=message.get("content"),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
    )


def lines_digest(custom_ids: Iterable[str]) -> str:
    """The batch's requests, whatever their order: its `custom_id`s sorted, hashed."""
    return hashlib.sha256("\n".join(sorted(custom_ids)).encode()).hexdigest()


def identity(group: str, custom_ids: Iterable[str], metadata: dict[str, str] | None) -> dict[str, str]:
    """The metadata a batch is created with and found again by (less the deployment that took it)."""
    ids = list(custom_ids)
    return {
        **(metadata or {}),
        "group": group[:METADATA_VALUE_CHARS],
        "requests": lines_digest(ids),
        "lines": str(len(ids)),
    }


def check_metadata(metadata: dict[str, str]) -> dict[str, str]:
    """The provider's limits, checked here: a refused create would send the whole round live."""
    if len(metadata) > METADATA_PAIRS:
        raise ValueError(f"batch metadata has {len(metadata)} pairs (at most {METADATA_PAIRS})")
    for key, value in metadata.items():
        if not isinstance(value, str) or len(key) > METADATA_KEY_CHARS or len(value) > METADATA_VALUE_CHARS:
            raise ValueError(
                f"batch metadata {key!r}: keys up to {METADATA_KEY_CHARS} characters, "
                f"string values up to {METADATA_VALUE_CHARS}"
            )
    return metadata


def _get(item: Any, name: str) -> Any:
    """A field of a LiteLLM/OpenAI object or of a plain dict (providers answer either)."""
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def _error_text(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
