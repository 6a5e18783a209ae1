"""Fake Jira REST API on loopback, for driving the real ``atlassian.Jira`` / Airflow ``JiraHook``.

Endpoints (``{v}`` is ``2``, ``3`` or ``latest``), all answered as Jira does:

* ``POST /rest/api/{v}/issue`` ``{"fields": {...}}`` -> 201 ``{"id", "key": "SUP-1", "self"}``.
  Validates like Jira: ``project`` (``{"key"}``/``{"id"}``), ``summary`` (required, < 255 chars),
  ``issuetype`` required, ``labels`` a list of strings without spaces, ``priority`` name among
  ``priorities``; on v3 a string ``description`` is refused (Jira Cloud wants ADF).
  Errors are 400 ``{"errorMessages": [...], "errors": {field: message}}``.
* ``GET /rest/api/{v}/issue/{idOrKey}`` (``fields=`` honoured), 404 when unknown;
  ``PUT`` same path updates fields (204); ``POST .../comment`` adds a comment (201).
* ``GET|POST /rest/api/{v}/search`` -- Jira Server/DC search, paginated with
  ``startAt``/``maxResults`` (capped at ``max_results``), answers ``{startAt, maxResults, total,
  issues}``. This is what ``atlassian.Jira(...).jql()`` and ``jql_get_list_of_tickets()`` call in
  atlassian-python-api 5.0.5 (``cloud=False``, the default and what Airflow's ``JiraHook`` builds).
* ``GET|POST /rest/api/3/search/jql`` (also ``/2/search/jql``) -- Jira Cloud "enhanced" search,
  paginated with an opaque ``nextPageToken``, answers ``{issues, nextPageToken?, isLast}``.
  ``Jira(..., cloud=True).enhanced_jql()`` / ``enhanced_jql_get_list_of_tickets()`` call this one
  (and ``jql()`` with ``cloud=True`` delegates to it). Without ``fields`` it returns ids only, as
  Jira Cloud does; v3 responses render a plain-string description as ADF.
* ``GET /rest/api/3/search`` -> 410 Gone (removed from Jira Cloud).
* ``GET /rest/api/{v}/serverInfo``, ``GET /rest/api/{v}/myself``.

JQL: ``field op value`` clauses joined by ``AND``/``OR``/``NOT`` and parentheses, then an
optional ``ORDER BY f [ASC|DESC], ...``. Fields: ``project``, ``key``/``issuekey``, ``labels``,
``status``, ``priority``, ``issuetype``/``type``, ``reporter``, ``assignee``, ``created``,
``updated``, ``summary``/``description``/``text`` (``~``, ``!~`` substring). Operators ``=``,
``!=``, ``>``, ``>=``, ``<``, ``<=``, ``IN (...)``, ``NOT IN (...)``, ``IS [NOT] EMPTY``.
Dates: ``"yyyy-MM-dd HH:mm"``, ``"yyyy/MM/dd HH:mm"``, ``yyyy-MM-dd`` or relative ``-1d``/``-4h``/
``-30m``/``-2w``, all read as **UTC** (real Jira uses the user's time zone). Anything else --
functions such as ``now()``, unknown fields, bad dates, unknown operators -- is a 400 with
Jira's error shape, so a wrong query fails loudly. Without ``ORDER BY`` results come in
creation order (real Jira does not promise an order).

Auth: HTTP Basic ``username:api_token``; anything else -> 401 (JSON error body).
Failure injection: ``fail_next(n, status=503, path=None, retry_after=None)`` (the atlassian client
retries a 429 once, by itself, when ``Retry-After`` is present; other statuses raise ``HTTPError``).

Assertions: ``fake.issues`` (all, as rendered by ``GET issue`` v2), ``fake.created_issues``
(only those created through the API), ``fake.issue("SUP-1")``. Pre-load tickets with
``seed_issue(project, summary, description, created, labels=..., priority=..., reporter=...)``.

Real client::

    with FakeJira(username="bot@example.com", api_token="jira-token") as jira:
        client = atlassian.Jira(url=jira.url, username="bot@example.com", password="jira-token")

Airflow connection (``JiraHook(jira_conn_id="jira_default")``). The provider's hook
(``airflow/providers/atlassian/jira/hooks/jira.py``, ``get_conn``) builds
``atlassian.Jira(url=conn.host, username=conn.login, password=conn.password,
verify_ssl=extra.get("verify", True), api_version="2", api_root="rest/api")``. It uses
**only** ``conn.host`` as the URL -- ``port`` and ``schema`` are ignored -- so ``host`` must be
the full base URL with scheme and port. ``verify`` does not matter over plain http::

    AIRFLOW_CONN_JIRA_DEFAULT='{"conn_type": "jira", "host": "http://127.0.0.1:<port>",
                                "login": "bot@example.com", "password": "jira-token"}'

``FakeJira.airflow_conn_json()`` returns exactly that string for the running fake.
"""

