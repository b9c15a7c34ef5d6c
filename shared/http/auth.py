"""Who is calling: the API key check in front of every public route but the health and OpenAPI ones.

Guarantees: a request to any route other than :data:`OPEN_PATHS` (unknown routes included, so they reveal
nothing) without ``Authorization: Bearer <key>`` of a known key is answered 401 ``unauthenticated`` with
``WWW-Authenticate: Bearer``, before its body is read or the backend is called; a known key without the scope
the method needs (``read`` for GET and HEAD, ``write`` for any other) gets 403 ``forbidden``. A request let
through has its :class:`~shared.auth.Principal` in :func:`principal`; its tenant is what the backend is given.
"""
from __future__ import annotations

from flask import Flask, g, request

from ..auth import KeyRing, Principal
from ..config import ConfigError, Settings
from .errors import Forbidden, Unauthenticated

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json"})
"""Served without a key: probes and the API's own description."""
READ_METHODS = frozenset({"GET", "HEAD"})


def scope_of(method: str) -> str:
    """The scope a request with ``method`` needs."""
    return "read" if method.upper() in READ_METHODS else "write"


def presented_key(header: str | None) -> str | None:
    """The key of an ``Authorization: Bearer <key>`` header (scheme in any case), else None."""
    if not header:
        return None
    scheme, _, key = header.strip().partition(" ")
    key = key.strip()
    return key if scheme.lower() == "bearer" and key else None


def require_key(app: Flask, keys: KeyRing) -> None:
    """Check every request to ``app`` against ``keys`` (see the module's guarantees)."""

    def check() -> None:
        if request.path in OPEN_PATHS:
            return
        found = keys.verify(presented_key(request.headers.get("Authorization")))
        if found is None:
            raise Unauthenticated("a valid API key is required: Authorization: Bearer <key>")
        needed = scope_of(request.method)
        if not found.may(needed):
            raise Forbidden(f"this API key lacks the {needed!r} scope")
        g.principal = found

    app.before_request(check)


def principal() -> Principal:
    """The caller of the request being served (set by the check of :func:`require_key`)."""
    return g.principal


def tenant() -> str:
    return principal().tenant


def startup_keys(settings: Settings) -> KeyRing:
    """The api's keys; without any (or with a malformed entry) the server stops with one line naming ``API_KEYS``.

    Under gunicorn the error is an ``AppImportError``, which gunicorn prints alone and halts on, instead of
    respawning workers that would fail the same way.
    """
    try:
        return settings.keyring()
    except ConfigError as error:
        try:
            from gunicorn.errors import AppImportError
        except ImportError:  # not under gunicorn
            raise error from None
        raise AppImportError(f"configuration error: {error}") from None
