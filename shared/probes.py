"""The probes of a process that serves no HTTP of its own (a consumer of a broker): ``GET /healthz``, ``/readyz``.

Standard library only. ``health()`` returns the reasons the process cannot serve now (empty when it can):
- ``GET /healthz``: 200 once ``health()`` was empty, and from then on while the process lives (a lost
  connection is the process's to reconnect, not a reason to restart it); 503 before;
- ``GET /readyz``: 200 while ``health()`` is empty, else 503 with the reasons.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Health = Callable[[], list[str]]


def probe_server(host: str, port: int, health: Health) -> ThreadingHTTPServer:
    """A server of the probes on ``host:port``, bound but not serving: run ``serve_forever`` on a thread,
    ``shutdown`` to stop it."""
    server = ThreadingHTTPServer((host, port), _probes(health))
    server.daemon_threads = True
    return server


def _probes(health: Health) -> type[BaseHTTPRequestHandler]:
    started = threading.Event()

    class Probes(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            reasons = health()
            if not reasons:
                started.set()
            if self.path == "/healthz" and started.is_set():
                self._answer(200, {"status": "ok"})
            elif self.path == "/healthz":
                self._answer(503, {"status": "starting", "reasons": reasons})
            elif self.path == "/readyz":
                self._answer(503 if reasons else 200, {"status": "unavailable" if reasons else "ok", "reasons": reasons})
            else:
                self._answer(404, {"error": {"code": "not_found", "message": "not found"}})

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - probes are not logged
            pass

    return Probes
