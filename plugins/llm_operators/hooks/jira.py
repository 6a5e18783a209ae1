"""Jira Cloud and Jira Server/Data Center behind one hook: search, create, create-screen check, JSM comment.

The two deployments differ where it hurts (docs/jira.md): Jira Cloud removed `/rest/api/{2,3}/search`
(CHANGE-2046, 410 Gone) for `/rest/api/3/search/jql`, which pages by `nextPageToken`/`isLast`, and
its API v3 takes descriptions as Atlassian Document Format; Server/Data Center serve
`/rest/api/2/search` paged by `startAt`/`total` and take plain strings. The connection says which
one it is (extra `deployment`), and the operators call typed methods that do the right thing.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Any, Literal

from airflow.providers.atlassian.jira.hooks.jira import JiraHook
from airflow.sdk.exceptions import AirflowFailException

from llm_operators.core.adf import to_adf

Deployment = Literal["cloud", "server"]
CREATEMETA_PAGE = 50


class JiraConfigError(AirflowFailException):
    """The Jira project cannot take the issues we file (missing issue type, field or priority): a
    setting to fix, so the task fails without retries."""


def deployment_for(host: str | None, extra: dict[str, Any]) -> Deployment:
    """The connection's `deployment` extra, else Cloud for `*.atlassian.net` hosts, else Server/DC."""
    chosen = str(extra.get("deployment") or "").strip().lower()
    if chosen in ("cloud", "server"):
        return chosen  # type: ignore[return-value]
    if chosen in ("datacenter", "data_center", "dc"):
        return "server"
    if chosen:
        raise JiraConfigError(f"Jira connection extra deployment={chosen!r}: expected 'cloud' or 'server'")
    hostname = (host or "").split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
    return "cloud" if hostname.endswith(".atlassian.net") else "server"


