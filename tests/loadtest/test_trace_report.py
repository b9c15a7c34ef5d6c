"""The report's traced pass, from small span files: the per-hop medians, the example waterfall, the charts, the section."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtest import trace_breakdown
from loadtest.reporting import traces

MS = 1_000_000
SQL = {"db.system": "sqlite"}


def _span(trace_id: str, span_id: str, parent: str | None, name: str, service: str, start: float, end: float,
          kind: str = "internal", attributes: dict | None = None) -> dict:
    return {"trace_id": trace_id, "span_id": span_id, "parent_id": parent, "name": name, "kind": kind, "service": service,
            "pid": 1, "start_ns": 10**18 + round(start * MS), "end_ns": 10**18 + round(end * MS), "status": "unset",
            "attributes": attributes or {}}


def _direct(trace: str, shift: float) -> list[dict]:
    """api → monitor → alerting → notification over calls, the webhook inside; ``shift`` ms longer calls."""
    return [
        _span(trace, "1", None, "POST /targets/<target_id:target_id>/results", "api", 0, 40 + shift, "server"),
        _span(trace, "2", "1", "/MonitorService/IngestResult", "api", 2, 38 + shift, "client"),
        _span(trace, "3", "2", "/MonitorService/IngestResult", "monitor", 3, 37, "server"),
        _span(trace, "4", "3", "INSERT monitor.db", "monitor", 5, 6, "client", SQL),
        _span(trace, "5", "3", "/AlertingService/Evaluate", "monitor", 10, 30, "client"),
        _span(trace, "6", "5", "/AlertingService/Evaluate", "alerting", 11, 29, "server"),
        _span(trace, "7", "6", "/NotificationService/Notify", "alerting", 15, 28, "client"),
        _span(trace, "8", "7", "/NotificationService/Notify", "notification", 16, 27, "server"),
        _span(trace, "9", "8", "POST", "notification", 20, 25, "client"),
    ]


def _events(trace: str) -> list[dict]:
    """The same request over the in-memory bus: three queues, the webhook after the 202."""
    return [
        _span(trace, "1", None, "POST /targets/<target_id:target_id>/results", "event-monolith", 0, 8, "server"),
        _span(trace, "2", "1", "publish monitor.ingest_result", "event-monolith", 1, 1.1, "producer"),
        _span(trace, "3", "2", "process monitor.ingest_result [monitor]", "event-monolith", 2, 6, "consumer"),
        _span(trace, "4", "3", "publish check.completed", "event-monolith", 5, 5.1, "producer"),
        _span(trace, "5", "4", "process check.completed [alerting]", "event-monolith", 7, 12, "consumer"),
        _span(trace, "6", "5", "publish alert.opened", "event-monolith", 11, 11.1, "producer"),
        _span(trace, "7", "6", "process alert.opened [notification]", "event-monolith", 13, 25, "consumer"),
        _span(trace, "8", "7", "POST", "event-monolith", 15, 20, "client"),
        _span("f" * 32, "9", None, "GET /targets/<target_id:target_id>", "event-monolith", 30, 32, "server"),
    ]


@pytest.fixture
def raw(tmp_path: Path) -> tuple[Path, list[dict]]:
    for variant, spans in (("direct-split-grpc", _direct("a" * 32, 0) + _direct("b" * 32, 4) + _direct("c" * 32, 8)),
                           ("event-monolith", _events("d" * 32))):
        folder = tmp_path / variant / "traces" / "traces"
        folder.mkdir(parents=True)
        (folder / "x-1.jsonl").write_text("".join(json.dumps(s) + "\n" for s in spans))
    steps = [{"kind": "traces", "status": "ok", "variant": v, "dir": f"{v}/traces"}
             for v in ("direct-split-grpc", "event-monolith")]
    return tmp_path, [*steps, {"kind": "traces", "status": "failed", "variant": "event-split", "dir": None}]


def test_each_hop_is_its_median_over_the_requests(raw: tuple[Path, list[dict]]) -> None:
    summary = trace_breakdown.summarize(*raw)["variants"]
    direct = summary["direct-split-grpc"]["breakdown"]["POST result"]
    assert direct == {"edge": 4.0, "call api→monitor": 40.0, "call monitor→alerting": 20.0,
                      "call alerting→notification": 13.0, "database monitor": 1.0, "webhook": 5.0,
                      "to webhook": 25.0, "requests": 3}
    events = summary["event-monolith"]["breakdown"]
    assert events["POST result"] == pytest.approx({
        "edge": 1.0, "call api→monitor (bus)": 5.0, "reply": 2.0,
        "queue alert.opened": 1.9, "queue check.completed": 1.9, "queue monitor.ingest_result": 0.9,
        "handle alert.opened [notification]": 12.0, "handle check.completed [alerting]": 5.0,
        "handle monitor.ingest_result [monitor]": 4.0, "webhook": 5.0, "to webhook": 20.0, "requests": 1})
    assert events["GET target"] == {"edge": 2.0, "requests": 1}
    example = summary["direct-split-grpc"]["example"]  # the median of the three: the one 4 ms longer
    assert [row[:3] for row in example[:2]] == [[0, "api", "POST /targets/<target_id:target_id>/results"],
                                                [1, "api", "/MonitorService/IngestResult"]]
    assert example[0][4] == pytest.approx(44.0)


def test_the_section_and_charts_show_every_traced_variant(raw: tuple[Path, list[dict]], tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from loadtest.reporting.charts import Canvas

    summary = {"options": {"traces": True, "trace_requests": 3}, "traces": trace_breakdown.summarize(*raw)}
    out = tmp_path / "out"
    out.mkdir()
    made: dict[str, str] = {}
    traces.charts(Canvas(plt, out, summary, [], [], ["C0", "C1"]), made)
    assert set(made) == {"trace_breakdown", "trace_direct-split-grpc", "trace_event-monolith"}
    assert all((out / name).stat().st_size > 1000 for name in made.values())
    text = "\n".join(traces.section(out, summary, made))
    assert "| call api→monitor | 40.00 | – |" in text and "| queue check.completed | – | 1.90 |" in text
    assert "![event-monolith: one POST result](trace_event-monolith.png)" in text
    assert traces.section(out, {"options": {"traces": False}}, {}) == []


def test_each_split_hop_table_ends_with_its_transport_floor_of_the_same_run(raw: tuple[Path, list[dict]]) -> None:
    summary = {"options": {"traces": True, "trace_requests": 3}, "traces": trace_breakdown.summarize(*raw),
               "floors": {"grpc": {"p50_ms": {"median": 0.47, "min": 0.3, "max": 0.48, "n": 3}}}}
    text = "\n".join(traces.section(Path("."), summary, {}))
    assert text.count("| transport floor (bare, untraced) | 0.47 | – |") == 2  # POST result and GET target
    del summary["floors"]  # a run without floors (--no-floors): no row
    assert "transport floor" not in "\n".join(traces.section(Path("."), summary, {})).split("hop can cost.")[1]


def test_the_traced_pass_is_planned_apart_from_the_timed_runs_and_can_be_skipped() -> None:
    from loadtest import compare

    options, _ = compare.parse_args(["--quick"])
    plan = compare.make_plan(options, options.variants)
    traced = [s for s in plan if s.kind == "traces"]
    assert [s.variant for s in traced] == options.variants and options.trace_requests == 4
    assert all(s.rep == 0 and s.rtt_ms is None and s.replicas is None for s in traced)
    last_timed = max(i for i, s in enumerate(plan) if s.rep >= 1)
    assert plan.index(traced[0]) > last_timed  # after every repetition's stop: no timed run is traced
    options, _ = compare.parse_args(["--quick", "--no-traces"])
    assert not [s for s in compare.make_plan(options, options.variants) if s.kind == "traces"]
