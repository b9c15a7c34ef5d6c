"""Concurrent results for one target still give exactly one alert per transition."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.support.api import describe
from tests.support.waiting import wait_for_count, wait_until

CONCURRENT_RESULTS = 30
WORKERS = 10


def test_thirty_concurrent_failures_open_exactly_one_down_alert_and_one_notification(api):
    target = api.create_target(failure_threshold=3)
    path = f"/targets/{target['id']}/results"
    clients = [api.fork() for _ in range(WORKERS)]

    def post(i: int):
        return clients[i % WORKERS].post(path, json={"ok": False, "latency_ms": float(i), "status_code": 503})

    try:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            responses = list(pool.map(post, range(CONCURRENT_RESULTS)))
    finally:
        for client in clients:
            client.close()
    for response in responses:
        assert response.status_code == 202, describe(response)
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == CONCURRENT_RESULTS

    listed = wait_for_count(lambda: api.results(target["id"], limit=100), CONCURRENT_RESULTS)
    assert {r["id"] for r in listed} == ids
    [alert] = wait_until(lambda: api.alerts(target_id=target["id"]), message="no down alert")
    assert alert["kind"] == "down" and alert["state"] == "open"
    assert alert["opened_by_result_id"] in ids

    # Marker: an ok result resolves the alert; once that is visible, all 30 failures have been evaluated.
    api.post_result(target["id"], ok=True, latency_ms=1)
    wait_until(lambda: [a for a in api.alerts(target_id=target["id"]) if a["state"] == "resolved"],
               message="the ok result did not resolve the alert")
    notes = wait_for_count(lambda: api.notifications(target_id=target["id"]), 2)
    alerts = api.alerts(target_id=target["id"])
    assert len(alerts) == 1, alerts
    assert [(n["event"], n["channel"]) for n in notes] == [("alert_resolved", "log"), ("alert_opened", "log")]
