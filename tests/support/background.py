"""A client that keeps making requests on a thread while a test does something else (a fault, a restart)."""
from __future__ import annotations

import threading
from typing import Self

from tests.support.api import ApiClient


class BackgroundClient:
    """Calls ``step()`` on its own thread, pausing ``pace_s`` between calls, from ``with`` entry to exit.

    The pause paces the requests; it is not a wait for an effect. Exiting stops the thread, waits for
    the step in hand and closes the client.
    """

    pace_s = 0.05

    def __init__(self, base_url: str, timeout_s: float, name: str, api_key: str | None = None):
        self._client = ApiClient(base_url, timeout_s=timeout_s, api_key=api_key)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def step(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            self.step()
            self._stop.wait(self.pace_s)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._client.close()
