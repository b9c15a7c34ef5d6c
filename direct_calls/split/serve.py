"""Run one service: ``python -m direct_calls.split.serve monitor|alerting|notification``.

Environment: ``TRANSPORT`` (grpc or http), ``HOST`` and ``PORT`` (where to listen; default
0.0.0.0:8080), ``DATABASE_URL`` (this service's own database) and the address of the service it
calls (``ALERTING_ADDR`` for the monitor, ``NOTIFICATION_ADDR`` for alerting), this service's token (``MONITOR_TOKEN``,
``ALERTING_TOKEN`` or ``NOTIFICATION_TOKEN``: the server refuses every call without it, see :mod:`.credentials`) and
the token of the service it calls. Without its own token the service does not start (exit 2). Serves until SIGTERM or
SIGINT, then lets in-flight calls finish and exits. The HTTP server's worker (a gunicorn process forked by this
one) dies the moment this process dies, even by SIGKILL (:func:`shared.gunicorn_conf.die_with`), so that nothing
keeps serving on the port a restarted service binds.
"""
from __future__ import annotations

import argparse
import os
import sys

from shared.config import ConfigError, Settings, configure_logging
from shared.gunicorn_conf import die_with
from shared.telemetry import setup as setup_telemetry

from . import bootstrap


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m direct_calls.split.serve", description=__doc__.splitlines()[0])
    parser.add_argument("service", choices=list(bootstrap.PEERS))
    name = parser.parse_args(argv).service
    try:
        settings = Settings.from_env(default_db_name=name)
        configure_logging(settings.log_level)
        remote = bootstrap.transport(settings)
        peer = bootstrap.PEERS[name]
        token = settings.token(name)  # no token, no service
        if peer:
            settings.require(f"{peer}_addr")  # fail now, not in the first call
            settings.token(peer)
        host, port = os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8080"))
    except (ConfigError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    master = os.getpid()

    def build_service() -> object:
        if os.getpid() != master:  # a server that forks (HTTP: gunicorn) builds the service in its worker
            die_with(master)  # which must not outlive this process, nor keep serving on its port
        setup_telemetry(name)  # where it serves (HTTP: the worker), before its server, channels and engine
        return bootstrap.service(name, settings)

    remote.serve(name, build_service, host, port, token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
