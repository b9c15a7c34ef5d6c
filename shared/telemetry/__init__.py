"""Telemetry of a process: Prometheus metrics always, OpenTelemetry traces when asked for.

Each process's entrypoint calls :func:`setup` once, with its service's name, before it builds its app, server,
channels or database engines::

    telemetry.setup("monitor")

- Metrics (:mod:`.metrics`): served on ``METRICS_PORT`` when it is set (the launcher, compose and Kubernetes set
  it), on a port of their own, never on the public api port.
- Traces (:mod:`.tracing`): only with ``TRACING=1``. Off, nothing of OpenTelemetry is imported and no
  instrumentation is installed: the request path is the same code as without this package. On, spans go to
  ``OTEL_EXPORTER_OTLP_ENDPOINT`` when it is set, else to ``DATA_DIR/traces/SERVICE-PID.jsonl``
  (``python -m harness.traces`` prints a waterfall of them).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from . import metrics

log = logging.getLogger("telemetry")

_done: dict[int, str] = {}  # pid -> service: once per process (a forked worker sets up its own)


def tracing_enabled(env: Mapping[str, str] = os.environ) -> bool:
    """``TRACING`` is set to a true value (1, true, yes, on)."""
    return env.get("TRACING", "").strip().lower() in ("1", "true", "yes", "on")


def setup(service_name: str, env: Mapping[str, str] = os.environ) -> None:
    """Serve this process's metrics and, with ``TRACING=1``, trace it as ``service_name``. Idempotent per process."""
    pid = os.getpid()
    if pid in _done:
        return
    _done[pid] = service_name
    port = metrics.serve(env)
    if port is not None:
        log.info("%s: metrics on :%d/metrics", service_name, port)
    if tracing_enabled(env):
        from . import tracing  # the SDK and the instrumentations: imported only when tracing is on

        tracing.install(service_name, env)
        log.info("%s: tracing on", service_name)