from __future__ import annotations

import base64
import binascii
import copy
import itertools
import json
import re
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


class FakeJira(FakeServer):
    name = "fake-jira"

    def __init__(
        self,
        username: str = "bot@example.com",
        api_token: str = "jira-token",
        projects: list[str] | tuple[str, ...] | None = None,
        priorities: tuple[str, ...] = DEFAULT_PRIORITIES,
        max_results: int = 100,
        clock: Callable[[], datetime] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """``projects``: when given, only these project keys exist (create/JQL on others -> 400);
        when ``None`` any project key is accepted. ``max_results`` caps a search page.
        ``clock`` gives "now" for API-created issues and relative JQL dates (default: UTC now)."""
        super().__init__(host, port)
        self.username = username
        self.api_token = api_token
        self.strict_projects = projects is not None
        self._projects: dict[str, int] = {}
        for key in projects or ():
            self._project_id(key)
        self.priorities = tuple(priorities)
        self.max_results = max_results
        self.clock = clock or (lambda: datetime.now(UTC))
        self._issues: dict[str, _Issue] = {}
        self._ids = itertools.count(10001)
        self._numbers: dict[str, itertools.count[int]] = {}

    # ----------------------------------------------------------------- helpers for tests
    def _project_id(self, key: str) -> int:
        key = key.upper()
        if key not in self._projects:
            self._projects[key] = 10000 + len(self._projects)
        return self._projects[key]

    def airflow_conn_json(self) -> str:
        """JSON for ``AIRFLOW_CONN_<ID>`` pointing a ``JiraHook`` at this fake."""
        return json.dumps(
            {"conn_type": "jira", "host": self.url, "login": self.username, "password": self.api_token}
        )

    def fail_next(
        self, n: int = 1, status: int = 503, path: str | None = None, retry_after: int | None = None
    ) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        message = {
            429: "Rate limit exceeded.",
            500: "Internal server error",
            502: "Bad gateway",
            503: "Service Unavailable",
        }.get(status, f"Injected failure {status}")
        response = _error(status, [message])
        response.headers.update(headers)
        self.inject_failure(response, n, path or "/rest/")

    def seed_issue(
        self,
        project: str,
        summary: str,
        description: str | dict[str, Any] | None = None,
        created: datetime | str | None = None,
        *,
        labels: list[str] | None = None,
        priority: str | None = None,
        reporter: str | dict[str, Any] | None = None,
        status: str = "To Do",
        issuetype: str = "Task",
        updated: datetime | str | None = None,
        extra_fields: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store an issue directly (no validation) and return it rendered as ``GET issue`` v2."""
        created_dt = _parse_datetime(created) if created is not None else self.clock()
        fields: dict[str, Any] = {
            "summary": summary,
            "description": description,
            "issuetype": {"name": issuetype},
            "labels": list(labels or []),
            "status": {"name": status},
        }
        if priority is not None:
            fields["priority"] = {"name": priority}
        if reporter is not None:
            fields["reporter"] = (
                reporter
                if isinstance(reporter, dict)
                else {"displayName": reporter, "name": reporter, "emailAddress": reporter}
            )
        fields.update(extra_fields or {})
        with self._lock:
            issue = self._store(
                project, fields, created_dt, _parse_datetime(updated) if updated else None, via_api=False
            )
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

    def wait_for_issues(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until ``n`` issues were created through the API."""
        count = lambda: sum(1 for i in self._issues.values() if i.via_api)  # noqa: E731
        if not self.wait_until(lambda: count() >= n, timeout):
            raise AssertionError(f"expected {n} created Jira issues, got {count()}")
        return self.created_issues

    # ----------------------------------------------------------------- storage / rendering
    def _store(
        self,
        project: str,
        fields: dict[str, Any],
        created: datetime,
        updated: datetime | None,
        via_api: bool,
    ) -> _Issue:
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
            updated=updated or created,
            via_api=via_api,
        )
        self._issues[issue.key] = issue
        self.notify()
        return issue

    def _find(self, id_or_key: str) -> _Issue | None:
        issue = self._issues.get(id_or_key.upper())
        if issue is None and id_or_key.isdigit():
            issue = next((i for i in self._issues.values() if i.id == int(id_or_key)), None)
        return issue

    def _render(self, issue: _Issue, version: str, fields_param: str | list[str] | None) -> dict[str, Any]:
        base = self.url if self._server is not None else "http://127.0.0.1"
        v = "3" if version == "3" else "2"
        fields = copy.deepcopy(issue.fields)
        fields["project"] = {
            "self": f"{base}/rest/api/{v}/project/{self._projects[issue.project]}",
            "id": str(self._projects[issue.project]),
            "key": issue.project,
            "name": issue.project,
        }
        fields["created"] = format_jira_datetime(issue.created)
        fields["updated"] = format_jira_datetime(issue.updated)
        fields.setdefault("labels", [])
        fields.setdefault("status", {"name": "To Do"})
        fields["comment"] = {
            "comments": copy.deepcopy(issue.comments),
            "maxResults": len(issue.comments),
            "total": len(issue.comments),
            "startAt": 0,
        }
        description = fields.get("description")
        if v == "3" and isinstance(description, str):
            fields["description"] = _text_to_adf(description)
        elif v == "2" and isinstance(description, dict):
            fields["description"] = _adf_to_text(description)

        if isinstance(fields_param, str):
            fields_param = [f.strip() for f in fields_param.split(",") if f.strip()]
        if fields_param:
            wanted = set(fields_param)
            if wanted & {"*all", "*navigable"}:
                excluded = {f[1:] for f in wanted if f.startswith("-")}
                fields = {k: val for k, val in fields.items() if k not in excluded}
            else:
                fields = {k: val for k, val in fields.items() if k in wanted}
        return {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
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
        match = re.fullmatch(r"/rest/api/(2|3|latest)/(.+?)/?", request.path)
        if not match:
            return _error(404, ["Not found"])
        if not self._authorized(request):
            response = _error(
                401, ["You are not authenticated. Authentication required to perform this operation."]
            )
            response.headers["WWW-Authenticate"] = 'Basic realm="protected-area"'
            return response
        version, resource = match.groups()
        method = request.method
        parts = resource.split("/")

        if resource == "serverInfo" and method == "GET":
            return self._server_info()
        if resource == "myself" and method == "GET":
            return self._myself()
        if resource == "issue" and method == "POST":
            return self._create_issue(request, version)
        if parts[0] == "issue" and len(parts) == 2:
            if method == "GET":
                return self._get_issue(request, version, parts[1])
            if method == "PUT":
                return self._update_issue(request, parts[1])
        if parts[0] == "issue" and len(parts) == 3 and parts[2] == "comment" and method == "POST":
            return self._add_comment(request, parts[1])
        if resource == "search" and method in ("GET", "POST"):
            if version == "3":
                return _error(
                    410,
                    [
                        "The requested API has been removed. Please migrate to the /rest/api/3/search/jql "
                        "API. A full migration guideline is available at "
                        "https://developer.atlassian.com/changelog/#CHANGE-2046"
                    ],
                )
            return self._search_paged(request, version)
        if resource == "search/jql" and method in ("GET", "POST"):
            return self._search_token(request, version)
        return _error(404, [f"No resource for {method} /rest/api/{version}/{resource} in the fake"])

    def _server_info(self) -> Response:
        return json_response(
            {
                "baseUrl": self.url,
                "version": "9.12.0",
                "versionNumbers": [9, 12, 0],
                "deploymentType": "Server",
                "buildNumber": 9120000,
                "buildDate": "2024-01-01T00:00:00.000+0000",
                "serverTime": format_jira_datetime(self.clock()),
                "scmInfo": "fake",
                "serverTitle": "Fake Jira",
            },
            content_type=_JSON_CT,
        )

    def _myself(self) -> Response:
        return json_response(
            {
                "self": f"{self.url}/rest/api/2/user?username={self.username}",
                "key": "triage-bot",
                "name": self.username,
                "accountId": "fake-account-0001",
                "emailAddress": self.username,
                "displayName": "Triage Bot",
                "active": True,
                "timeZone": "UTC",
                "locale": "en_US",
            },
            content_type=_JSON_CT,
        )

    def _create_issue(self, request: Request, version: str) -> Response:
        try:
            body = request.json()
        except ValueError:
            return _error(400, ["Unexpected character: was expecting a JSON value"])
        if not isinstance(body, dict) or not isinstance(body.get("fields"), dict):
            return _error(400, ["Can not deserialize instance of issue: 'fields' must be an object"])
        fields = copy.deepcopy(body["fields"])
        errors: dict[str, str] = {}

        project = fields.pop("project", None)
        project_key: str | None = None
        if isinstance(project, dict):
            if project.get("key"):
                project_key = str(project["key"]).upper()
            elif project.get("id"):
                project_key = next(
                    (k for k, v in self._projects.items() if str(v) == str(project["id"])), None
                )
        if not project_key or (self.strict_projects and project_key not in self._projects):
            errors["project"] = "valid project is required"

        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif len(summary) > 254 or "\n" in summary:
            errors["summary"] = (
                "Summary must be less than 255 characters."
                if len(summary) > 254
                else "The summary is invalid because it contains newline characters."
            )
        issuetype = fields.get("issuetype")
        if not isinstance(issuetype, dict) or not (issuetype.get("name") or issuetype.get("id")):
            errors["issuetype"] = "Specify an issue type"

        labels = fields.get("labels")
        if labels is not None:
            if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
                errors["labels"] = "Field 'labels' must be an array of strings"
            else:
                for label in labels:
                    if not label or any(c.isspace() for c in label):
                        errors["labels"] = f"The label '{label}' contains spaces which is invalid."
                        break
                    if len(label) > 255:
                        errors["labels"] = "The label must not exceed 255 characters."
                        break

        priority = fields.get("priority")
        if priority is not None:
            name = priority.get("name") if isinstance(priority, dict) else None
            if name is not None and name not in self.priorities:
                errors["priority"] = f"Priority name '{name}' is not valid"
            elif name is None and not (isinstance(priority, dict) and priority.get("id")):
                errors["priority"] = "Could not find valid 'id' or 'name' in priority object."

        description = fields.get("description")
        if version == "3" and description is not None and not isinstance(description, dict):
            errors["description"] = (
                "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
            )
        elif version != "3" and description is not None and not isinstance(description, str):
            errors["description"] = "Operation value must be a string"

        if errors:
            return _error(400, [], errors)
        fields.setdefault("status", {"name": "To Do"})
        fields.setdefault("labels", [])
        with self._lock:
            issue = self._store(project_key or "", fields, self.clock(), None, via_api=True)
        v = "3" if version == "3" else "2"
        return json_response(
            {"id": str(issue.id), "key": issue.key, "self": f"{self.url}/rest/api/{v}/issue/{issue.id}"},
            201,
            content_type=_JSON_CT,
        )

    def _not_found(self) -> Response:
        return _error(404, ["Issue does not exist or you do not have permission to see it."])

    def _get_issue(self, request: Request, version: str, id_or_key: str) -> Response:
        with self._lock:
            issue = self._find(id_or_key)
            if issue is None:
                return self._not_found()
            return json_response(self._render(issue, version, request.arg("fields")), content_type=_JSON_CT)

    def _update_issue(self, request: Request, id_or_key: str) -> Response:
        body = request.json() or {}
        with self._lock:
            issue = self._find(id_or_key)
            if issue is None:
                return self._not_found()
            for name, value in (body.get("fields") or {}).items():
                issue.fields[name] = value
            for name, operations in (body.get("update") or {}).items():
                for operation in operations:
                    for verb, value in operation.items():
                        current = issue.fields.setdefault(name, [])
                        if verb == "add":
                            current.append(value)
                        elif verb == "remove" and value in current:
                            current.remove(value)
                        elif verb == "set":
                            issue.fields[name] = value
            issue.updated = self.clock()
        self.notify()
        return Response(204)

    def _add_comment(self, request: Request, id_or_key: str) -> Response:
        body = request.json() or {}
        with self._lock:
            issue = self._find(id_or_key)
            if issue is None:
                return self._not_found()
            comment = {
                "id": str(next(self._ids)),
                "body": body.get("body", ""),
                "author": {"name": self.username, "displayName": "Triage Bot"},
                "created": format_jira_datetime(self.clock()),
            }
            issue.comments.append(comment)
        self.notify()
        return json_response(comment, 201, content_type=_JSON_CT)

    # ----------------------------------------------------------------- search
    def _search_params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = {k: v[-1] for k, v in request.query.items()}
        if request.method == "POST" and request.body:
            body = request.json() or {}
            params.update(body)
        return params

    def _run_jql(self, jql: str) -> list[_Issue] | Response:
        try:
            parsed = parse_jql(jql, self.clock())
        except JQLError as exc:
            return _error(400, [str(exc)])
        if self.strict_projects:
            unknown = sorted(p for p in parsed.projects if p not in self._projects)
            if unknown:
                return _error(400, [f"The value '{unknown[0]}' does not exist for the field 'project'."])
        with self._lock:
            issues = [i for i in self._issues.values() if parsed.predicate(i)]
        for name, descending in reversed(parsed.order_by):
            issues.sort(key=lambda i, n=name: i.sort_key(n), reverse=descending)
        return issues

    def _page_size(self, params: dict[str, Any]) -> int | Response:
        try:
            size = int(params.get("maxResults", 50))
        except (TypeError, ValueError):
            return _error(400, ["maxResults must be an integer"])
        return max(0, min(size, self.max_results))

    def _search_paged(self, request: Request, version: str) -> Response:
        params = self._search_params(request)
        result = self._run_jql(str(params.get("jql") or ""))
        if isinstance(result, Response):
            return result
        size = self._page_size(params)
        if isinstance(size, Response):
            return size
        try:
            start = max(0, int(params.get("startAt", 0)))
        except (TypeError, ValueError):
            return _error(400, ["startAt must be an integer"])
        fields = params.get("fields", "*navigable")
        with self._lock:
            page = [self._render(i, version, fields) for i in result[start : start + size]]
        return json_response(
            {
                "expand": "schema,names",
                "startAt": start,
                "maxResults": size,
                "total": len(result),
                "issues": page,
            },
            content_type=_JSON_CT,
        )

    def _search_token(self, request: Request, version: str) -> Response:
        params = self._search_params(request)
        jql = str(params.get("jql") or "")
        result = self._run_jql(jql)
        if isinstance(result, Response):
            return result
        size = self._page_size(params)
        if isinstance(size, Response):
            return size
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
                if fields == ["id"]:
                    rendered = {"id": rendered["id"]}
                page.append(rendered)
        body: dict[str, Any] = {"issues": page, "isLast": start + size >= len(result)}
        if not body["isLast"]:
            body["nextPageToken"] = base64.urlsafe_b64encode(
                json.dumps({"o": start + size, "q": jql}).encode()
            ).decode()
        return json_response(body, content_type=_JSON_CT)
