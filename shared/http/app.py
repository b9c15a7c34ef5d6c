"""The public HTTP edge as a Flask app over any variant's :class:`Backend`.

Guarantees:
- every response is JSON (``application/json``), errors always ``{"error": {"code", "message"}}``;
- input is validated by the models of :mod:`shared.http.schemas` before the backend is called, so bad
  input (including a target id that is not a UUID, answered 404) never reaches the backend;
- bodies over 64 KiB are refused with 413 whether or not a ``Content-Length`` announced them; a request target
  (path and query string) over 4 KiB with 414 ``uri_too_long``;
- a body must be declared ``application/json`` (a charset parameter is allowed), else 415;
  ``POST /targets`` and ``POST /targets/{id}/results`` require one; ``POST /targets/{id}/check`` takes
  none or an empty object;
- every route but ``/healthz``, ``/readyz`` and ``/openapi.json`` needs an API key (:mod:`shared.http.auth`: 401
  without a known one, 403 without the method's scope), and the backend is called with the key's tenant.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import flask
from flask import Flask, Response, current_app, request
from flask.json.provider import DefaultJSONProvider
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge, RequestURITooLarge, UnsupportedMediaType
from werkzeug.routing import BaseConverter

from shared.serialize import alert_json, notification_json, result_json, target_json

from ..auth import KeyRing
from .auth import require_key, tenant
from .backend import Backend
from .errors import register_error_handlers
from .metrics import observe_requests
from .openapi import build_openapi
from .probes import add_probe_routes
from .schemas import (
    AlertsQuery,
    CheckRequest,
    NotificationsQuery,
    ResultCreate,
    ResultsQuery,
    TargetCreate,
    TargetsQuery,
    invalid_input,
)

MAX_BODY_BYTES = 64 * 1024
MAX_URI_BYTES = 4096
"""The longest request target (path and query string, as sent) served; longer ones get 414 ``uri_too_long``."""
JSON_MIMETYPE = "application/json"

M = TypeVar("M", bound=BaseModel)


class _JsonResponse(Response):
    """Responses are JSON unless stated otherwise, so no path (HEAD, errors, 204) ever says HTML."""

    default_mimetype = JSON_MIMETYPE


class _ContractJson(DefaultJSONProvider):
    """Keys in the contract's order, compact output whatever the debug setting."""

    sort_keys = False
    compact = True


class _TargetIdConverter(BaseConverter):
    """Matches a hyphenated UUID string (any case) and yields it lower-cased; anything else is no route (404)."""

    regex = r"[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}"

    def to_python(self, value: str) -> str:
        return value.lower()


def _validate(validate: Callable[[Any], M], data: Any, subject: str) -> M:
    try:
        return validate(data)
    except ValidationError as error:
        raise invalid_input(error, subject) from None


def _refuse_long_uri() -> None:
    """414 for a request target over :data:`MAX_URI_BYTES`, as sent (gunicorn: RAW_URI; werkzeug: REQUEST_URI)."""
    environ = request.environ
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI") or request.full_path
    if len(target) > MAX_URI_BYTES:
        raise RequestURITooLarge(f"the request target (path and query string) is longer than {MAX_URI_BYTES} bytes")


def _read_body() -> bytes:
    """The raw request body; 413 when it exceeds the limit, also when no Content-Length announced its size."""
    limit: int = current_app.config["MAX_CONTENT_LENGTH"]
    body = bytearray()
    # A stream may answer short reads; read until it ends or one byte past the limit. (Werkzeug's own
    # limited stream raises 413 by itself when a streamed body reaches the limit and more is asked for.)
    while len(body) <= limit and (chunk := request.stream.read(limit + 1 - len(body))):
        body += chunk
    if len(body) > limit:
        raise RequestEntityTooLarge()
    return bytes(body)


def _parse_body(model: type[M], raw: bytes) -> M:
    """``raw`` as ``model``: 415 unless the request says application/json, 400 unless it validates."""
    if request.mimetype != JSON_MIMETYPE:
        raise UnsupportedMediaType()
    return _validate(model.model_validate_json, raw, "body")


def _query(model: type[M]) -> M:
    """The query string as ``model``; a repeated parameter is a list, which no scalar field accepts (400)."""
    params = {name: values[0] if len(values) == 1 else values for name, values in request.args.lists()}
    return _validate(model.model_validate, params, "query")


def _register_routes(app: Flask, backend: Backend, openapi_document: dict[str, Any]) -> None:
    add_probe_routes(app, backend.readiness)

    @app.get("/openapi.json")
    def openapi() -> Any:
        return openapi_document

    @app.post("/targets")
    def create_target() -> Any:
        new = _parse_body(TargetCreate, _read_body()).to_domain()
        target = backend.create_target(tenant(), new)
        return target_json(target), 201, {"Location": f"/targets/{target.id}"}

    @app.get("/targets")
    def list_targets() -> Any:
        query = _query(TargetsQuery)
        page = backend.list_targets(tenant(), query.limit, query.offset)
        return {"items": [target_json(target) for target in page.items], "total": page.total}

    @app.get("/targets/<target_id:target_id>")
    def get_target(target_id: str) -> Any:
        return target_json(backend.get_target(tenant(), target_id))

    @app.delete("/targets/<target_id:target_id>")
    def delete_target(target_id: str) -> Any:
        backend.delete_target(tenant(), target_id)
        return "", 204

    @app.post("/targets/<target_id:target_id>/results")
    def ingest_result(target_id: str) -> Any:
        new = _parse_body(ResultCreate, _read_body()).to_domain()
        result = backend.ingest_result(tenant(), target_id, new)
        return {"id": result.id, "target_id": result.target_id, "accepted": True}, 202

    @app.get("/targets/<target_id:target_id>/results")
    def list_results(target_id: str) -> Any:
        query = _query(ResultsQuery)
        return {"items": [result_json(result) for result in backend.list_results(tenant(), target_id, query.limit)]}

    @app.post("/targets/<target_id:target_id>/check")
    def check_target(target_id: str) -> Any:
        raw = _read_body()
        if raw:
            _parse_body(CheckRequest, raw)
        return result_json(backend.check_target(tenant(), target_id))

    @app.get("/alerts")
    def list_alerts() -> Any:
        query = _query(AlertsQuery)
        return {"items": [alert_json(alert) for alert in backend.list_alerts(tenant(), query.target_id, query.state)]}

    @app.get("/notifications")
    def list_notifications() -> Any:
        query = _query(NotificationsQuery)
        notifications = backend.list_notifications(tenant(), query.target_id, query.alert_id)
        return {"items": [notification_json(notification) for notification in notifications]}


def create_app(backend: Backend, keys: KeyRing) -> Flask:
    """The public API of one variant, serving ``backend`` to the callers of ``keys`` (each sees its tenant's data only).
    No I/O happens until a request arrives."""
    app = flask.Flask(__name__, static_folder=None)  # looked up now: tracing may have instrumented the class
    observe_requests(app, "api")
    app.response_class = _JsonResponse
    app.json = _ContractJson(app)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, PROVIDE_AUTOMATIC_OPTIONS=False)
    app.url_map.converters["target_id"] = _TargetIdConverter
    register_error_handlers(app)
    app.before_request(_refuse_long_uri)
    require_key(app, keys)
    _register_routes(app, backend, build_openapi())
    return app
