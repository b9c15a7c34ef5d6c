"""POST /targets/{id}/check: the monitor probes the target URL now and records the result."""
from __future__ import annotations

import uuid

from tests.support.api import describe
from tests.support.assertions import assert_error, assert_result
from tests.support.http_sinks import closed_port_url
from tests.support.waiting import wait_until


def test_checking_a_target_that_answers_200_records_an_ok_result(api, sink):
    target = api.create_target(url=sink.url("/ok"))
    response = api.post(f"/targets/{target['id']}/check")
    assert response.status_code == 200, describe(response)
    result = response.json()
    assert_result(result)
    assert result["target_id"] == target["id"]
    assert result["ok"] is True
    assert result["status_code"] == 200
    assert result["latency_ms"] >= 0
    assert any(r.path == "/ok" and r.method == "GET" for r in sink.requests("/ok"))
    listed = wait_until(lambda: api.results(target["id"]), message="the check result is not listed")
    assert listed == [result]


def test_checking_a_target_that_answers_500_records_a_failed_result(api, sink):
    target = api.create_target(url=sink.url("/fail"))
    result = api.check(target["id"])
    assert_result(result)
    assert result["ok"] is False
    assert result["status_code"] == 500


def test_checking_a_target_that_answers_404_records_a_failed_result(api, sink):
    target = api.create_target(url=sink.url("/status/404"))
    result = api.check(target["id"])
    assert (result["ok"], result["status_code"]) == (False, 404)


def test_checking_a_target_that_answers_399_is_ok_since_ok_means_below_400(api, sink):
    target = api.create_target(url=sink.url("/status/399"))
    result = api.check(target["id"])
    assert (result["ok"], result["status_code"]) == (True, 399)


def test_checking_a_target_whose_port_refuses_connections_records_a_failure_without_status(api):
    target = api.create_target(url=closed_port_url("/health"))
    result = api.check(target["id"])
    assert_result(result)
    assert result["ok"] is False
    assert result["status_code"] is None


def test_a_check_measures_the_latency_of_a_slow_target(api, sink):
    target = api.create_target(url=sink.url("/slow?ms=200"))
    result = api.check(target["id"])
    assert result["ok"] is True
    assert result["latency_ms"] >= 150, result


def test_three_failing_checks_with_threshold_3_open_a_down_alert(api, sink):
    target = api.create_target(url=sink.url("/fail"), failure_threshold=3)
    checks = [api.check(target["id"]) for _ in range(3)]
    assert all(c["ok"] is False for c in checks)
    [alert] = wait_until(lambda: api.alerts(target_id=target["id"]), message="three failing checks opened no alert")
    assert alert["kind"] == "down" and alert["state"] == "open"
    assert alert["opened_by_result_id"] == checks[2]["id"]


def test_checking_an_unknown_target_answers_404(api):
    assert_error(api.post(f"/targets/{uuid.uuid4()}/check"), 404, "not_found")


def test_a_check_with_an_empty_json_object_body_is_accepted_and_any_other_body_rejected(api, sink):
    target = api.create_target(url=sink.url("/ok"))
    response = api.post(f"/targets/{target['id']}/check", json={})
    assert response.status_code == 200, describe(response)
    assert_error(api.post(f"/targets/{target['id']}/check", json={"url": "http://evil/"}), 400, "invalid_argument")
