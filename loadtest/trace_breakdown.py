"""Where a request's time goes, hop by hop, from the spans of a traced pass (``harness.traces`` reads them).

Each trace of a request is split into **hops**, named the same way in every variant so they line up in a chart:

- ``edge``: the api's own time, the request's server span less what it waited for (validation, key check, JSON);
- ``call A→B``: an internal call from process A to B, gRPC or HTTP (the caller's client span); ``call A→B (bus)``:
  a call over an event bus, from its publication to the end of its handler; ``reply``: from there to the request's
  end (the reply's way back and the answer);
- ``queue EVENT``: the time an event waited in a queue, from the end of its ``publish`` span to the start of its
  ``process`` span (RabbitMQ or the in-memory bus);
- ``handle EVENT [GROUP]``: a handler's time with an event (its ``process`` span);
- ``database SERVICE``: the SQL statements of one process, summed over the trace (commits are in the statements'
  time: the instrumentation times each statement, not the transaction);
- ``webhook``: the notification's POST to the target's webhook;
- ``to webhook``: from the request's start to the end of the webhook's POST (what a user waits to be told).

Each hop's value in a trace is the sum of its spans in that trace; the breakdown is each hop's median over the traces
of one operation (``POST result``, ``GET target``).
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from harness.traces import Span, by_trace, ordered, read_spans

OPERATIONS = {"POST result": ("POST", "/results"), "GET target": ("GET", "/targets/<target_id:target_id>")}
"""Operation name -> (method, end of the route) of the api's server span."""


def operation(root: Span) -> str | None:
    """The operation a request's root span served (None: not one the breakdown reports)."""
    method, _, route = root.name.partition(" ")
    for name, (want_method, suffix) in OPERATIONS.items():
        if method == want_method and route.endswith(suffix):
            return name
    return None


def _is_sql(span: Span) -> bool:
    return "db.system" in span.attributes or "db.system.name" in span.attributes


def _event(span: Span) -> str:
    """``process check.completed [alerting]`` -> ``check.completed``; ``publish monitor.ingest_result`` likewise."""
    return span.name.split(" ", 1)[1].split(" [", 1)[0] if " " in span.name else span.name


def hops(spans: list[Span]) -> dict[str, float]:
    """The hops of one trace, in milliseconds (see the module's documentation)."""
    by_id = {s.span_id: s for s in spans}
    children: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        if span.parent_id in by_id:
            children[span.parent_id].append(span)
    out: dict[str, float] = defaultdict(float)
    root = min(spans, key=lambda s: s.start_ns)
    if root.kind == "server":
        _split_the_edge(root, children, out)
    for span in spans:
        parent = by_id.get(span.parent_id or "")
        if _is_sql(span):
            out[f"database {span.service}"] += span.duration_ms
        elif span.kind == "consumer":
            published = parent is not None and parent.kind == "producer"
            event = _event(parent) if published and parent else _event(span)  # the publisher names a call's method
            group = span.name.rsplit(" [", 1)[-1] if " [" in span.name else ""
            out[f"handle {event} [{group}" if group else f"handle {event}"] += span.duration_ms
            if published and parent is not None:
                out[f"queue {event}"] += max(0.0, (span.start_ns - parent.end_ns) / 1e6)
        elif span.kind == "client":
            served = [c for c in children[span.span_id] if c.kind == "server"]
            if served:
                out[f"call {span.service}→{served[0].service}"] += span.duration_ms
            elif span.name in ("POST", "PUT", "GET") or span.name.startswith(("POST ", "HTTP")):
                out["webhook"] += span.duration_ms
                out["to webhook"] = max(out["to webhook"], (span.end_ns - root.start_ns) / 1e6)
    return dict(out)


def _split_the_edge(root: Span, children: dict[str, list[Span]], out: dict[str, float]) -> None:
    """The api's own time (``edge``), less what it waited for: its calls (client spans) and its calls over a bus
    (a ``publish`` whose handler ended before the request did: from the publication to the handler's end, as
    ``call api→SERVICE``; from there to the request's end, the reply's way back and the answer, as ``reply``)."""
    waited = 0
    for child in children[root.span_id]:
        if child.kind == "client":
            waited += child.end_ns - child.start_ns
        elif child.kind == "producer":
            handled = [c for c in children[child.span_id] if c.kind == "consumer" and c.end_ns <= root.end_ns]
            if handled:
                end = max(c.end_ns for c in handled)
                group = handled[0].name.rsplit(" [", 1)[-1].rstrip("]") if " [" in handled[0].name else handled[0].service
                out[f"call api→{group} (bus)"] += (end - child.start_ns) / 1e6
                out["reply"] += (root.end_ns - end) / 1e6
                waited += root.end_ns - child.start_ns
    out["edge"] = max(0.0, (root.end_ns - root.start_ns - waited) / 1e6)


def breakdown(traces: Iterable[list[Span]]) -> dict[str, dict[str, float]]:
    """Operation -> hop -> median milliseconds over the traces of that operation (a hop missing from a trace
    counts as absent, not as 0: a median of the traces that have it), plus ``requests`` -> count."""
    per_op: dict[str, list[dict[str, float]]] = defaultdict(list)
    for spans in traces:
        roots = [s for s in spans if s.parent_id is None and s.kind == "server"]
        name = operation(roots[0]) if roots else None
        if name:
            per_op[name].append(hops(spans))
    result: dict[str, dict[str, float]] = {}
    for name, rows in per_op.items():
        keys = sorted({k for row in rows for k in row}, key=_hop_order)
        result[name] = {k: statistics.median(row[k] for row in rows if k in row) for k in keys}
        result[name]["requests"] = len(rows)
    return result


def _hop_order(hop: str) -> tuple[int, str]:
    order = ("edge", "call", "reply", "queue", "handle", "database", "webhook", "to webhook")
    return next((i for i, prefix in enumerate(order) if hop.startswith(prefix)), len(order)), hop


def example(traces: Iterable[list[Span]], name: str = "POST result") -> list[Span]:
    """The trace of ``name`` of median length among those that reached the webhook (else among all of ``name``)."""
    candidates = []
    for spans in traces:
        roots = [s for s in spans if s.parent_id is None and s.kind == "server"]
        if roots and operation(roots[0]) == name:
            candidates.append(spans)
    reached = [t for t in candidates if "webhook" in hops(t)] or candidates
    if not reached:
        return []
    reached.sort(key=lambda t: max(s.end_ns for s in t) - min(s.start_ns for s in t))
    return reached[len(reached) // 2]


def summarize(raw: Path, steps: list[dict]) -> dict:
    """The traced pass of each variant (``traces`` steps that ran): its breakdown and an example POST result trace
    as rows ``[depth, service, name, start_ms, duration_ms]`` (what the report's waterfall draws)."""
    variants: dict[str, dict] = {}
    for step in steps:
        if step.get("kind") != "traces" or step.get("status") != "ok" or not step.get("dir"):
            continue
        traces = list(by_trace(read_spans(raw / step["dir"] / "traces")).values())
        chosen = example(traces)
        start = min((s.start_ns for s in chosen), default=0)
        variants[step["variant"]] = {
            "dir": step["dir"],
            "breakdown": breakdown(traces),
            "example": [[depth, s.service, s.name, (s.start_ns - start) / 1e6, s.duration_ms] for depth, s in ordered(chosen)],
        }
    return {"variants": variants}
