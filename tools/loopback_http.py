"""Loopback-only HTTP serving in a daemon thread, shared by the chaos provider and the test fakes.

A server here refuses any address outside 127.0.0.0/8 (``localhost`` means 127.0.0.1), so a test or an
outage rehearsal can never listen where another machine reaches it, nor be mistaken for a real service.

:class:`LoopbackServer` owns the ``ThreadingHTTPServer`` and its thread; a subclass names its request
handler, a :class:`LoopbackHandler` subclass that answers GET and POST (other methods get the stdlib's
501) and reaches its server as ``self.owner``. Logging is silent unless the server is ``verbose``.

``stop()`` is final: it closes the listening socket, drops the open connections at once (a request
still being answered or a client holding a keep-alive connection must not outlive the server) and
sets :attr:`LoopbackServer.stopping`, which a handler that waits (an injected delay or hang) waits on.

Stdlib only; no litellm / airflow imports.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self

__all__ = ["LoopbackHandler", "LoopbackServer", "loopback_host"]

POLL_S = 0.05  # how often serve_forever checks for shutdown


def loopback_host(host: str, owner: str) -> str:
    """``host`` if it is IPv4 loopback (``localhost`` is 127.0.0.1), else ValueError naming ``owner``."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is None or ip.version != 4 or not ip.is_loopback:
        raise ValueError(f"{owner} binds only to IPv4 loopback (127.x.x.x), not {host!r}")
    return host


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # LoopbackServer.stop() drops the connections and waits briefly itself
    allow_reuse_address = True
    owner: LoopbackServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.owner.verbose:
            super().handle_error(request, client_address)


class LoopbackHandler(BaseHTTPRequestHandler):
    """One connection: HTTP/1.1 keep-alive, the body read whole, answers that survive the client leaving."""

    protocol_version = "HTTP/1.1"
    timeout = 120  # idle keep-alive connections are dropped after this
    # headers and body go out in separate writes: without this, 40 ms delayed-ACK stalls
    disable_nagle_algorithm = True
    server: _HTTPServer

    @property
    def owner(self) -> LoopbackServer:
        return self.server.owner

    def setup(self) -> None:
        super().setup()
        self.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.owner._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        if self.owner.verbose:
            sys.stderr.write(f"[{self.owner.name}] {self.address_string()} {format % args}\n")

    def do_GET(self) -> None:
        self.respond()

    def do_POST(self) -> None:
        self.respond()

    def respond(self) -> None:
        """Answer the request in ``self.command`` / ``self.path`` (read the body with :meth:`read_body`)."""
        raise NotImplementedError

    def read_body(self) -> bytes:
        """The request body, chunked or with a Content-Length (empty without either)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Answer ``status`` with ``body`` (Content-Length added); the connection closes once stopping."""
        if self.owner.stopping.is_set():
            self.close_connection = True
        try:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:  # client went away
            self.close_connection = True


class LoopbackServer:
    """A threaded HTTP server on ``127.0.0.1:<port>`` (port 0: chosen at bind time) until :meth:`stop`.

    Use as a context manager (starts on enter, stops on exit) or call :meth:`start` / :meth:`stop`.
    """

    name: ClassVar[str] = "loopback"  # log prefix and thread name
    handler: ClassVar[type[LoopbackHandler]]

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> None:
        self.host = loopback_host(host, type(self).__name__)
        self.verbose = verbose
        self.stopping = threading.Event()
        self._requested_port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def start(self) -> Self:
        """Bind and serve in a daemon thread. Returns ``self``."""
        if self._httpd is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        if self.stopping.is_set():
            raise RuntimeError(f"a stopped {type(self).__name__} cannot be restarted; create a new one")
        httpd = _HTTPServer((self.host, self._requested_port), self.handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": POLL_S},
            name=f"{self.name}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop serving; wakes waiting handlers and drops open connections at once. Idempotent."""
        self.stopping.set()
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        while self._connections and time.monotonic() < deadline:
            time.sleep(0.01)
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
            self._thread = None

    def __enter__(self) -> Self:
        return self if self.running else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def port(self) -> int:
        if self._httpd is None:
            if self._requested_port:
                return self._requested_port
            raise RuntimeError(f"{type(self).__name__} is not started (port 0 is chosen at bind time)")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:40123``."""
        return f"http://{self.host}:{self.port}"

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)
