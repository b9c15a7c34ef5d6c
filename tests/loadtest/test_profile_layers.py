"""The profile's layers (loadtest.profile): each sample goes to the layer of its innermost frame that has one."""
from __future__ import annotations

from loadtest.profile import OTHER, layer_of

SERVE = ("Thread.run (threading.py:982)", "ThreadWorker.handle (gunicorn/workers/gthread.py:553)",
         "Flask.wsgi_app (flask/app.py:1511)")


def test_a_sample_inside_prometheus_client_counts_as_metrics_even_under_a_lock() -> None:
    stack = (*SERVE, "answered (shared/http/metrics.py:27)", "Histogram.observe (prometheus_client/metrics.py:640)",
             "Lock.__enter__ (threading.py:100)")
    assert layer_of(stack).startswith("metrics")


def test_a_database_call_inside_the_app_counts_as_the_database() -> None:
    stack = (*SERVE, "MonitorCore.ingest (shared/core/monitor.py:60)",
             "DefaultDialect.do_commit (sqlalchemy/engine/default.py:700)")
    assert layer_of(stack).startswith("database calls")


def test_the_plain_apps_code_is_the_apps_own_and_the_rest_is_other() -> None:
    assert layer_of((*SERVE, "ingest (direct_plain/monolith/monitor.py:40)")) == "the app's own code"
    assert layer_of(("Thread.run (threading.py:982)", "wait (threading.py:320)")) == OTHER
