"""Sequential round trips through the public API (one client, one request at a time, a reused session).

- ``GET /targets/{id}`` and ``POST /targets/{id}/results`` (ok results that change no alert), each
  ``calls`` times after ``warmup`` calls; raw times in milliseconds;
- an alert-delay probe: a target with ``failure_threshold=1`` receives alternating failing and ok results,
  each opening or resolving a ``down`` alert; the ledger of those posts is read back like a load run's.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import requests

from shared.domain import iso, utcnow


def _create_target(session: requests.Session, base_url: str, name: str, failure_threshold: int) -> dict:
    body = {"name": name, "url": "http://127.0.0.1:9/never-probed", "interval_s": 60, "failure_threshold": failure_threshold}
    response = session.post(f"{base_url}/targets", json=body, timeout=10)
    if response.status_code != 201:
        raise RuntimeError(f"POST /targets answered {response.status_code}: {response.text[:200]}")
    return response.json()


def run(base_url: str, calls: int, warmup: int, probe_results: int, progress: Callable[[str], None] | None = None,
        api_key: str = "") -> dict:
    session = requests.Session()
    if api_key:
        session.headers["Authorization"] = f"Bearer {api_key}"
    tag = uuid.uuid4().hex[:8]
    target = _create_target(session, base_url, f"seq-{tag}", 3)
    get_url = f"{base_url}/targets/{target['id']}"
    post_url = f"{get_url}/results"
    failures = {"get": 0, "post": 0}

    def timed_get() -> float:
        started = time.perf_counter()
        response = session.get(get_url, timeout=10)
        elapsed = (time.perf_counter() - started) * 1000.0
        if response.status_code != 200:
            failures["get"] += 1
        return elapsed

    def timed_post() -> float:
        body = {"ok": True, "latency_ms": 20.0, "status_code": 200}
        started = time.perf_counter()
        response = session.post(post_url, json=body, timeout=10)
        elapsed = (time.perf_counter() - started) * 1000.0
        if response.status_code != 202:
            failures["post"] += 1
        return elapsed

    for _ in range(warmup):
        timed_get()
        timed_post()
    if progress:
        progress(f"{calls} GET")
    get_ms = [timed_get() for _ in range(calls)]
    if progress:
        progress(f"{calls} POST")
    post_ms = [timed_post() for _ in range(calls)]

    probe_target = _create_target(session, base_url, f"probe-{tag}", 1)
    posts = []
    for seq in range(probe_results):
        ok = seq % 2 == 1  # fail, ok, fail, ok ...: every result opens or resolves the down alert
        checked_at = iso(utcnow())
        body = {"ok": ok, "latency_ms": 20.0, "status_code": 200 if ok else 503, "checked_at": checked_at, "id": f"p{seq}"}
        sent = time.time()
        response = session.post(f"{base_url}/targets/{probe_target['id']}/results", json=body, timeout=10)
        result_id = response.json().get("id") if response.status_code == 202 else None
        posts.append([seq, checked_at, response.status_code, result_id, sent, time.time(), True, ok, 20.0])
    ledger = {
        "run_tag": tag,
        "streams": [
            {
                "target_id": probe_target["id"],
                "k": None,
                "params": {"failure_threshold": 1, "latency_threshold_ms": None, "webhook_url": None},
                "posts": posts,
            }
        ],
    }
    return {"calls": calls, "warmup": warmup, "get_ms": get_ms, "post_ms": post_ms, "failures": failures, "probe_ledger": ledger}
