"""Run one service: ``python -m event_plain.split.serve monitor|alerting|notification``.

Environment: ``RABBITMQ_URL``, ``BUS_NAMESPACE``, ``DATABASE_URL`` (this service's own database), ``HOST`` and
``PORT`` (default 0.0.0.0:8080) for the probes: ``GET /healthz`` answers 200 once every queue of the service is
consumed and from then on while the process lives (a lost broker connection is reconnected, not restarted);
``GET /readyz`` answers 200 while they are, else 503 with the reasons. Serves until SIGTERM or SIGINT.

``python -m event_plain.split.serve --delete-namespace`` deletes ``BUS_NAMESPACE``'s queues and exchange instead
(the end of a throwaway run; messages in them are lost).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from shared.config import ConfigError, Settings, configure_logging
from shared.probes import probe_server
from shared.telemetry import setup as setup_telemetry

from . import broker
from .bootstrap import bootstrap


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m event_plain.split.serve", description=__doc__.splitlines()[0])
    parser.add_argument("service", choices=broker.SERVICES, nargs="?")
    parser.add_argument("--delete-namespace", action="store_true", help="delete BUS_NAMESPACE's exchange and queues")
    args = parser.parse_args(argv)
    if args.delete_namespace:
        settings = Settings.from_env()
        broker.delete(settings.rabbitmq_url, settings.bus_namespace)
        return 0
    if args.service is None:
        parser.error("a service is required")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        settings = Settings.from_env(default_db_name=args.service)
        configure_logging(settings.log_level)
        setup_telemetry(args.service)  # before the broker connections and the engine are made
        service = bootstrap(settings, args.service)
        server = probe_server(os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8080")), service.health)
    except (ConfigError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    service.start()
    threading.Thread(target=server.serve_forever, name="probes", daemon=True).start()
    stop.wait()
    server.shutdown()
    service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
