"""Gunicorn settings of every api process (``--config python:shared.gunicorn_conf``): a worker dies with its master.

A gunicorn worker notices that its master is gone only when its poll loop next wakes up (a second or more, longer
with requests in hand) and serves on the inherited listening socket until then: a master killed with SIGKILL
(the OOM killer, ``kill -9``, a crash) leaves its worker answering for seconds, and a new master started meanwhile
cannot bind the port ("Connection in use"). ``post_fork`` asks Linux to SIGKILL the worker the moment its master
dies (``PR_SET_PDEATHSIG``): the port is free at once, as when a container or pod is killed. A graceful stop is
unchanged: the master outlives its workers. Elsewhere than Linux this is a no-op.

Gunicorn answers the requests it refuses before the app sees them (a request line over ``--limit-request-line``,
malformed headers) with an HTML page; ``post_fork`` makes those answers the contract's JSON error body too
(``{"error": {"code", "message"}}``, 414 ``uri_too_long``, otherwise ``invalid_argument`` or ``internal``).

``die_with`` is also used where gunicorn is run without a configuration file (``direct_calls.split.serve``).
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
from typing import Any

_PR_SET_PDEATHSIG = 1

try:
    _prctl: Any = ctypes.CDLL("libc.so.6", use_errno=True).prctl
except (OSError, AttributeError):  # not Linux/glibc
    _prctl = None


def die_with(parent_pid: int, signum: int = signal.SIGKILL) -> None:
    """Have Linux send ``signum`` to this process when its parent, ``parent_pid``, dies.

    Call it in the main thread of the child, right after the fork. If the parent died already (before the request
    was made, so no signal will come), the process exits at once.
    """
    if _prctl is None or _prctl(_PR_SET_PDEATHSIG, signum) != 0:
        return
    if os.getppid() != parent_pid:
        os._exit(1)


_CODE_BY_STATUS = {400: "invalid_argument", 403: "forbidden", 414: "uri_too_long", 417: "invalid_argument",
                   431: "invalid_argument", 500: "internal", 501: "not_implemented"}


def json_error(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 answer carrying the contract's error body; the connection is closed after it."""
    code = _CODE_BY_STATUS.get(status, "invalid_argument" if 400 <= status < 500 else "internal")
    body = json.dumps({"error": {"code": code, "message": message or reason}}, separators=(",", ":")).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


def _write_json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    from gunicorn import util

    util.write_nonblock(sock, json_error(status_int, reason, mesg))


def use_json_errors() -> None:
    """Make gunicorn write its own refusals (``gunicorn.util.write_error``) as the contract's JSON error body."""
    from gunicorn import util

    util.write_error = _write_json_error


def post_fork(server: Any, worker: Any) -> None:
    """Gunicorn's hook, run in each new worker: the worker dies with its master (``server.pid``), and gunicorn's own
    error answers are JSON."""
    die_with(server.pid)
    use_json_errors()
