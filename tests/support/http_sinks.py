"""A local HTTP server the variants under test can reach: a webhook sink and a set of probe targets.

    with HttpSink() as sink:
        hook = sink.url(sink.new_path("hooks"))      # a fresh path per test
        sink.respond(hook_path, 500)                 # make that path fail
        sink.respond_first(hook_path, [500, 503])    # fail the next two requests, then answer normally
        release = sink.hold(hook_path)               # leave requests there unanswered until release.set()
        ...
        sink.wait_for_posts(hook_path, 1)            # the JSON bodies POSTed there

Probe targets (any method): ``/ok`` -> 200, ``/fail`` -> 500, ``/slow?ms=N`` -> 200 after N ms,
``/status/NNN`` -> status NNN, ``/endless`` -> 200 with a body that never ends (for ``ENDLESS_S``),
``/redirect?to=URL`` -> 302 to URL (``respond(path, 3xx, location=URL)`` too).
Any other path answers the status set with :meth:`HttpSink.respond`
(200 by default). Every request is recorded. :func:`closed_port_url` gives a URL whose port refuses
connections.
"""
from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .waiting import wait_until

MAX_SLOW_MS = 60_000
ENDLESS_S = 4.0
MAX_HOLD_S = 30.0


@dataclass(frozen=True)
class Received:
    """One request the sink received."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)

    @property
    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` when it is not JSON)."""
        return json.loads(self.body.decode("utf-8"))

    @property
    def content_type(self) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == "content-type"), "")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, sink: HttpSink, host: str):
        self.sink = sink
        super().__init__((host, 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        sink = self.server.sink
        sink._record(Received(self.command, parts.path, parts.query, dict(self.headers.items()), body))
        held = sink._hold_for(parts.path)
        if held is not None:
            held.wait(MAX_HOLD_S)  # a receiver that hangs, until the test lets it answer
        status = sink._status_for(parts.path)
        location = sink._location_for(parts.path) or parse_qs(parts.query).get("to", [None])[0]
        if parts.path == "/redirect":
            status = 302
        if parts.path == "/slow":
            try:
                delay_ms = float(parse_qs(parts.query).get("ms", ["0"])[0])
            except ValueError:
                delay_ms = 0.0
            time.sleep(min(max(delay_ms, 0.0), MAX_SLOW_MS) / 1000.0)  # the probe target is slow on purpose
        if parts.path == "/endless":
            self._endless_body()
            return
        payload = json.dumps({"status": status, "path": parts.path}).encode()
        try:
            self.send_response(status)
            if location and 300 <= status < 400:
                self.send_header("Location", location)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except OSError:  # the client stopped waiting (a held or slow answer): nothing to answer
            self.close_connection = True

    def _endless_body(self) -> None:
        """200 announcing a 10 GiB body, then 64 KiB every 10 ms for up to ``ENDLESS_S`` (or until the client goes)."""
        self.send_response(200)
        self.send_header("Content-Length", str(10 * 2**30))
        self.end_headers()
        chunk, until = b"x" * 65536, time.monotonic() + ENDLESS_S
        try:
            while time.monotonic() < until:
                self.wfile.write(chunk)
                time.sleep(0.01)
        except OSError:
            pass  # the client closed the connection: what a careful client does
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


class HttpSink:
    """A threaded HTTP server on ``127.0.0.1:<free port>`` (or another local IPv4 ``host``) in a daemon thread;
    a context manager."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._locations: dict[str, str] = {}
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self._statuses: dict[str, int] = {}
        self._queued: dict[str, list[int]] = {}
        self._held: dict[str, threading.Event] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> HttpSink:
        if self._server is None:
            self._server = _Server(self, self.host)
            self._thread = threading.Thread(target=self._server.serve_forever, name="http-sink", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> HttpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses

    @property
    def port(self) -> int:
        assert self._server is not None, "the sink is not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    @staticmethod
    def new_path(prefix: str = "hook") -> str:
        """A path no other test uses: ``/PREFIX/<hex>``."""
        return f"/{prefix.strip('/')}/{uuid.uuid4().hex}"

    # -- behaviour

    def respond(self, path: str, status: int, location: str | None = None) -> None:
        """Answer ``status`` to every later request on ``path`` (with a ``Location`` header when given)."""
        with self._lock:
            self._statuses[path] = status
            if location is not None:
                self._locations[path] = location

    def _location_for(self, path: str) -> str | None:
        with self._lock:
            return self._locations.get(path)

    def respond_first(self, path: str, statuses: list[int]) -> None:
        """Answer the next requests on ``path`` with ``statuses``, one each in order; then as before."""
        with self._lock:
            self._queued.setdefault(path, []).extend(statuses)

    def hold(self, path: str) -> threading.Event:
        """Leave every request on ``path`` unanswered (a receiver that hangs; each is recorded as it arrives)
        until the returned event is set, at most ``MAX_HOLD_S``; then answer as before."""
        with self._lock:
            return self._held.setdefault(path, threading.Event())

    def _hold_for(self, path: str) -> threading.Event | None:
        with self._lock:
            held = self._held.get(path)
        return held if held is not None and not held.is_set() else None

    def _status_for(self, path: str) -> int:
        with self._lock:
            queued = self._queued.get(path)
            if queued:
                return queued.pop(0)
        if path == "/ok" or path == "/slow":
            return 200
        if path == "/fail":
            return 500
        if path.startswith("/status/"):
            try:
                return int(path.rsplit("/", 1)[1])
            except ValueError:
                return 400
        with self._lock:
            return self._statuses.get(path, 200)

    def _record(self, received: Received) -> None:
        with self._lock:
            self._received.append(received)

    # -- what was received

    def requests(self, path: str | None = None, method: str | None = None) -> list[Received]:
        """Requests received so far, oldest first, optionally only those on ``path`` / with ``method``."""
        with self._lock:
            return [
                r for r in self._received
                if (path is None or r.path == path) and (method is None or r.method == method)
            ]

    def posts(self, path: str) -> list[Received]:
        return self.requests(path, "POST")

    def wait_for_posts(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Received]:
        """Wait until at least ``count`` POSTs reached ``path``; return them all."""
        return wait_until(
            lambda: (lambda got: got if len(got) >= count else None)(self.posts(path)),
            timeout=timeout,
            message=lambda: f"expected {count} POST(s) on {path}, got {len(self.posts(path))}",
        )


def closed_port() -> int:
    """A local port that refuses connections (bound, then closed; nothing listens on it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port_url(path: str = "/") -> str:
    return f"http://127.0.0.1:{closed_port()}{path if path.startswith('/') else '/' + path}"
