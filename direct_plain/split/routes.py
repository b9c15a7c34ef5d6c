"""The internal HTTP API of each service: a Flask app whose routes open the service's transactions (the api's
backend did, in the monolith) and call the service. Errors are the public error body (``shared.http.errors``), which
the peers' clients raise again as the domain error. ``/healthz`` answers while the process lives, ``/readyz``
while its database answers too.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask
from flask import Flask, request
from sqlalchemy.exc import IntegrityError

from direct_plain.monolith.database import Database
from direct_plain.monolith.monitor import MonitorService
from shared.domain import Alert, CheckResult, NewResult, NewTarget, RuleParams
from shared.http.errors import register_error_handlers
from shared.http.metrics import observe_requests
from shared.http.probes import add_probe_routes, ping_reasons

from .alerting import SplitAlertingService
from .codec import from_json, to_json
from .notification import SplitNotificationService

MAX_BODY = 1024 * 1024


def _tenant() -> str:
    return request.args["tenant"]


def _items(values: list[Any]) -> dict[str, Any]:
    return {"items": [to_json(value) for value in values]}


def service_app(name: str, db: Database, routes: Callable[[Flask], None]) -> Flask:
    app = flask.Flask(f"{name}-service", static_folder=None)  # looked up now: tracing may have instrumented it
    observe_requests(app, name)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    register_error_handlers(app)
    routes(app)

    add_probe_routes(app, ping_reasons(db.ping, "database"))

    return app


def monitor_app(db: Database, monitor: MonitorService) -> Flask:
    def routes(app: Flask) -> None:
        @app.post("/targets")
        def create_target() -> Any:
            with db.transaction():
                return to_json(monitor.create_target(_tenant(), from_json(request.get_json(), NewTarget)))

        @app.get("/targets")
        def list_targets() -> Any:
            with db.reading():
                return to_json(monitor.list_targets(_tenant(), int(request.args["limit"]), int(request.args["offset"])))

        @app.get("/targets/<target_id>")
        def get_target(target_id: str) -> Any:
            with db.reading():
                return to_json(monitor.get_target(_tenant(), target_id))

        @app.delete("/targets/<target_id>")
        def delete_target(target_id: str) -> Any:
            with db.transaction():
                monitor.delete_target(_tenant(), target_id)
            return {}

        @app.post("/targets/<target_id>/results")
        def ingest_result(target_id: str) -> Any:
            """Recorded in one transaction; handed to alerting after the commit, before the answer."""
            with db.transaction():
                result = monitor.ingest_result(_tenant(), target_id, from_json(request.get_json(), NewResult))
            return to_json(result)

        @app.get("/targets/<target_id>/results")
        def list_results(target_id: str) -> Any:
            with db.reading():
                return _items(monitor.list_results(_tenant(), target_id, int(request.args["limit"])))

        @app.post("/targets/<target_id>/check")
        def check_target(target_id: str) -> Any:
            with db.reading():
                target = monitor.get_target(_tenant(), target_id)
            outcome = monitor.probe(target)  # no transaction open while the target's URL answers
            with db.transaction():
                result = monitor.ingest_result(_tenant(), target_id, outcome)
            return to_json(result)

    return service_app("monitor", db, routes)


def alerting_app(db: Database, alerting: SplitAlertingService) -> Flask:
    def routes(app: Flask) -> None:
        @app.put("/evaluations/<result_id>")
        def evaluate(result_id: str) -> Any:
            """Applied once per result id; its alert changes are handed to notification after the commit."""
            body = request.get_json()
            with db.transaction():
                alerting.evaluate(from_json(body["result"], CheckResult), from_json(body["params"], RuleParams))
            return {}

        @app.get("/alerts")
        def list_alerts() -> Any:
            with db.reading():
                return _items(alerting.list_alerts(_tenant(), request.args.get("target_id"), request.args.get("state")))

    return service_app("alerting", db, routes)


def notification_app(db: Database, notification: SplitNotificationService) -> Flask:
    def routes(app: Flask) -> None:
        @app.put("/deliveries/<alert_id>/<event>")
        def notify(alert_id: str, event: str) -> Any:
            """Notified once per (alert, event); a webhook is POSTed after the commit, before the answer."""
            body = request.get_json()
            try:
                with db.transaction():
                    notification.notify(from_json(body["alert"], Alert), event, body["webhook_url"])  # type: ignore[arg-type]
            except IntegrityError:
                pass  # a concurrent call for the same change committed it first
            return {}

        @app.get("/notifications")
        def list_notifications() -> Any:
            with db.reading():
                return _items(notification.list_notifications(_tenant(), request.args.get("target_id"),
                                                              request.args.get("alert_id")))

    return service_app("notification", db, routes)
