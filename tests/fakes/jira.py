"""Fake Jira on loopback, Cloud or Server/Data Center, as strict as Jira where the product calls it.

Driven through the real atlassian-python-api client and Airflow's Jira hook. ``deployment`` picks
the contract; each rule cites its source:

* Search, Cloud (``deployment="cloud"``): ``GET|POST /rest/api/{2,3,latest}/search`` answers
  **410 Gone** -- removed from Jira Cloud (https://developer.atlassian.com/changelog/#CHANGE-2046;
  the 410 body below is the one live sites send, e.g. atlassian-python-api#1586). The replacement
  ``/rest/api/{2,3,latest}/search/jql`` pages with an opaque ``nextPageToken`` and ``isLast``, has no
  ``startAt``/``total``, returns only ids without ``fields``, and caps ``maxResults``
  (https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/). It is
  eventually consistent (https://developer.atlassian.com/cloud/jira/platform/search-and-reconcile):
  ``index_lag_s`` hides issues created less than that long ago from it.
* Search, Server/DC (``deployment="server"``): ``/rest/api/{2,latest}/search`` pages with
  ``startAt``/``maxResults``/``total`` (https://docs.atlassian.com/software/jira/docs/api/REST/9.12.0/
  #api/2/search); there is no ``search/jql`` and no API v3 there (404).
* Create ``POST /rest/api/{v}/issue`` (v3 on Cloud only): the project must exist, the issue type
  must exist in it, every field sent must be on its create screen ("Field 'x' cannot be set. It is
  not on the appropriate screen, or unknown."), the summary must have no newline ("The summary is
  invalid because it contains newline characters.") and be less than 255 characters counted as
  Java counts them, in UTF-16 units; labels without spaces and at most 255 characters; a priority
  among the scheme's; on API v3 the description must be Atlassian Document Format
  (https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/). Errors are 400
  ``{"errorMessages": [...], "errors": {field: message}}``.
* Create metadata (Jira 9+/Cloud; the old ``/issue/createmeta`` was removed in Jira 9, JRASERVER-74965):
  ``GET /rest/api/{v}/issue/createmeta/{project}/issuetypes[/{issueTypeId}]``, paged by ``startAt``/
  ``maxResults``; Cloud answers ``{issueTypes|fields, startAt, maxResults, total}``, Data Center
  ``{values, startAt, maxResults, total, isLast}`` (https://developer.atlassian.com/cloud/jira/
  platform/rest/v3/api-group-issues/#api-rest-api-3-issue-createmeta-projectidorkey-issuetypes-get).
* Jira Service Management: ``POST /rest/servicedeskapi/request/{issueIdOrKey}/comment``
  ``{"body": str, "public": bool}`` -> 201 with the comment; ``public: false`` is an internal note
  the customer never sees (https://developer.atlassian.com/cloud/jira/service-desk/rest/
  api-group-request/#api-rest-servicedeskapi-request-issueidorkey-comment-post).
* Auth: HTTP Basic ``username:api_token``; anything else -> 401.

JQL: the subset the product writes and a little more: ``field op value`` clauses with ``AND``/``OR``/
``NOT`` and parentheses, ``ORDER BY``; unknown fields and functions are a 400 with Jira's error shape.
Dates read as UTC (real Jira uses the user's time zone, which the product widens its window for).

Test helpers: ``seed_issue(...)``, ``issues``, ``created_issues``, ``issue(key)``,
``request_comments(key)``, ``fail_next(n, status)``, ``airflow_conn_json()`` (with the
``deployment`` extra the product's hook reads).
"""

from __future__ import annotations

import base64
import binascii
import copy
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .base import FakeServer, Request, Response, json_response

__all__ = ["FakeJira", "JQLError", "parse_jql"]

DEFAULT_PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
_PRIORITY_RANK = {
    "highest": 1,
    "blocker": 1,
    "high": 2,
    "critical": 2,
    "medium": 3,
    "major": 3,
    "low": 4,
    "minor": 4,
    "lowest": 5,
    "trivial": 5,
}
_JSON_CT = "application/json;charset=UTF-8"


def _error(status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None) -> Response:
    return json_response(
        {"errorMessages": messages or [], "errors": errors or {}}, status, content_type=_JSON_CT
    )


