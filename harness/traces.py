"""Print the waterfall of one trace from the span files tracing writes (``DATA_DIR/traces/*.jsonl``).

    python -m harness.traces [--slowest | --latest] [--trace ID] [FILE_OR_DIR]

Default: the slowest trace under ``var/`` (every variant's run folder). One line per span, indented under its
parent: the process (service), the span's name, its start offset from the trace's start, its duration, and a bar
where it falls on the trace's time line. No backend needed: a workshop follows one request in a terminal.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BAR_WIDTH = 40


@dataclass(frozen=True)
class Span:
    """One line of a span file (``shared.telemetry.spanfile``)."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str
    service: str
    start_ns: int
    end_ns: int
    status: str = "unset"
    attributes: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


def span_files(path: Path) -> list[Path]:
    """``path`` itself, or every ``*.jsonl`` below it."""
    return [path] if path.is_file() else sorted(path.rglob("*.jsonl"))


def read_spans(path: Path) -> list[Span]:
    """Every span in the files of ``path`` (a line that is not a span, e.g. cut short by a crash, is skipped)."""
    spans = []
    for file in span_files(path):
        for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
                spans.append(Span(**{k: record[k] for k in Span.__dataclass_fields__ if k in record}))
            except (ValueError, TypeError, KeyError):
                continue
    return spans


def by_trace(spans: Iterable[Span]) -> dict[str, list[Span]]:
    """The spans of each trace, in start order."""
    traces: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        traces[span.trace_id].append(span)
    return {trace_id: sorted(found, key=lambda s: (s.start_ns, -s.end_ns)) for trace_id, found in traces.items()}


def extent_ns(spans: list[Span]) -> tuple[int, int]:
    return min(s.start_ns for s in spans), max(s.end_ns for s in spans)


def pick(traces: dict[str, list[Span]], how: str = "slowest") -> list[Span]:
    """The slowest trace (longest from first start to last end) or the latest (last to start) among those that
    served a request (any trace when none did); [] when there are none."""
    requests = {key: spans for key, spans in traces.items() if any(s.kind == "server" for s in spans)}
    candidates = list((requests or traces).values())  # a request's trace, rather than a start-up's or a timer's
    if not candidates:
        return []
    if how == "latest":
        return max(candidates, key=lambda spans: extent_ns(spans)[0])
    return max(candidates, key=lambda spans: extent_ns(spans)[1] - extent_ns(spans)[0])


def short_name(name: str) -> str:
    """A span's name without a database file's folder (``INSERT /tmp/x/monitor.db`` -> ``INSERT monitor.db``)."""
    verb, _, rest = name.partition(" ")
    return f"{verb} {Path(rest).name}" if rest.startswith("/") and rest.endswith(".db") else name


def ordered(spans: list[Span]) -> list[tuple[int, Span]]:
    """The spans depth first (children in start order under their parent), each with its depth. A span whose
    parent is not in the trace (not exported, or in a process not traced) is shown at the top level."""
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[Span]] = defaultdict(list)
    for span in spans:
        children[span.parent_id if span.parent_id in ids else None].append(span)
    out: list[tuple[int, Span]] = []

    def visit(parent: str | None, depth: int) -> None:
        for span in sorted(children[parent], key=lambda s: (s.start_ns, -s.end_ns)):
            out.append((depth, span))
            visit(span.span_id, depth + 1)

    visit(None, 0)
    return out


def waterfall(spans: list[Span], width: int = BAR_WIDTH) -> str:
    """The trace as text: a header line, then one line per span (see the module's documentation)."""
    if not spans:
        return "no spans"
    start, end = extent_ns(spans)
    total = max(end - start, 1)
    rows = ordered(spans)
    services = {s.service for s in spans}
    label_width = max(len("  " * depth + short_name(span.name)) for depth, span in rows)
    service_width = max(len(s) for s in services)
    lines = [f"trace {spans[0].trace_id}: {total / 1e6:.2f} ms, {len(spans)} spans, "
             f"{len(services)} process(es): {', '.join(sorted(services))}"]
    for depth, span in rows:
        first = int((span.start_ns - start) / total * width)
        length = max(1, round((span.end_ns - span.start_ns) / total * width))
        bar = " " * first + "█" * min(length, width - first)
        error = " !" if span.status == "error" else ""
        lines.append(f"{span.service:<{service_width}}  {'  ' * depth + short_name(span.name):<{label_width}}  "
                     f"+{(span.start_ns - start) / 1e6:8.2f} ms {span.duration_ms:8.2f} ms |{bar:<{width}}|{error}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.traces", description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--slowest", action="store_const", dest="how", const="slowest", help="the slowest trace (default)")
    which.add_argument("--latest", action="store_const", dest="how", const="latest", help="the trace that started last")
    which.add_argument("--trace", help="the trace with this id")
    parser.add_argument("path", nargs="?", type=Path, default=ROOT / "var",
                        help="a span file or a folder searched for them (default var/)")
    args = parser.parse_args(argv)
    traces = by_trace(read_spans(args.path))
    if not traces:
        print(f"no spans under {args.path}: run with TRACING=1 (make run VARIANT=... TRACE=1)", file=sys.stderr)
        return 1
    if args.trace:
        if args.trace not in traces:
            print(f"no trace {args.trace} under {args.path}", file=sys.stderr)
            return 1
        chosen = traces[args.trace]
    else:
        chosen = pick(traces, args.how or "slowest")
    print(waterfall(chosen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
