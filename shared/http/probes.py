"""The probes of a Flask app: ``GET /healthz`` and ``GET /readyz``, the same on the public API and on every
internal HTTP service.

- ``GET /healthz``: 200 ``{"status": "ok"}`` while the process serves requests (nothing else is asked);
- ``GET /readyz``: 200 ``{"status": "ready"}`` while ``reasons()`` is empty, else 503 ``unavailable`` with the
  reasons joined in the message and listed under ``reasons``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from .errors import error_response

Reasons = Callable[[], Iterable[str]]


def add_probe_routes(app: Flask, reasons: Reasons) -> None:
    """Register ``/healthz`` and ``/readyz`` on ``app``; ``reasons()`` says why the process cannot serve now."""

    @app.get("/healthz")
    def healthz() -> Any:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> Any:
        found = list(reasons())
        if found:
            return error_response(503, "unavailable", "not ready: " + "; ".join(found), reasons=found)
        return {"status": "ready"}


def ping_reasons(ping: Callable[[], None], what: str) -> Reasons:
    """Reasons from a ``ping`` that raises when ``what`` (e.g. ``database``) does not answer: none when it returns."""

    def reasons() -> list[str]:
        try:
            ping()
        except Exception as error:  # noqa: BLE001 - any failure means not ready; the reason says which
            return [f"{what}: {type(error).__name__}: {error}"]
        return []

    return reasons