def format_jira_datetime(value: datetime) -> str:
    """``2025-10-01T09:15:00.000+0000``."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def _parse_datetime(value: datetime | str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = value.strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
    parsed = datetime.fromisoformat(text.replace("/", "-"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text_to_adf(text: str) -> dict[str, Any]:
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}]} if line else {"type": "paragraph"}
        for line in text.split("\n")
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}


def _adf_to_text(node: Any) -> str:
    if isinstance(node, str):
        return node
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    parts = [_adf_to_text(child) for child in node.get("content", [])]
    sep = "\n" if node.get("type") == "doc" else ""
    return sep.join(parts)


# ===================================================================== JQL
class JQLError(ValueError):
    """A JQL query the fake does not understand or that Jira would reject (answered 400)."""


_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')
      | (?P<op>!=|>=|<=|!~|=|>|<|~)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z0-9_.\-/:+*]+)
    )""",
    re.VERBOSE,
)


@dataclass
class _Tok:
    kind: str  # string | op | punct | word | end
    value: str
    pos: int

    def is_kw(self, *words: str) -> bool:
        return self.kind == "word" and self.value.upper() in words


def _tokenize(jql: str) -> list[_Tok]:
    tokens, pos = [], 0
    while pos < len(jql):
        if jql[pos:].strip() == "":
            break
        match = _TOKEN_RE.match(jql, pos)
        if not match or match.end() == pos:
            raise JQLError(
                f"Error in the JQL Query: The character '{jql[pos:].lstrip()[:1]}' is a reserved JQL "
                f"character. You must enclose it in a string or use the escape '\\u0022' instead. "
                f"(line 1, character {pos + 1})"
            )
        kind = match.lastgroup or "word"
        value = match.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append(_Tok(kind, value, match.start(kind)))
        pos = match.end()
    tokens.append(_Tok("end", "", len(jql)))
    return tokens


_FIELD_ALIASES = {"issuekey": "key", "type": "issuetype", "id": "key"}
_KNOWN_FIELDS = {
    "project",
    "key",
    "labels",
    "status",
    "priority",
    "issuetype",
    "reporter",
    "assignee",
    "created",
    "updated",
    "summary",
    "description",
    "text",
}
_DATE_FIELDS = {"created", "updated"}
_TEXT_FIELDS = {"summary", "description", "text"}
_ORDER_FIELDS = {"created", "updated", "key", "priority", "summary", "status"}
_RELATIVE_RE = re.compile(r"^([-+]?)(\d+)([wdhm])$", re.IGNORECASE)

Predicate = Callable[["_Issue"], bool]


@dataclass
class ParsedJQL:
    predicate: Predicate
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    projects: set[str] = field(default_factory=set)  # project keys referenced, for validation


