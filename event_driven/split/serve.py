"""Run one service's handlers: ``python -m event_driven.split.serve monitor|alerting|notification``.

Environment: ``EVENT_BUS`` (rabbitmq), ``RABBITMQ_URL``, ``BUS_NAMESPACE``, ``DATABASE_URL`` (this
service's own database), ``HOST`` and ``PORT`` (default 0.0.0.0:8080) for the probes:
- ``GET /healthz``: 200 once the bus has declared this service's queues and consumes them, and from
  then on while the process lives (a lost broker connection is reconnected by the bus, not by a
  restart); 503 before;
- ``GET /readyz``: 200 while the bus is connected, else 503 with the reasons.
Handles events until SIGTERM or SIGINT, then finishes the ones in hand and exits.

``python -m event_driven.split.serve --delete-namespace`` deletes the exchanges and queues of
``BUS_NAMESPACE`` instead (tearing down a test or load-test run; messages in them are lost).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from event_driven.monolith.handlers import SERVICES, groups
from shared.config import ConfigError, Settings, configure_logging
from shared.probes import probe_server
from shared.telemetry import setup as setup_telemetry

from .bootstrap import bootstrap
from .rabbitmq_topology import delete_topology


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m event_driven.split.serve", description=__doc__.splitlines()[0])
    parser.add_argument("service", choices=SERVICES, nargs="?")
    parser.add_argument("--delete-namespace", action="store_true", help="delete BUS_NAMESPACE's exchanges and queues")
    args = parser.parse_args(argv)
    if args.delete_namespace:
        return _delete_namespace(Settings.from_env())
    if args.service is None:
        parser.error("a service is required")
    name = args.service
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        settings = Settings.from_env(default_db_name=name)
        configure_logging(settings.log_level)
        setup_telemetry(name)  # before the bus and the engine are made
        host, port = os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8080"))
        application = bootstrap(settings, services=[name], with_edge=False)
    except (ConfigError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    server = probe_server(host, port, application.bus.health)
    threading.Thread(target=server.serve_forever, name="probes", daemon=True).start()
    stop.wait()
    server.shutdown()
    application.close(timeout_s=5.0)
    return 0


def _delete_namespace(settings: Settings) -> int:
    delete_topology(settings.rabbitmq_url, settings.bus_namespace, sorted(group.name for group in groups()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
