"""A span exporter that appends one JSON object per finished span to a file: traces without any backend.

Each line: ``trace_id``, ``span_id``, ``parent_id`` (hex; None for a root), ``name``, ``kind`` (``server``,
``client``, ``producer``, ``consumer``, ``internal``), ``service`` (the process's service name), ``pid``, ``start_ns``
and ``end_ns`` (nanoseconds since the epoch), ``status`` (``ok``, ``error`` or ``unset``) and ``attributes``.
``harness.traces`` reads these files. Meant for a :class:`SimpleSpanProcessor`: a span is on disk when it ends,
so a reader (a test, the waterfall) sees it at once and nothing is left to flush when the process dies.
"""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """The JSON object written for ``span``."""
    context = span.get_span_context()
    parent = span.parent
    return {
        "trace_id": format(context.trace_id, "032x") if context else None,
        "span_id": format(context.span_id, "016x") if context else None,
        "parent_id": format(parent.span_id, "016x") if parent else None,
        "name": span.name,
        "kind": span.kind.name.lower(),
        "service": span.resource.attributes.get("service.name", "unknown"),
        "pid": os.getpid(),
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name.lower(),
        "attributes": {key: _plain(value) for key, value in (span.attributes or {}).items()},
    }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


class JsonLinesSpanExporter(SpanExporter):
    """Appends to ``folder/SERVICE-PID.jsonl`` (one file per process: no two processes write one file). The file is
    opened for each batch, so a forked child writes its own and nothing stays open to flush."""

    def __init__(self, folder: str | Path, service: str):
        self._folder = Path(folder)
        self._service = service
        self._lock = threading.Lock()

    def path(self) -> Path:
        return self._folder / f"{self._service}-{os.getpid()}.jsonl"

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(span_record(span), default=str) + "\n" for span in spans)
        try:
            with self._lock:
                self._folder.mkdir(parents=True, exist_ok=True)
                with open(self.path(), "a", encoding="utf-8") as out:
                    out.write(lines)
        except OSError:
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