class TriageJiraHook(JiraHook):
    """The Jira provider's hook, with its client built for the deployment the connection names."""

    def __init__(self, jira_conn_id: str = JiraHook.default_conn_name, proxies: Any | None = None) -> None:
        self._checked: set[tuple[str, str, tuple[str, ...]]] = set()
        super().__init__(jira_conn_id=jira_conn_id, proxies=proxies)

    @cached_property
    def connection(self) -> Any:
        return self.get_connection(self.jira_conn_id)

    @cached_property
    def deployment(self) -> Deployment:
        return deployment_for(self.connection.host, self.connection.extra_dejson)

    @property
    def cloud(self) -> bool:
        return self.deployment == "cloud"

    def _site(self) -> dict[str, Any]:
        """Site, credentials and transport, the same for the Jira and the Service Management client."""
        conn = self.connection
        return {
            "url": conn.host,
            "username": conn.login,
            "password": conn.password,
            "verify_ssl": conn.extra_dejson.get("verify", True),
            "proxies": self.proxies,
            "cloud": self.cloud,
        }

    @cached_property
    def api(self) -> Any:
        """atlassian-python-api's client: API v3 with `cloud=True` on Cloud, API v2 on Server/DC."""
        from atlassian import Jira

        return Jira(**self._site(), api_version="3" if self.cloud else "2")

    @cached_property
    def service_desk(self) -> Any:
        """The Jira Service Management client for the same site and credentials."""
        from atlassian import ServiceDesk

        return ServiceDesk(**self._site())

    def get_conn(self) -> Any:
        self.client = self.api
        return self.client

    # ------------------------------------------------------------------ search
    def search(
        self, jql: str, fields: tuple[str, ...] = ("summary",), page_size: int = 100
    ) -> Iterator[dict]:
        """Every issue matching `jql`, page by page, with the paging of this deployment."""
        return (
            self._search_cloud(jql, fields, page_size)
            if self.cloud
            else self._search_server(jql, fields, page_size)
        )

    def _search_cloud(self, jql: str, fields: tuple[str, ...], page_size: int) -> Iterator[dict]:
        token: str | None = None
        while True:
            page = self.api.enhanced_jql(jql, fields=list(fields), nextPageToken=token, limit=page_size) or {}
            yield from page.get("issues") or []
            token = page.get("nextPageToken")
            if page.get("isLast", True) or not token:
                return

    def _search_server(self, jql: str, fields: tuple[str, ...], page_size: int) -> Iterator[dict]:
        start = 0
        while True:
            page = self.api.jql(jql, fields=",".join(fields), start=start, limit=page_size) or {}
            issues = page.get("issues") or []
            yield from issues
            start += len(issues)
            if not issues or start >= int(page.get("total") or 0):
                return

    def find_issue_key(self, jql: str) -> str | None:
        """The first issue matching `jql`, if any. On Cloud the search is eventually consistent (an
        issue created seconds ago may be missing), which is why the side-effect ledger is the first
        guard against duplicates and this lookup only the second."""
        for issue in self.search(jql, ("summary",), page_size=1):
            return str(issue["key"])
        return None

    # ------------------------------------------------------------------ create
    def check_create_screen(self, project: str, issue_type: str, fields: dict[str, Any]) -> None:
        """Once per project, issue type and set of fields: each field we send is on the create screen,
        and a priority we send is one it allows. Raises `JiraConfigError` naming project and field."""
        names = tuple(sorted(k for k in fields if k not in ("project", "issuetype")))
        key = (project, issue_type, names)
        if key in self._checked:
            return
        types = self._createmeta_pages(
            lambda s: self.api.issue_createmeta_issuetypes(project, start=s, limit=CREATEMETA_PAGE),
            "issueTypes",
        )
        match = next((t for t in types if str(t.get("name", "")).lower() == issue_type.lower()), None)
        if match is None:
            known = ", ".join(sorted(str(t.get("name")) for t in types)) or "none"
            raise JiraConfigError(
                f"Jira project {project}: issue type {issue_type!r} is not available for creating issues "
                f"(field 'issuetype'; the project offers: {known}). Set this project's issue type setting."
            )
        screen = {
            str(f.get("fieldId") or f.get("key")): f
            for f in self._createmeta_pages(
                lambda s: self.api.issue_createmeta_fieldtypes(
                    project, match["id"], start=s, limit=CREATEMETA_PAGE
                ),
                "fields",
            )
        }
        for name in names:
            if name not in screen:
                raise JiraConfigError(
                    f"Jira project {project}, issue type {issue_type}: field {name!r} is not on the create "
                    "screen. Add it to the screen, or choose an issue type whose screen has it."
                )
        priority = (fields.get("priority") or {}).get("name")
        allowed = [str(v.get("name")) for v in screen.get("priority", {}).get("allowedValues") or []]
        if priority and allowed and priority not in allowed:
            raise JiraConfigError(
                f"Jira project {project}, issue type {issue_type}: priority {priority!r} is not allowed "
                f"(field 'priority'; allowed: {', '.join(allowed)}). Set this project's priority mapping."
            )
        self._checked.add(key)

    @staticmethod
    def _createmeta_pages(fetch: Any, cloud_key: str) -> list[dict[str, Any]]:
        """Cloud answers `{issueTypes|fields, startAt, total}`, Data Center `{values, isLast}`."""
        items: list[dict[str, Any]] = []
        while True:
            page = fetch(len(items)) or {}
            batch = page.get(cloud_key) or page.get("values") or []
            items.extend(batch)
            total = page.get("total")
            if not batch or page.get("isLast") or (total is not None and len(items) >= int(total)):
                return items

    def create_issue(self, fields: dict[str, Any]) -> str:
        """Create an issue from v2-shaped fields and return its key (Cloud gets the description as ADF)."""
        payload = dict(fields)
        if self.cloud and isinstance(payload.get("description"), str):
            payload["description"] = to_adf(payload["description"])
        created = self.api.create_issue(fields=payload)
        return str(created["key"])

    # ------------------------------------------------------------------ Jira Service Management
    def add_customer_comment(self, issue_key: str, body: str) -> dict[str, Any]:
        """A comment the customer sees on their request (JSM `POST /rest/servicedeskapi/request/{key}/comment`
        with `public: true`); a plain `/issue/{key}/comment` may stay internal."""
        created = self.service_desk.create_request_comment(issue_key, body, public=True) or {}
        return {"id": str(created.get("id", "")), "public": bool(created.get("public", False))}
