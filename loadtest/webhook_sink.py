"""The webhook receiver of the fault runs: it counts what arrives per delivery and can be made slow or failing.

Every stream target of a fault run has its webhook URL here, so each alert change the system announces should
arrive once per (alert, event): the sender's ``Idempotency-Key`` header names it. The sink records every POST (time,
key, the status it answered) so the harness can count sends, not only stored rows: a delivery answered 2xx more
than once for one key is a **duplicated send**. ``mode`` switches how it answers: ``ok`` (204 at once), ``slow``
(204 after ``slow_s``), ``fail`` (500).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

IDEMPOTENCY_HEADER = "Idempotency-Key"
MODES = ("ok", "slow", "fail")


class WebhookSink:
    """A threaded HTTP server on 127.0.0.1 (a context manager); ``url`` is where targets send their webhooks."""

    def __init__(self, slow_s: float = 3.0) -> None:
        self.slow_s = slow_s
        self.mode = "ok"
        self._lock = threading.Lock()
        self._records: list[dict] = []
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> WebhookSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the base class's naming
                received = time.time()
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                mode = sink.mode
                if mode == "slow":
                    time.sleep(sink.slow_s)
                status = 500 if mode == "fail" else 204
                sink._record(received, self.headers.get(IDEMPOTENCY_HEADER) or "", status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="webhook-sink", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None, "the sink is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.mode = mode

    def _record(self, t: float, key: str, status: int) -> None:
        with self._lock:
            self._records.append({"t": t, "key": key, "status": status})

    def records(self) -> list[dict]:
        with self._lock:
            return list(self._records)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps({"records": self.records(), "slow_s": self.slow_s}))


def sends(records: list[dict], t0: float = float("-inf"), t1: float = float("inf")) -> dict:
    """What arrived for the deliveries first seen in ``[t0, t1)``: POSTs, deliveries (keys), deliveries answered 2xx,
    and duplicated sends (2xx answers beyond the first for one key: the receiver acted twice)."""
    first: dict[str, float] = {}
    for r in records:
        first.setdefault(r["key"], r["t"])
    keys = {k for k, t in first.items() if t0 <= t < t1}
    mine = [r for r in records if r["key"] in keys]
    ok = Counter(r["key"] for r in mine if 200 <= r["status"] < 300)
    return {
        "posts": len(mine),
        "deliveries": len(keys),
        "delivered": len(ok),
        "duplicated_sends": sum(n - 1 for n in ok.values() if n > 1),
    }
