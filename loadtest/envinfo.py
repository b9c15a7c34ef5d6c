"""The environment of a run: machine, Python, package versions, broker version, code revision, date."""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "flask",
    "werkzeug",
    "gunicorn",
    "requests",
    "urllib3",
    "grpcio",
    "protobuf",
    "pika",
    "sqlalchemy",
    "pydantic",
    "psycopg",
    "locust",
    "gevent",
    "geventhttpclient",
    "psutil",
    "matplotlib",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _run(argv: list[str], timeout: float = 10.0) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def rabbitmq_version(url: str) -> dict:
    """``rabbitmqctl version`` when it answers, else the broker's ``server_properties`` over AMQP."""
    if shutil.which("rabbitmqctl"):
        text = _run(["rabbitmqctl", "version"], timeout=15)
        if text:
            return {"version": text.splitlines()[-1].strip(), "source": "rabbitmqctl version"}
    try:
        import pika

        params = pika.URLParameters(url)
        params.socket_timeout = 3
        params.blocked_connection_timeout = 3
        connection = pika.BlockingConnection(params)
        try:
            props = connection._impl.server_properties  # noqa: SLF001 - the handshake's server properties
            version = props.get("version")
            product = props.get("product")
            decode = lambda v: v.decode() if isinstance(v, bytes) else v  # noqa: E731
            return {"version": decode(version), "product": decode(product), "source": "AMQP server_properties"}
        finally:
            connection.close()
    except Exception as error:  # noqa: BLE001 - reported, not fatal
        return {"version": None, "source": f"unreachable: {type(error).__name__}"}


def collect(rabbitmq_url: str | None) -> dict:
    import psutil

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_total_bytes": psutil.virtual_memory().total,
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "sqlite": sqlite3.sqlite_version,
        "packages": versions,
        "rabbitmq": rabbitmq_version(rabbitmq_url) if rabbitmq_url else {"version": None, "source": "broker not reachable"},
        "git_revision": _run(["git", "rev-parse", "--short", "HEAD"]),
        "git_dirty": bool(_run(["git", "status", "--porcelain"])),
        "load_average_at_start": list(os.getloadavg()),
    }
