"""Work a process repeats on its own, beside the requests (sending again what a crashed process left behind)."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Calls ``work`` every ``every_s`` seconds on a daemon thread until :meth:`stop`; an exception is logged and
    the next round runs as planned (the database may be back by then)."""

    def __init__(self, name: str, every_s: float, work: Callable[[], object]):
        self._name = name
        self._every_s = every_s
        self._work = work
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Periodic:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(self._every_s):
            try:
                self._work()
            except Exception:  # noqa: BLE001 - a background round must not end the thread
                log.exception("%s failed; trying again in %.1f s", self._name, self._every_s)