class _Parser:
    def __init__(self, jql: str, now: datetime) -> None:
        self.tokens = _tokenize(jql)
        self.i = 0
        self.now = now
        self.projects: set[str] = set()

    # -- token helpers
    @property
    def tok(self) -> _Tok:
        return self.tokens[self.i]

    def next(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect_fail(self, expecting: str) -> JQLError:
        tok = self.tok
        got = "end of query" if tok.kind == "end" else f"'{tok.value}'"
        return JQLError(
            f"Error in the JQL Query: Expecting {expecting} but got {got}. (line 1, character {tok.pos + 1})"
        )

    # -- grammar
    def parse(self) -> ParsedJQL:
        predicate: Predicate = lambda issue: True  # noqa: E731
        if self.tok.kind != "end" and not self.tok.is_kw("ORDER"):
            predicate = self.parse_or()
        order_by = []
        if self.tok.is_kw("ORDER"):
            self.next()
            if not self.tok.is_kw("BY"):
                raise self.expect_fail("'by'")
            self.next()
            while True:
                if self.tok.kind not in ("word", "string"):
                    raise self.expect_fail("a field name")
                name = self.next().value.lower()
                name = _FIELD_ALIASES.get(name, name)
                if name not in _ORDER_FIELDS:
                    raise JQLError(f"Field '{name}' does not exist or you do not have permission to view it.")
                descending = False
                if self.tok.is_kw("ASC", "DESC"):
                    descending = self.next().value.upper() == "DESC"
                order_by.append((name, descending))
                if self.tok.kind == "punct" and self.tok.value == ",":
                    self.next()
                    continue
                break
        if self.tok.kind != "end":
            raise self.expect_fail("either 'OR' or 'AND'" if not order_by else "',' or end of query")
        return ParsedJQL(predicate, order_by, self.projects)

    def parse_or(self) -> Predicate:
        parts = [self.parse_and()]
        while self.tok.is_kw("OR"):
            self.next()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else (lambda issue: any(p(issue) for p in parts))

    def parse_and(self) -> Predicate:
        parts = [self.parse_not()]
        while self.tok.is_kw("AND"):
            self.next()
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else (lambda issue: all(p(issue) for p in parts))

    def parse_not(self) -> Predicate:
        if self.tok.is_kw("NOT") or (self.tok.kind == "op" and self.tok.value == "!"):
            self.next()
            inner = self.parse_not()
            return lambda issue: not inner(issue)
        if self.tok.kind == "punct" and self.tok.value == "(":
            self.next()
            inner = self.parse_or()
            if not (self.tok.kind == "punct" and self.tok.value == ")"):
                raise self.expect_fail("')'")
            self.next()
            return inner
        return self.parse_clause()

    def parse_value(self) -> str:
        if self.tok.kind in ("string", "word") and not self.tok.is_kw("AND", "OR", "ORDER", "IN", "NOT"):
            value = self.next()
            if self.tok.kind == "punct" and self.tok.value == "(":
                raise JQLError(
                    f"Error in the JQL Query: function '{value.value}' is not supported by the fake "
                    f"(line 1, character {value.pos + 1})"
                )
            return value.value
        raise self.expect_fail("either a value, list or function")

    def parse_clause(self) -> Predicate:
        if self.tok.kind not in ("word", "string") or self.tok.is_kw("AND", "OR", "ORDER"):
            raise self.expect_fail("a field name")
        raw_name = self.next().value
        name = _FIELD_ALIASES.get(raw_name.lower(), raw_name.lower())
        if name not in _KNOWN_FIELDS:
            raise JQLError(f"Field '{raw_name}' does not exist or you do not have permission to view it.")

        tok = self.tok
        if tok.is_kw("IS"):
            self.next()
            negate = False
            if self.tok.is_kw("NOT"):
                self.next()
                negate = True
            if not self.tok.is_kw("EMPTY", "NULL"):
                raise self.expect_fail("'EMPTY' or 'NULL'")
            self.next()
            return self.make_empty(name, negate)
        if tok.is_kw("IN") or tok.is_kw("NOT"):
            negate = tok.is_kw("NOT")
            self.next()
            if negate:
                if not self.tok.is_kw("IN"):
                    raise self.expect_fail("'IN'")
                self.next()
            if not (self.tok.kind == "punct" and self.tok.value == "("):
                raise self.expect_fail("'('")
            self.next()
            values = [self.parse_value()]
            while self.tok.kind == "punct" and self.tok.value == ",":
                self.next()
                values.append(self.parse_value())
            if not (self.tok.kind == "punct" and self.tok.value == ")"):
                raise self.expect_fail("')'")
            self.next()
            return self.make_in(name, values, negate)
        if tok.kind == "op":
            op = self.next().value
            value = self.parse_value()
            return self.make_compare(name, op, value)
        raise self.expect_fail("an operator")

    # -- predicate builders
    def _unsupported(self, op: str, name: str) -> JQLError:
        return JQLError(f"The operator '{op}' is not supported by the '{name}' field.")

    def make_empty(self, name: str, negate: bool) -> Predicate:
        def is_empty(issue: _Issue) -> bool:
            values = issue.values(name)
            return not any(values)

        return (lambda issue: not is_empty(issue)) if negate else is_empty

    def make_in(self, name: str, values: list[str], negate: bool) -> Predicate:
        if name in _DATE_FIELDS or name in _TEXT_FIELDS:
            raise self._unsupported("not in" if negate else "in", name)
        if name == "project":
            self.projects.update(v.upper() for v in values)
        wanted = {self.norm(name, v) for v in values}

        def match(issue: _Issue) -> bool:
            have = {self.norm(name, v) for v in issue.values(name)}
            return bool(have & wanted) != negate

        return match

    def norm(self, name: str, value: str) -> str:
        # labels are case-sensitive in Jira; keys, names and statuses are not
        return value if name == "labels" else value.lower()

    def parse_date(self, name: str, value: str) -> datetime:
        rel = _RELATIVE_RE.match(value.strip())
        if rel:
            sign, amount, unit = rel.groups()
            delta = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1)}.get(
                unit.lower(), timedelta(minutes=1)
            ) * int(amount)
            return self.now - delta if sign == "-" else self.now + delta
        for fmt in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
            try:
                return datetime.strptime(value.strip(), fmt).replace(tzinfo=UTC)
            except ValueError:
                pass
        raise JQLError(
            f"Date value '{value}' for field '{name}' is invalid. Valid formats include: "
            "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period "
            "format e.g. '-5d', '4w 2d'."
        )

    def make_compare(self, name: str, op: str, value: str) -> Predicate:
        if name in _DATE_FIELDS:
            if op in ("~", "!~"):
                raise self._unsupported(op, name)
            bound = self.parse_date(name, value)
            compare = {
                "=": lambda a: a.replace(second=0, microsecond=0) == bound,
                "!=": lambda a: a.replace(second=0, microsecond=0) != bound,
                ">": lambda a: a > bound,
                ">=": lambda a: a >= bound,
                "<": lambda a: a < bound,
                "<=": lambda a: a <= bound,
            }[op]
            return lambda issue: compare(getattr(issue, name))
        if name in _TEXT_FIELDS:
            if op not in ("~", "!~"):
                raise self._unsupported(op, name)
            needle = value.lower().strip("*")
            negate = op == "!~"
            return lambda issue: (needle in " ".join(issue.values(name)).lower()) != negate
        if op in ("~", "!~"):
            raise self._unsupported(op, name)
        if op in (">", ">=", "<", "<="):
            if name != "priority":
                raise self._unsupported(op, name)
            rank = _PRIORITY_RANK.get(value.lower())
            if rank is None:
                raise JQLError(f"The value '{value}' does not exist for the field 'priority'.")
            cmp = {
                ">": lambda r: r < rank,  # higher priority == lower rank number
                ">=": lambda r: r <= rank,
                "<": lambda r: r > rank,
                "<=": lambda r: r >= rank,
            }[op]
            return lambda issue: any(cmp(_PRIORITY_RANK.get(v.lower(), 99)) for v in issue.values(name))
        return self.make_in(name, [value], negate=op == "!=")


