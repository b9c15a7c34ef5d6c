"""The traced pass of ``make compare``: each variant started once more, apart from the timed runs, with tracing on.

Tracing never runs during a timed run: it is its own step (``traces``) after the repetitions, with its own start and
stop of the variant. ``trace_requests`` requests of each kind, one after the other (no load: the traces show where a
request's time goes, not queueing under load): ``POST /targets/{id}/results`` alternating failing and passing
results on a target with ``failure_threshold`` 1, so each one opens or resolves an alert and POSTs the target's
webhook (a local receiver), and ``GET /targets/{id}``. The spans stay in ``OUT/raw/.../VARIANT/traces/traces/``,
read by :mod:`loadtest.trace_breakdown` for the report.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import requests

from harness.launcher import start
from loadtest.options import Options
from loadtest.rawdata import write_json
from loadtest.webhook_sink import WebhookSink


def run(options: Options, variant: str, outdir: Path, ready_timeout_s: float = 45.0) -> str:
    """Run the traced pass of ``variant`` into ``outdir`` (its spans under ``outdir/traces``); a one-line brief."""
    outdir.mkdir(parents=True, exist_ok=True)
    count = options.trace_requests
    with WebhookSink() as sink, start(variant, data_dir=outdir, rabbitmq_url=options.rabbitmq_url,
                                      extra_env={"TRACING": "1"}, ready_timeout_s=ready_timeout_s) as running:
        base, headers = running.base_url, running.auth_headers
        created = requests.post(f"{base}/targets", headers=headers, timeout=10, json={
            "name": "traced", "url": "https://example.org", "failure_threshold": 1, "webhook_url": sink.url})
        created.raise_for_status()
        target = created.json()["id"]
        for index in range(count):
            posted = requests.post(f"{base}/targets/{target}/results", headers=headers, timeout=10,
                                   json={"ok": index % 2 == 1, "latency_ms": 3})
            posted.raise_for_status()
            requests.get(f"{base}/targets/{target}", headers=headers, timeout=10).raise_for_status()
        sent = _wait_for(lambda: len(sink.records()) >= count, timeout_s=10.0)
        write_json(outdir / "traced.json", {"requests": count, "webhooks": len(sink.records()), "all_sent": sent})
    for store in outdir.glob("*.db*"):  # the run's throwaway SQLite stores (and WAL files): not data of the report
        store.unlink()
    return f"{count} POST result + {count} GET target traced, {len(sink.records())} webhooks"


def _wait_for(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
