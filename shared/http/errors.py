"""Every failure as the public error body ``{"error": {"code": ..., "message": ...}}``.

Guarantees: each error answer is JSON with a code of the contract; domain errors keep their message;
werkzeug's HTTP errors (unknown route, wrong method, URI or body too large, wrong media type) get their
contract code; anything unexpected (including a ``DomainError`` without a public code) is logged with
its traceback, the method and the path (never the query string nor the body, which may hold webhook URLs)
and answered ``500 internal`` with a fixed message, never a stack trace or HTML.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from ..domain import Conflict, DeadlineExceeded, DomainError, InvalidArgument, NotFound, Unavailable

_log = logging.getLogger(__name__)

INTERNAL_MESSAGE = "internal error"

class Unauthenticated(DomainError):
    """No API key, or one the api does not know: 401 with ``WWW-Authenticate: Bearer``."""

    code = "unauthenticated"


class Forbidden(DomainError):
    """A known key without the scope the request needs: 403."""

    code = "forbidden"


#: HTTP status of each public domain error code; a code not listed here is answered 500 internal.
STATUS_BY_CODE: dict[str, int] = {
    InvalidArgument.code: 400,
    Unauthenticated.code: 401,
    Forbidden.code: 403,
    NotFound.code: 404,
    Conflict.code: 409,
    Unavailable.code: 503,
    DeadlineExceeded.code: 504,
}

# Contract code and message template of werkzeug's HTTP errors, by status. Templates may use
# {method}, {path}, {limit} (the body limit in bytes) and {description} (the exception's own text).
_HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_argument", "{description}"),
    404: ("not_found", "no such resource: {path}"),
    405: ("method_not_allowed", "method {method} is not allowed on {path}"),
    413: ("payload_too_large", "request body is larger than {limit} bytes"),
    414: ("uri_too_long", "{description}"),
    415: ("unsupported_media_type", "request body must be application/json"),
}


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str, **extra: Any) -> tuple[Response, int]:
    """The JSON error answer; ``extra`` adds top-level fields after ``error`` (e.g. ``reasons``)."""
    return jsonify({**error_body(code, message), **extra}), status


def _internal(error: BaseException) -> tuple[Response, int]:
    # The path only: the query string and the body are the client's data (webhook URLs, names).
    _log.exception("unhandled error on %s %s", request.method, request.path, exc_info=error)
    return error_response(500, "internal", INTERNAL_MESSAGE)


def _on_domain_error(error: DomainError) -> tuple[Response, int]:
    status = STATUS_BY_CODE.get(error.code)
    if status is None:
        return _internal(error)
    if status >= 500:
        _log.warning("%s %s: %s: %s", request.method, request.path, error.code, error.message)
    response, _ = error_response(status, error.code, error.message)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="monitoring"'
    return response, status


def _on_http_error(error: HTTPException) -> tuple[Response, int]:
    status = error.code or 500
    code, template = _HTTP_ERRORS.get(status, (error.name.lower().replace(" ", "_"), "{description}"))
    message = template.format(
        method=request.method, path=request.path,
        limit=current_app.config["MAX_CONTENT_LENGTH"], description=error.description or error.name,
    )
    response, _ = error_response(status, code, message)
    # Keep protocol headers such as 405's Allow; the body and its type are ours.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    if status == 413:
        _discard_unread_body()
        response.headers["Connection"] = "close"
    return response, status


_DISCARD_LIMIT = 1024 * 1024


def _discard_unread_body() -> None:
    """Read what is left of a refused body (up to 1 MiB) and close the connection after answering.

    Closing a socket with unread data makes the kernel reset it, and the client may lose the 413.
    """
    stream = request.environ.get("wsgi.input")
    remaining = _DISCARD_LIMIT
    try:
        while stream is not None and remaining > 0 and (chunk := stream.read(min(65536, remaining))):
            remaining -= len(chunk)
    except (OSError, ValueError):
        pass


def _on_unexpected(error: Exception) -> tuple[Response, int]:
    return _internal(error)


def register_error_handlers(app: Flask) -> None:
    """Make every error ``app`` can raise answer with the public error body."""
    app.register_error_handler(DomainError, _on_domain_error)
    app.register_error_handler(HTTPException, _on_http_error)
    app.register_error_handler(Exception, _on_unexpected)
