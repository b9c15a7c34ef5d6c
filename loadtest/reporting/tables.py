"""Markdown formatting shared by the report sections: numbers, spread blocks, tables, relative links."""

from __future__ import annotations

import os
from pathlib import Path


def num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def fmt(block: dict | None, digits: int = 1, scale: float = 1.0, suffix: str = "") -> str:
    """``median (min–max)`` of a spread block, or just the value when there is one repetition."""
    if not block or block.get("median") is None:
        return "–"
    med, lo, hi = (block[k] * scale for k in ("median", "min", "max"))
    text = num(med, digits) + suffix
    if block.get("n", 0) > 1:
        text += f" ({num(lo, digits)}–{num(hi, digits)})"
    return text


def pct(block: dict | None, digits: int = 1) -> str:
    return fmt(block, digits, 100.0, "%")


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def rel(path: Path | str, base: Path) -> str:
    """``path`` (absolute, or relative to ``base`` as summary.json stores it) relative to ``base``."""
    return os.path.relpath(abs_path(path, base), base)


def abs_path(path: Path | str, base: Path) -> Path:
    path = Path(path)
    return path if path.is_absolute() else base / path
