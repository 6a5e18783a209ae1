"""Shared base for the loopback fake servers: requests recorded, failures injected, answers from ``handle``.

A fake binds ``127.0.0.1`` on an ephemeral port and refuses any other address (``tools/loopback_http.py``
serves it), so a test can never reach a real service by accident. Subclasses implement
:meth:`FakeServer.handle`, which receives a :class:`Request` (GET or POST) and returns a :class:`Response`.

Every request is recorded (thread-safely) in :attr:`FakeServer.requests`, together with the
status that was answered. An exception inside a handler answers 500 and is kept in
:attr:`FakeServer.errors`, so a test can assert that the fake itself did not break::

    with FakeSlack() as slack:
        ...
        assert not slack.errors

Failure injection is shared: :meth:`FakeServer.inject_failure` queues canned responses that are
served, before any other processing, to the next matching requests.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from loopback_http import LoopbackHandler, LoopbackServer

__all__ = ["FakeServer", "Request", "Response", "json_response"]


@dataclass
class Request:
    """One HTTP request as the fake saw it."""

    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # keys lower-cased
    body: bytes
    status: int | None = None  # filled in once answered
    injected: bool = False  # True when answered by an injected failure

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """First value of a query-string parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(
    obj: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json; charset=utf-8",
) -> Response:
    return Response(
        status=status,
        body=json.dumps(obj).encode("utf-8"),
        headers={"Content-Type": content_type, **(headers or {})},
    )


@dataclass
class _Failure:
    response: Response
    remaining: int
    path: str | None  # substring of the request path, None = any request


class _Handler(LoopbackHandler):
    def respond(self) -> None:
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.read_body(),
        )
        response = cast(FakeServer, self.owner)._dispatch(request)
        self.send(response.status, response.body, response.headers)


class FakeServer(LoopbackServer):
    """Base class of the fakes: a loopback server that records every request and answers with :meth:`handle`.

    Use as a context manager (starts on enter, stops on exit) or call :meth:`start`/:meth:`stop`.
    """

    name = "fake"
    handler = _Handler

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._requests: list[Request] = []
        self._errors: list[str] = []
        self._failures: list[_Failure] = []

    # ----------------------------------------------------------------- recording
    @property
    def requests(self) -> list[Request]:
        """Snapshot of every request received so far (oldest first)."""
        with self._lock:
            return list(self._requests)

    @property
    def errors(self) -> list[str]:
        """Tracebacks of exceptions raised inside the fake's handlers (answered with 500)."""
        with self._lock:
            return list(self._errors)

    def requests_to(self, path: str, method: str | None = None) -> list[Request]:
        """Requests whose path ends with ``path`` (and whose method matches, if given)."""
        return [
            r
            for r in self.requests
            if r.path.endswith(path) and (method is None or r.method == method.upper())
        ]

    def clear(self) -> None:
        """Forget recorded requests, errors and pending injected failures (state of subclasses stays)."""
        with self._lock:
            self._requests.clear()
            self._errors.clear()
            self._failures.clear()

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until ``predicate()`` is true (re-checked on every request); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    # ----------------------------------------------------------------- failure injection
    def inject_failure(self, response: Response, n: int = 1, path: str | None = None) -> None:
        """Answer the next ``n`` requests (whose path contains ``path``, if given) with ``response``."""
        if n < 1:
            raise ValueError("n must be >= 1")
        with self._lock:
            self._failures.append(_Failure(response=response, remaining=n, path=path))

    def _take_failure(self, request: Request) -> Response | None:
        with self._lock:
            for failure in self._failures:
                if failure.path is None or failure.path in request.path:
                    failure.remaining -= 1
                    if failure.remaining == 0:
                        self._failures.remove(failure)
                    return failure.response
        return None

    # ----------------------------------------------------------------- dispatch
    def _dispatch(self, request: Request) -> Response:
        with self._lock:
            self._requests.append(request)
        try:
            response = self._take_failure(request)
            if response is not None:
                request.injected = True
            else:
                response = self.handle(request)
        except Exception:
            with self._lock:
                self._errors.append(traceback.format_exc())
            response = Response(
                500,
                f"{type(self).__name__} internal error:\n{traceback.format_exc()}".encode(),
                {"Content-Type": "text/plain; charset=utf-8"},
            )
        request.status = response.status
        with self._changed:
            self._changed.notify_all()
        return response

    def handle(self, request: Request) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError

    def notify(self) -> None:
        """Wake :meth:`wait_until` waiters (subclasses call this after changing their state)."""
        with self._changed:
            self._changed.notify_all()
