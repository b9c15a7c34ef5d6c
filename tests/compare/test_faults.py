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


def test_the_reference_run_makes_every_kind_of_fault_on_each_service():
    options, _ = compare.parse_args([])
    assert sorted(options.fault_plan) == sorted((k, s) for k in FAULT_KINDS for s in ("notification", "alerting"))
