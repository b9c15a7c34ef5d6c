"""Run one service: ``python -m direct_calls.split.serve monitor|alerting|notification``.

Environment: ``TRANSPORT`` (grpc or http), ``HOST`` and ``PORT`` (where to listen; default
0.0.0.0:8080), ``DATABASE_URL`` (this service's own database) and the address of the service it
calls (``ALERTING_ADDR`` for the monitor, ``NOTIFICATION_ADDR`` for alerting). Serves until SIGTERM or
SIGINT, then lets in-flight calls finish and exits.
"""
from __future__ import annotations

import argparse
import os
import sys

from shared.config import ConfigError, Settings, configure_logging

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
        if peer:
            settings.require(f"{peer}_addr")  # fail now, not in the first call
        host, port = os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8080"))
    except (ConfigError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    remote.serve(name, lambda: bootstrap.service(name, settings), host, port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
