"""PostgreSQL databases of a local run (``DATABASE=postgres``): one fresh database per store, dropped afterwards.

The server is the local one, reached through an administrator URL: ``POSTGRES_ADMIN_URL``, default
``postgresql://postgres@127.0.0.1:5432/postgres``. A throwaway run (tests, load harness) gets databases named
``<variant>_<store>_<8 hex>`` and drops them on stop (``python -m harness.launcher run`` too); ``make run``
(``--keep-databases``) uses stable names (``<variant>_<store>``), dropped and created again at start and kept after
stop so their data can be inspected with psql.
"""
from __future__ import annotations

import os
import re
from urllib.parse import urlsplit, urlunsplit

ADMIN_URL_ENV = "POSTGRES_ADMIN_URL"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class DatabaseError(RuntimeError):
    """The PostgreSQL server could not be reached or refused to create or drop a database."""


def admin_url() -> str:
    return os.environ.get(ADMIN_URL_ENV, DEFAULT_ADMIN_URL)


def database_name(variant: str, store: str, run_id: str | None) -> str:
    """``direct_split_grpc_monitor`` (stable) or ``direct_split_grpc_monitor_1f2e3d4c`` (a run's): an unquoted
    PostgreSQL identifier, at most 63 characters."""
    name = "_".join(part for part in (variant, store, run_id) if part).lower().replace("-", "_")
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid PostgreSQL database name")
    return name


def url_of(name: str, admin: str | None = None) -> str:
    """The URL of database ``name`` on the administrator URL's server, with its credentials."""
    parts = urlsplit(admin or admin_url())
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def _connect(admin: str):  # noqa: ANN202 - a psycopg connection
    import psycopg  # the services' driver; imported only for runs that use PostgreSQL

    try:
        return psycopg.connect(admin.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True,
                               connect_timeout=5)
    except psycopg.Error as error:
        raise DatabaseError(f"cannot reach PostgreSQL at {urlsplit(admin).hostname}:{urlsplit(admin).port or 5432} "
                            f"({ADMIN_URL_ENV}): {str(error).strip()}") from None


def create(names: list[str], admin: str | None = None) -> None:
    """Create each database, empty; one left by an earlier run of the same name is dropped first."""
    from psycopg import sql

    with _connect(admin or admin_url()) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop(names: list[str], admin: str | None = None) -> None:
    """Drop each database, closing the connections still open to it."""
    from psycopg import sql

    with _connect(admin or admin_url()) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def existing(prefix: str, admin: str | None = None) -> list[str]:
    """The databases whose name starts with ``prefix`` (tests check that a run left none)."""
    with _connect(admin or admin_url()) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix,)).fetchall()
    return sorted(row[0] for row in rows)
