"""The fault catalogue's pure parts: each kind of fault does what it says, and is labelled in the report."""

from __future__ import annotations

import pytest

from loadtest import compare
from loadtest.options import FAULT_KINDS, fault_label
from loadtest.steps import inject_fault


class Recorder:
    """Stands in for a running variant: records which calls a fault makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __getattr__(self, name: str):
        if name.endswith("_process"):
            return lambda service, **_kw: self.calls.append((name, service))
        raise AttributeError(name)


@pytest.mark.parametrize(
    ("kind", "calls"),
    [
        ("stop", ["stop_process", "restart_process"]),
        ("kill", ["kill_process", "restart_process"]),
        ("hang", ["pause_process", "resume_process"]),
    ],
)
def test_each_kind_of_fault_takes_the_service_away_then_brings_it_back(kind, calls):
    running = Recorder()
    entry = inject_fault(running, kind, "alerting", window_s=0.0)
    assert [name for name, _ in running.calls] == calls and {s for _, s in running.calls} == {"alerting"}
    assert entry["stop_requested"] <= entry["stopped"] <= entry["restart_requested"] <= entry["healthy"]
    assert (entry["service"], entry["kind"]) == ("alerting", kind)


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown fault kind"):
        inject_fault(Recorder(), "flood", "alerting", window_s=0.0)


def test_faults_are_labelled_by_service_and_kind_and_old_runs_were_stops():
    assert fault_label({"service": "notification", "kind": "hang"}) == "notification hung"
    assert fault_label({"service": "alerting"}) == "alerting stopped"


def test_the_reference_run_makes_every_kind_of_fault_on_each_service_and_on_the_webhook_receiver():
    options, _ = compare.parse_args([])
    process_kinds = ("stop", "kill", "hang")
    expected = [(k, s) for k in process_kinds for s in ("notification", "alerting")]
    expected += [("kill", "monitor"), ("hang", "monitor"), ("slow", "webhook"), ("fail", "webhook"), ("restart", "broker")]
    assert {k for k, _ in expected} == set(FAULT_KINDS)
    assert sorted(options.fault_plan) == sorted(expected)


def test_the_webhook_sink_counts_sends_per_delivery_and_can_be_slow_or_failing():
    import requests

    from loadtest.webhook_sink import WebhookSink, sends

    with WebhookSink(slow_s=0.3) as sink:
        def post(key: str) -> int:
            return requests.post(sink.url, json={"n": 1}, headers={"Idempotency-Key": key}, timeout=5).status_code

        assert post("a") == 204 and post("a") == 204  # the receiver acted twice on one delivery
        sink.set_mode("fail")
        assert post("b") == 500
        sink.set_mode("slow")
        assert post("b") == 204  # the retry got through, slowly
        sink.set_mode("ok")
        records = sink.records()
    assert sends(records) == {"posts": 4, "deliveries": 2, "delivered": 2, "duplicated_sends": 1}
    assert sends(records, t0=records[2]["t"])["deliveries"] == 1  # deliveries first seen from then on: b


def test_a_webhook_fault_switches_the_receiver_for_the_window_and_back():
    from loadtest.webhook_sink import WebhookSink

    modes = []
    with WebhookSink() as sink:
        original = sink.set_mode
        sink.set_mode = lambda mode: (modes.append(mode), original(mode))[1]
        entry = inject_fault(Recorder(), "fail", "webhook", window_s=0.0, sink=sink)
        assert sink.mode == "ok"
    assert modes == ["fail", "ok"] and entry["kind"] == "fail"


def test_the_broker_and_the_database_are_restarted_with_their_own_tools():
    from loadtest.steps import _server_commands

    assert _server_commands("broker") == (["rabbitmqctl", "stop_app"], ["rabbitmqctl", "start_app"])
    database = _server_commands("database")
    if isinstance(database, str):  # a machine without a local cluster says so
        assert database == "no local PostgreSQL cluster"
    else:
        stop, start = database
        assert stop[:2] == ["pg_ctlcluster", "--skip-systemctl-redirect"] and stop[-3:] == ["stop", "-m", "fast"]
        assert start[-1] == "start"
