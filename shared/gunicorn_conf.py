"""Gunicorn settings of every api process (``--config python:shared.gunicorn_conf``): a worker dies with its master.

A gunicorn worker notices that its master is gone only when its poll loop next wakes up (a second or more, longer
with requests in hand) and serves on the inherited listening socket until then: a master killed with SIGKILL
(the OOM killer, ``kill -9``, a crash) leaves its worker answering for seconds, and a new master started meanwhile
cannot bind the port ("Connection in use"). ``post_fork`` asks Linux to SIGKILL the worker the moment its master
dies (``PR_SET_PDEATHSIG``): the port is free at once, as when a container or pod is killed. A graceful stop is
unchanged: the master outlives its workers. Elsewhere than Linux this is a no-op.

``die_with`` is also used where gunicorn is run without a configuration file (``direct_calls.split.serve``).
"""
from __future__ import annotations

import ctypes
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


def post_fork(server: Any, worker: Any) -> None:
    """Gunicorn's hook, run in each new worker: the worker dies with its master (``server.pid``)."""
    die_with(server.pid)