def parse_jql(jql: str, now: datetime | None = None) -> ParsedJQL:
    """Parse the fake's JQL subset (raises :class:`JQLError`)."""
    return _Parser(jql or "", now or datetime.now(UTC)).parse()


# ===================================================================== issues
@dataclass
class _Issue:
    id: int
    key: str
    project: str
    number: int
    fields: dict[str, Any]
    created: datetime
    updated: datetime
    via_api: bool
    comments: list[dict[str, Any]] = field(default_factory=list)

    def _names(self, value: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if isinstance(value, dict):
            keys = ("name", "displayName", "emailAddress", "accountId", "key", "value", "id")
            return [str(value[k]) for k in keys if value.get(k)]
        return [str(value)]

    def values(self, name: str) -> list[str]:
        f = self.fields
        if name == "project":
            return [self.project]
        if name == "key":
            return [self.key, str(self.id)]
        if name == "labels":
            return [str(v) for v in f.get("labels") or []]
        if name == "summary":
            return [str(f.get("summary") or "")]
        if name == "description":
            return [_adf_to_text(f.get("description") or "")]
        if name == "text":
            texts = [str(f.get("summary") or ""), _adf_to_text(f.get("description") or "")]
            return texts + [_adf_to_text(c.get("body", "")) for c in self.comments]
        return self._names(f.get(name))

    def sort_key(self, name: str) -> Any:
        if name in _DATE_FIELDS:
            return getattr(self, name)
        if name == "key":
            return (self.project, self.number)
        if name == "priority":
            names = self.values("priority")
            return _PRIORITY_RANK.get(names[0].lower(), 99) if names else 99
        values = self.values(name)
        return values[0].lower() if values else ""


DEFAULT_SCREEN = ("project", "issuetype", "summary", "description", "labels", "priority", "reporter")
DEFAULT_ISSUE_TYPES = ("Task", "Bug", "Service Request")
DEFAULT_PROJECTS = ("SUP", "ENG", "HELP")
SUMMARY_LIMIT_UTF16 = 255  # "Summary must be less than 255 characters."
LABEL_LIMIT = 255
_REMOVED_SEARCH = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full "
    "migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _IssueType:
    id: str
    name: str
    screen: tuple[str, ...]


class FakeJira(FakeServer):
    name = "fake-jira"

    def __init__(
        self,
        username: str = "bot@example.com",
        api_token: str = "jira-token",
        deployment: str = "server",
        projects: dict[str, dict[str, tuple[str, ...]]] | list[str] | tuple[str, ...] | None = None,
        priorities: tuple[str, ...] = DEFAULT_PRIORITIES,
        max_results: int = 100,
        index_lag_s: float = 0.0,
        clock: Callable[[], datetime] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """``projects``: keys (each with the default issue types and create screen), or
        ``{key: {issue type: fields on its create screen}}``; default SUP, ENG and HELP.
        ``max_results`` caps a search page; ``clock`` gives "now" for API-created issues."""
        super().__init__(host, port)
        if deployment not in ("cloud", "server"):
            raise ValueError("deployment must be 'cloud' or 'server'")
        self.deployment = deployment
        self.username = username
        self.api_token = api_token
        self.priorities = tuple(priorities)
        self.max_results = max_results
        self.index_lag_s = index_lag_s
        self.clock = clock or (lambda: datetime.now(UTC))
        self._projects: dict[str, int] = {}
        self._types: dict[str, list[_IssueType]] = {}
        spec = projects if projects is not None else DEFAULT_PROJECTS
        if not isinstance(spec, dict):
            spec = {key: dict.fromkeys(DEFAULT_ISSUE_TYPES, DEFAULT_SCREEN) for key in spec}
        type_ids = itertools.count(10001)
        for key, types in spec.items():
            self._project_id(key)
            self._types[key.upper()] = [
                _IssueType(str(next(type_ids)), name, tuple(screen)) for name, screen in types.items()
            ]
        self._issues: dict[str, _Issue] = {}
        self._ids = itertools.count(20001)
        self._numbers: dict[str, itertools.count[int]] = {}
        self._created_at: dict[str, float] = {}
        self._create_failures: list[int] = []

    @property
    def cloud(self) -> bool:
        return self.deployment == "cloud"

    # ----------------------------------------------------------------- helpers for tests
    def _project_id(self, key: str) -> int:
        key = key.upper()
        if key not in self._projects:
            self._projects[key] = 10000 + len(self._projects)
        return self._projects[key]

    def airflow_conn_json(self) -> str:
        """JSON for ``AIRFLOW_CONN_<ID>`` pointing the product's Jira hook at this fake."""
        return json.dumps(
            {
                "conn_type": "jira",
                "host": self.url,
                "login": self.username,
                "password": self.api_token,
                "extra": {"deployment": self.deployment},
            }
        )

    def fail_next(self, n: int = 1, status: int = 503) -> None:
        message = {429: "Rate limit exceeded.", 500: "Internal server error", 503: "Service Unavailable"}
        self.inject_failure(_error(status, [message.get(status, f"Injected failure {status}")]), n, "/rest/")

    def fail_next_creates(self, n: int = 1, status: int = 503) -> None:
        """Answer the next ``n`` issue creates with ``status`` (other calls go through)."""
        with self._lock:
            self._create_failures += [status] * n

    def seed_issue(
        self,
        project: str,
        summary: str,
        description: str | dict[str, Any] | None = None,
        created: datetime | str | None = None,
        *,
        labels: list[str] | None = None,
        reporter: str | dict[str, Any] | None = None,
        issuetype: str = "Service Request",
    ) -> dict[str, Any]:
        """Store an issue directly (no validation, visible to search at once); rendered as v2."""
        fields: dict[str, Any] = {
            "summary": summary,
            "description": description,
            "issuetype": {"name": issuetype},
            "labels": list(labels or []),
            "status": {"name": "To Do"},
        }
        if reporter is not None:
            fields["reporter"] = (
                reporter
                if isinstance(reporter, dict)
                else {"displayName": reporter, "name": reporter, "accountId": reporter}
            )
        created_dt = _parse_datetime(created) if created is not None else self.clock()
        with self._lock:
            issue = self._store(project, fields, created_dt, via_api=False)
            return self._render(issue, "2", None)

    @property
    def issues(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._render(i, "2", None) for i in self._issues.values()]

    @property
    def created_issues(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._render(i, "2", None) for i in self._issues.values() if i.via_api]

    def issue(self, key: str) -> dict[str, Any]:
        with self._lock:
            return self._render(self._issues[key.upper()], "2", None)

    def request_comments(self, key: str) -> list[dict[str, Any]]:
        """The JSM comments of a request, with their ``public`` flag."""
        with self._lock:
            return copy.deepcopy(self._issues[key.upper()].comments)

    # ----------------------------------------------------------------- storage / rendering
    def _store(self, project: str, fields: dict[str, Any], created: datetime, via_api: bool) -> _Issue:
        project = project.upper()
        self._project_id(project)
        number = next(self._numbers.setdefault(project, itertools.count(1)))
        issue = _Issue(
            id=next(self._ids),
            key=f"{project}-{number}",
            project=project,
            number=number,
            fields=fields,
            created=created,
            updated=created,
            via_api=via_api,
        )
        self._issues[issue.key] = issue
        if via_api:
            self._created_at[issue.key] = time.monotonic()
        self.notify()
        return issue

    def _find(self, id_or_key: str) -> _Issue | None:
        issue = self._issues.get(id_or_key.upper())
        if issue is None and id_or_key.isdigit():
            issue = next((i for i in self._issues.values() if i.id == int(id_or_key)), None)
        return issue

    def _render(self, issue: _Issue, version: str, fields_param: str | list[str] | None) -> dict[str, Any]:
        base = self.url if self.running else "http://127.0.0.1"
        v = "3" if version == "3" else "2"
        fields = copy.deepcopy(issue.fields)
        fields["project"] = {"id": str(self._projects[issue.project]), "key": issue.project}
        fields["created"] = format_jira_datetime(issue.created)
        fields["updated"] = format_jira_datetime(issue.updated)
        description = fields.get("description")
        if v == "3" and isinstance(description, str):
            fields["description"] = _text_to_adf(description)
        elif v == "2" and isinstance(description, dict):
            fields["description"] = _adf_to_text(description)
        if isinstance(fields_param, str):
            fields_param = [f.strip() for f in fields_param.split(",") if f.strip()]
        if fields_param and not set(fields_param) & {"*all", "*navigable"}:
            fields = {k: val for k, val in fields.items() if k in set(fields_param)}
        return {
            "id": str(issue.id),
            "self": f"{base}/rest/api/{v}/issue/{issue.id}",
            "key": issue.key,
            "fields": fields,
        }

    # ----------------------------------------------------------------- protocol
    def _authorized(self, request: Request) -> bool:
        auth = request.header("authorization") or ""
        if not auth.startswith("Basic "):
            return False
        try:
            user, _, secret = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == self.username and secret == self.api_token

    def handle(self, request: Request) -> Response:
        if not self._authorized(request):
            response = _error(
                401, ["You are not authenticated. Authentication required to perform this operation."]
            )
            response.headers["WWW-Authenticate"] = 'Basic realm="protected-area"'
            return response
        jsm = re.fullmatch(r"/rest/servicedeskapi/request/([^/]+)/comment/?", request.path)
        if jsm and request.method == "POST":
            return self._request_comment(request, jsm.group(1))
        match = re.fullmatch(r"/rest/api/(2|3|latest)/(.+?)/?", request.path)
        if not match:
            return _error(404, ["Not found"])
        version, resource = match.groups()
        if version == "3" and not self.cloud:
            return _error(404, ["API v3 does not exist on Jira Server/Data Center"])
        method = request.method
        if resource == "issue" and method == "POST":
            return self._create_issue(request, version)
        meta = re.fullmatch(r"issue/createmeta/([^/]+)/issuetypes(?:/([^/]+))?", resource)
        if meta and method == "GET":
            return self._createmeta(request, meta.group(1), meta.group(2))
        if resource == "search" and method in ("GET", "POST"):
            if self.cloud:
                return _error(410, [_REMOVED_SEARCH])
            return self._search_paged(request, version)
        if resource == "search/jql" and method in ("GET", "POST"):
            if not self.cloud:
                return _error(404, ["search/jql is a Jira Cloud API"])
            return self._search_token(request, version)
        return _error(404, [f"No resource for {method} /rest/api/{version}/{resource} in the fake"])

    def _issue_type(self, project: str, name_or_id: dict[str, Any]) -> _IssueType | None:
        wanted_name = str(name_or_id.get("name") or "").lower()
        wanted_id = str(name_or_id.get("id") or "")
        return next(
            (t for t in self._types.get(project, []) if t.name.lower() == wanted_name or t.id == wanted_id),
            None,
        )

    def _create_issue(self, request: Request, version: str) -> Response:
        with self._lock:
            if self._create_failures:
                return _error(self._create_failures.pop(0), ["Service Unavailable"])
        try:
            body = request.json()
        except ValueError:
            return _error(400, ["Unexpected character: was expecting a JSON value"])
        if not isinstance(body, dict) or not isinstance(body.get("fields"), dict):
            return _error(400, ["Can not deserialize instance of issue: 'fields' must be an object"])
        fields = copy.deepcopy(body["fields"])
        project = fields.get("project")
        key = str(project.get("key") or "").upper() if isinstance(project, dict) else ""
        if key not in self._types:
            return _error(400, [], {"project": "valid project is required"})
        issuetype = fields.get("issuetype")
        itype = self._issue_type(key, issuetype) if isinstance(issuetype, dict) else None
        if itype is None:
            return _error(400, [], {"issuetype": "Specify a valid issue type"})
        errors: dict[str, str] = {}
        for name in fields:
            if name not in itype.screen:
                errors[name] = (
                    f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
                )
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif "\n" in summary or "\r" in summary:
            errors["summary"] = "The summary is invalid because it contains newline characters."
        elif _utf16_len(summary) >= SUMMARY_LIMIT_UTF16:
            errors["summary"] = "Summary must be less than 255 characters."
        labels = fields.get("labels") or []
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            errors["labels"] = "Field 'labels' must be an array of strings"
        else:
            for label in labels:
                if not label or any(c.isspace() for c in label):
                    errors["labels"] = f"The label '{label}' contains spaces which is invalid."
                elif len(label) > LABEL_LIMIT:
                    errors["labels"] = "The label must not exceed 255 characters."
        priority = fields.get("priority")
        if priority is not None and (
            not isinstance(priority, dict) or priority.get("name") not in self.priorities
        ):
            errors["priority"] = f"Priority name '{(priority or {}).get('name')}' is not valid"
        description = fields.get("description")
        if version == "3" and description is not None and not isinstance(description, dict):
            errors["description"] = (
                "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
            )
        elif version != "3" and description is not None and not isinstance(description, str):
            errors["description"] = "Operation value must be a string"
        if errors:
            return _error(400, [], errors)
        fields.pop("project")
        fields["status"] = {"name": "To Do"}
        fields.setdefault("labels", [])
        with self._lock:
            issue = self._store(key, fields, self.clock(), via_api=True)
        return json_response(
            {
                "id": str(issue.id),
                "key": issue.key,
                "self": f"{self.url}/rest/api/{version}/issue/{issue.id}",
            },
            201,
            content_type=_JSON_CT,
        )

    def _createmeta(self, request: Request, project: str, type_id: str | None) -> Response:
        key = project.upper()
        if key not in self._types:
            return _error(404, [f"No project could be found with key '{project}'."])
        try:
            start = int(request.arg("startAt") or 0)
            size = min(int(request.arg("maxResults") or 50), 200)
        except ValueError:
            return _error(400, ["startAt and maxResults must be integers"])
        if type_id is None:
            items = [{"id": t.id, "name": t.name, "subtask": False} for t in self._types[key]]
            cloud_key = "issueTypes"
        else:
            itype = next((t for t in self._types[key] if t.id == type_id), None)
            if itype is None:
                return _error(404, [f"Issue type with id '{type_id}' not found in project {key}"])
            items = []
            for name in itype.screen:
                entry: dict[str, Any] = {
                    "fieldId": name,
                    "key": name,
                    "name": name.title(),
                    "required": name in ("project", "issuetype", "summary"),
                }
                if name == "priority":
                    entry["allowedValues"] = [
                        {"id": str(i + 1), "name": p} for i, p in enumerate(self.priorities)
                    ]
                items.append(entry)
            cloud_key = "fields"
        page = items[start : start + size]
        if self.cloud:
            body = {cloud_key: page, "startAt": start, "maxResults": size, "total": len(items)}
        else:
            body = {
                "values": page,
                "startAt": start,
                "maxResults": size,
                "total": len(items),
                "isLast": start + size >= len(items),
            }
        return json_response(body, content_type=_JSON_CT)

    def _request_comment(self, request: Request, id_or_key: str) -> Response:
        try:
            body = request.json() or {}
        except ValueError:
            return _error(400, ["Unexpected character: was expecting a JSON value"])
        text, public = body.get("body"), body.get("public", True)
        if not isinstance(text, str) or not text.strip():
            return _error(400, ["The comment body is required."])
        if not isinstance(public, bool):
            return _error(400, ["'public' must be a boolean"])
        with self._lock:
            issue = self._find(id_or_key)
            if issue is None:
                return _error(404, ["Request does not exist or you do not have permission to see it."])
            comment = {
                "id": str(next(self._ids)),
                "body": text,
                "public": public,
                "author": {"name": self.username, "displayName": "Triage Bot"},
                "created": {"iso8601": format_jira_datetime(self.clock())},
            }
            issue.comments.append(comment)
        self.notify()
        return json_response(comment, 201, content_type=_JSON_CT)

    # ----------------------------------------------------------------- search
    def _search_params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = {k: v[-1] for k, v in request.query.items()}
        if request.method == "POST" and request.body:
            params.update(request.json() or {})
        return params

    def _run_jql(self, jql: str, *, indexed_only: bool) -> list[_Issue] | Response:
        try:
            parsed = parse_jql(jql, self.clock())
        except JQLError as exc:
            return _error(400, [str(exc)])
        unknown = sorted(p for p in parsed.projects if p not in self._types)
        if unknown:
            return _error(400, [f"The value '{unknown[0]}' does not exist for the field 'project'."])
        now = time.monotonic()
        with self._lock:
            issues = [
                i
                for i in self._issues.values()
                if parsed.predicate(i)
                and not (indexed_only and now - self._created_at.get(i.key, -1e9) < self.index_lag_s)
            ]
        for name, descending in reversed(parsed.order_by):
            issues.sort(key=lambda i, n=name: i.sort_key(n), reverse=descending)
        return issues

    def _page_size(self, params: dict[str, Any]) -> int:
        return max(0, min(int(params.get("maxResults", 50)), self.max_results))

    def _search_paged(self, request: Request, version: str) -> Response:
        params = self._search_params(request)
        result = self._run_jql(str(params.get("jql") or ""), indexed_only=False)
        if isinstance(result, Response):
            return result
        size = self._page_size(params)
        start = max(0, int(params.get("startAt", 0)))
        fields = params.get("fields", "*navigable")
        with self._lock:
            page = [self._render(i, version, fields) for i in result[start : start + size]]
        body = {"startAt": start, "maxResults": size, "total": len(result), "issues": page}
        return json_response(body, content_type=_JSON_CT)

    def _search_token(self, request: Request, version: str) -> Response:
        params = self._search_params(request)
        if "startAt" in params:
            return _error(400, ["Unrecognized parameter 'startAt': search/jql pages with nextPageToken"])
        jql = str(params.get("jql") or "")
        result = self._run_jql(jql, indexed_only=True)
        if isinstance(result, Response):
            return result
        size = self._page_size(params)
        start = 0
        token = params.get("nextPageToken")
        if token:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(str(token)).decode())
                if decoded["q"] != jql:
                    raise ValueError("token belongs to another query")
                start = int(decoded["o"])
            except (ValueError, KeyError, binascii.Error):
                return _error(400, ["The provided next page token is invalid or expired."])
        fields = params.get("fields") or ["id"]
        with self._lock:
            page = []
            for issue in result[start : start + size]:
                rendered = self._render(issue, version, fields)
                page.append({"id": rendered["id"]} if fields == ["id"] else rendered)
        body: dict[str, Any] = {"issues": page, "isLast": start + size >= len(result)}
        if not body["isLast"]:
            body["nextPageToken"] = base64.urlsafe_b64encode(
                json.dumps({"o": start + size, "q": jql}).encode()
            ).decode()
        return json_response(body, content_type=_JSON_CT)
