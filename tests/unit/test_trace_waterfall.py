"""``python -m harness.traces``: spans read from the files tracing writes, grouped by trace, printed as a waterfall."""
from __future__ import annotations

import json
from pathlib import Path

from harness import traces

MS = 1_000_000


def _span(trace_id: str, span_id: str, parent: str | None, name: str, service: str, start_ms: float, end_ms: float,
          kind: str = "internal") -> dict:
    return {"trace_id": trace_id, "span_id": span_id, "parent_id": parent, "name": name, "kind": kind,
            "service": service, "pid": 1, "start_ns": int(1e18 + start_ms * MS), "end_ns": int(1e18 + end_ms * MS),
            "status": "unset", "attributes": {}}


def _write(folder: Path, name: str, spans: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(json.dumps(s) + "\n" for s in spans) + "{not a span\n")


def _files(tmp_path: Path) -> Path:
    folder = tmp_path / "traces"
    _write(folder, "api-1.jsonl", [
        _span("a" * 32, "01", None, "POST /targets/<id>/results", "api", 0, 40, "server"),
        _span("a" * 32, "02", "01", "publish monitor.ingest_result", "api", 1, 1.1, "producer"),
        _span("b" * 32, "11", None, "GET /targets/<id>", "api", 100, 105, "server"),
        _span("c" * 32, "21", None, "SELECT app.db", "api", 200, 300, "client"),  # start-up: no request
    ])
    _write(folder, "monitor-2.jsonl", [
        _span("a" * 32, "03", "02", "process call.requested [monitor]", "monitor", 5, 30, "consumer"),
        _span("a" * 32, "04", "03", "INSERT /tmp/run/monitor.db", "monitor", 10, 12, "client"),  # shown by file name
    ])
    return folder


def test_the_slowest_request_is_printed_with_each_span_under_its_parent_across_processes(tmp_path: Path) -> None:
    chosen = traces.pick(traces.by_trace(traces.read_spans(_files(tmp_path))), "slowest")
    lines = traces.waterfall(chosen, width=20).splitlines()
    assert lines[0].startswith("trace " + "a" * 32 + ": 40.00 ms, 4 spans, 2 process(es): api, monitor")
    labels = [line[len("monitor  "):].split("  +")[0].rstrip() for line in lines[1:]]  # after the process column
    rows = zip(lines[1:], labels, strict=True)
    assert [(line.split()[0], label.strip(), len(label) - len(label.lstrip())) for line, label in rows] == [
        ("api", "POST /targets/<id>/results", 0), ("api", "publish monitor.ingest_result", 2),
        ("monitor", "process call.requested [monitor]", 4), ("monitor", "INSERT monitor.db", 6)]
    assert "+    5.00 ms    25.00 ms |  █████" in lines[3]  # offset, duration, and the bar from 5/40 of the width


def test_the_latest_request_and_a_single_file_can_be_chosen(tmp_path: Path, capsys) -> None:
    folder = _files(tmp_path)
    assert traces.main(["--latest", str(folder)]) == 0
    assert "GET /targets/<id>" in capsys.readouterr().out
    assert traces.main([str(folder / "monitor-2.jsonl")]) == 0  # no request span in it: the slowest trace at all
    assert "INSERT monitor.db" in capsys.readouterr().out
    assert traces.main([str(tmp_path / "nothing")]) == 1
