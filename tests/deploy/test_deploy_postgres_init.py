"""The PostgreSQL init script of compose and k8s (k8s/base/create-databases.sh) creates one database per name.

Runs the script as the postgres image's entrypoint would (POSTGRES_USER, POSTGRES_DATABASES, libpq's PG*
variables) against the test server at TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test),
with names of its own that it drops afterwards.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from shared.storage.database import make_engine

from .support import ROOT

SCRIPT = ROOT / "k8s" / "base" / "create-databases.sh"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"

pytestmark = pytest.mark.postgres


def test_the_script_is_executable_posix_shell() -> None:
    assert SCRIPT.read_text().startswith("#!/bin/sh\n")
    assert SCRIPT.stat().st_mode & 0o111, "the postgres entrypoint executes it (else it would source it)"
    assert subprocess.run(["sh", "-n", str(SCRIPT)]).returncode == 0


def test_creates_every_listed_database() -> None:
    if not shutil.which("psql"):
        pytest.skip("psql is not installed")
    url = make_url(os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL unreachable: {error.orig}")
        pytest.skip(f"PostgreSQL unreachable: {error.orig}")
    suffix = uuid.uuid4().hex[:8]
    names = [f"deploy_init_{suffix}_monitor", f"deploy-init-{suffix}-alerting"]  # a hyphen needs quoting
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_DATABASES": " ".join(names),
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGPASSWORD": url.password or "",
    }
    try:
        result = subprocess.run([str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        with engine.connect() as connection:
            found = set(connection.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                                           {"p": f"deploy%{suffix}%"}).scalars())
        assert found == set(names)
    finally:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        engine.dispose()
