"""What can run before anything starts: the broker, the variants' code, and one-line reasons for what cannot."""

from __future__ import annotations

import json
import subprocess
import sys
from urllib.parse import urlsplit

from harness.topology import VARIANTS
from loadtest.options import ROOT, Options


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return parts._replace(netloc=netloc).geturl()
    return url


def broker_reachable(url: str) -> str | None:
    """None when an AMQP connection opens, else why not."""
    try:
        import pika

        params = pika.URLParameters(url)
        params.socket_timeout = 3
        params.connection_attempts = 1
        params.blocked_connection_timeout = 3
        connection = pika.BlockingConnection(params)
        connection.close()
        return None
    except Exception as error:  # noqa: BLE001 - any failure means no broker
        return f"{type(error).__name__}: {error}"[:200]


def missing_code(names: list[str]) -> dict[str, str]:
    """Variants whose modules cannot be found, with the first missing module (checked in a subprocess)."""
    modules: dict[str, list[str]] = {}
    for name in names:
        mods = []
        for proc in VARIANTS[name].processes:
            argv = list(proc.argv)
            for i, arg in enumerate(argv):
                if arg == "-m" and i + 1 < len(argv) and argv[i + 1] != "gunicorn":
                    mods.append(argv[i + 1])
                elif ":" in arg and "(" in arg and not arg.startswith("{"):
                    mods.append(arg.split(":", 1)[0])
        modules[name] = mods
    script = (
        "import importlib.util, json, sys\n"
        "out = {}\n"
        "for m in json.loads(sys.argv[1]):\n"
        "    try:\n"
        "        out[m] = importlib.util.find_spec(m) is not None\n"
        "    except Exception:\n"
        "        out[m] = False\n"
        "print(json.dumps(out))\n"
    )
    wanted = sorted({m for mods in modules.values() for m in mods})
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, json.dumps(wanted)], capture_output=True, text=True, timeout=60, cwd=ROOT
        )
        found = json.loads(done.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, ValueError, IndexError):
        return {}
    missing = {}
    for name, mods in modules.items():
        absent = [m for m in mods if not found.get(m)]
        if absent:
            missing[name] = f"code does not exist yet (module {absent[0]} not found)"
    return missing


def launch_reason(error: BaseException) -> str:
    """A one-line reason from a LaunchError: its first line and the last exception line of the process log."""
    text = str(error)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    head = lines[0] if lines else type(error).__name__
    errors = [line for line in lines[1:] if "Error" in line or "Exception" in line]
    reason = head + (f" — {errors[-1]}" if errors else "")
    return reason[:300]


def unavailable(options: Options) -> tuple[str | None, dict[str, str]]:
    """The broker error (None when reachable) and, per variant that cannot run, why not."""
    broker_error = broker_reachable(options.rabbitmq_url)
    not_run: dict[str, str] = {}
    if broker_error:
        for name in options.variants:
            if VARIANTS[name].needs_broker:
                not_run[name] = f"not run: no RabbitMQ at {redact(options.rabbitmq_url)}"
    for name, why in missing_code([v for v in options.variants if v not in not_run]).items():
        not_run[name] = f"not run: {why}"
    return broker_error, not_run
