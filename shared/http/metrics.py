"""Request rate, errors and duration of a Flask app, per route (:mod:`shared.telemetry.metrics`).

:func:`observe_requests` is called right after the app is made, so its timer starts before any other
``before_request`` hook (the api's key check) can answer; every answer is counted, errors and refusals included.
"""
from __future__ import annotations

import time

from flask import Flask, Response, request

from shared.telemetry.metrics import HTTP_SERVER_DURATION, HTTP_SERVER_REQUESTS

_STARTED = "telemetry.started"


def observe_requests(app: Flask, server: str) -> None:
    """Count and time each request ``app`` answers, labelled ``server`` and the request's route rule."""

    @app.before_request
    def started() -> None:
        request.environ[_STARTED] = time.perf_counter()

    @app.after_request
    def answered(response: Response) -> Response:
        rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
        HTTP_SERVER_REQUESTS.labels(server, request.method, rule, str(response.status_code)).inc()
        started_at = request.environ.get(_STARTED)
        if started_at is not None:
            HTTP_SERVER_DURATION.labels(server, request.method, rule).observe(time.perf_counter() - started_at)
        return response
