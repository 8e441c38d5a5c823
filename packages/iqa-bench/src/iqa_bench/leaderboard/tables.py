"""Tables as CSV and Markdown (every cell escaped for its format)."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def columns_of(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The union of the rows' keys, in first-seen order."""
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(str(key), None)
    return list(seen)


def format_value(value: Any, digits: int = 3) -> str:
    """A cell as text: floats with ``digits`` decimals, NaN/None as ``—``, booleans as yes/no."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return f"{value:.{digits}f}"
    return str(value)


def _csv_cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def write_csv(rows: Sequence[Mapping[str, Any]], path: str | Path, columns: Sequence[str] | None = None) -> Path:
    """Write ``rows`` to ``path`` (NaN/None as empty cells; any cell, header included, that starts like a
    formula is prefixed with ``'``)."""
    header = list(columns) if columns is not None else columns_of(rows)
    target = Path(path)
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([_csv_cell(column) for column in header])  # header cells are user text too
        for row in rows:
            writer.writerow([_csv_cell(row.get(column)) for column in header])
    return target


def escape_markdown(text: str) -> str:
    """Escape a cell for a Markdown table: HTML specials, pipes, backslashes, emphasis, line breaks."""
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for char in ("\\", "|", "`", "*", "_", "[", "]"):
        out = out.replace(char, "\\" + char)
    return " ".join(out.split())


def to_markdown(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    digits: int = 3,
) -> str:
    """A GitHub-flavoured Markdown table (``labels`` rename the header cells)."""
    header = list(columns) if columns is not None else columns_of(rows)
    names = labels or {}
    lines = [
        "| " + " | ".join(escape_markdown(names.get(c, c)) for c in header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    for row in rows:
        cells = [escape_markdown(format_value(row.get(c), digits)) for c in header]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
