"""One static, self-contained HTML leaderboard page (inline CSS, JS and SVG; no network, no server).

Tables are sortable: click a header (again to reverse), or open the page with a URL hash
``#sort=<column key>&desc=1`` (optionally ``&table=<table id>``), applied on load and on hash
change. A sorted table carries ``data-sort-key`` / ``data-sort-dir`` attributes. Every string that
comes from the data (method names, presets, labels) is HTML-escaped; the data never reaches the
script as code: it lives in escaped text and attributes only.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .tables import format_value


@dataclass
class Column:
    """A table column: row key, header label, numeric or text, and the better direction (or None)."""

    key: str
    label: str
    numeric: bool = True
    higher_is_better: bool | None = None
    digits: int = 3


@dataclass
class Table:
    """A sortable table."""

    id: str
    title: str
    columns: Sequence[Column]
    rows: Sequence[Mapping[str, Any]]
    note: str = ""


@dataclass
class Heatmap:
    """``values[i][j]`` for ``row_labels[i]`` x ``col_labels[j]``; colours run from worse to better."""

    title: str
    row_labels: Sequence[str]
    col_labels: Sequence[str]
    values: Sequence[Sequence[float]]
    higher_is_better: bool
    digits: int = 2


@dataclass
class Scatter:
    """Points ``{"label", "x", "y", "pareto"}``; the Pareto-optimal ones are joined by a red line."""

    title: str
    x_label: str
    y_label: str
    points: Sequence[Mapping[str, Any]]
    notes: Sequence[str] = field(default_factory=tuple)


def esc(value: Any) -> str:
    """HTML-escape any value's text (quotes included, safe in attributes)."""
    return html.escape(str(value), quote=True)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;white-space:nowrap}
td.text,th.text{text-align:left}
th{background:#f3f3f3;cursor:pointer;user-select:none;position:sticky;top:0}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
th .dir{color:#888;font-weight:normal}
tbody tr:nth-child(even){background:#fafafa}tbody tr:hover{background:#eef5ff}
figure.plot{display:inline-block;margin:8px 16px 8px 0;vertical-align:top}
figcaption{font-size:13px;color:#444}.note{font-size:12px;color:#666}
.scroll{overflow-x:auto}
"""

_JS = r"""
(function () {
  "use strict";
  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    var raw = cell ? cell.getAttribute("data-value") : null;
    if (!numeric) { return raw === null ? "" : raw; }
    var number = raw === null || raw === "" ? NaN : parseFloat(raw);
    return number;
  }
  function sortTable(table, key, desc) {
    var headers = table.tHead ? table.tHead.rows[0].cells : [];
    var index = -1;
    for (var i = 0; i < headers.length; i++) {
      if (headers[i].getAttribute("data-key") === key) { index = i; }
      headers[i].removeAttribute("aria-sort");
    }
    if (index < 0) { return false; }
    var numeric = headers[index].getAttribute("data-type") === "num";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index, numeric), y = cellValue(b, index, numeric);
      if (numeric) {
        var xn = isNaN(x), yn = isNaN(y);
        if (xn || yn) { return xn === yn ? 0 : (xn ? 1 : -1); }
        return desc ? y - x : x - y;
      }
      var order = String(x).localeCompare(String(y));
      return desc ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    headers[index].setAttribute("aria-sort", desc ? "descending" : "ascending");
    table.setAttribute("data-sort-key", key);
    table.setAttribute("data-sort-dir", desc ? "desc" : "asc");
    return true;
  }
  function parseHash() {
    var params = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      if (!part) { return; }
      var pieces = part.split("=");
      params[decodeURIComponent(pieces[0])] = decodeURIComponent(pieces.slice(1).join("="));
    });
    return params;
  }
  function applyHash() {
    var params = parseHash();
    if (!params.sort) { return; }
    var desc = params.desc === "1" || params.desc === "true";
    var tables = document.querySelectorAll("table.sortable");
    for (var i = 0; i < tables.length; i++) {
      if (params.table && tables[i].id !== params.table) { continue; }
      sortTable(tables[i], params.sort, desc);
    }
  }
  function onClick(event) {
    var th = event.target.closest("th[data-key]");
    if (!th) { return; }
    var table = th.closest("table");
    var key = th.getAttribute("data-key");
    var desc = table.getAttribute("data-sort-key") === key && table.getAttribute("data-sort-dir") === "asc";
    sortTable(table, key, desc);
    try {
      history.replaceState(null, "", "#table=" + encodeURIComponent(table.id) + "&sort=" +
        encodeURIComponent(key) + "&desc=" + (desc ? "1" : "0"));
    } catch (error) { /* history may be unavailable for file:// pages in some browsers */ }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var tables = document.querySelectorAll("table.sortable");
    for (var i = 0; i < tables.length; i++) { tables[i].tHead.addEventListener("click", onClick); }
    applyHash();
    document.body.setAttribute("data-ready", "1");
  });
  window.addEventListener("hashchange", applyHash);
  window.iqaBenchSort = sortTable;
})();
"""


def _table_html(table: Table) -> str:
    head = []
    for column in table.columns:
        arrow = ""
        if column.higher_is_better is not None:
            arrow = ' <span class="dir">' + ("↑" if column.higher_is_better else "↓") + "</span>"
        cls = "" if column.numeric else ' class="text"'
        head.append(
            f'<th{cls} data-key="{esc(column.key)}" data-type="{"num" if column.numeric else "text"}" '
            f'title="click to sort">{esc(column.label)}{arrow}</th>'
        )
    body = []
    for row in table.rows:
        cells = []
        for column in table.columns:
            value = row.get(column.key)
            if column.numeric:
                number = float(value) if isinstance(value, int | float) else math.nan
                data = "" if math.isnan(number) else repr(number)
                cells.append(f'<td data-value="{esc(data)}">{esc(format_value(value, column.digits))}</td>')
            else:
                text = format_value(value)
                cells.append(f'<td class="text" data-value="{esc(text)}">{esc(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    note = f'<p class="note">{esc(table.note)}</p>' if table.note else ""
    return (
        f'<h2 id="{esc(table.id)}-title">{esc(table.title)}</h2>{note}<div class="scroll">'
        f'<table class="sortable" id="{esc(table.id)}"><thead><tr>{"".join(head)}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _colour(t: float) -> str:
    """Red (t = 0, worse) through yellow to green (t = 1, better)."""
    stops = ((0.0, (215, 48, 39)), (0.5, (254, 224, 139)), (1.0, (26, 152, 80)))
    for (t0, c0), (t1, c1) in itertools.pairwise(stops):
        if t <= t1:
            u = (t - t0) / (t1 - t0)
            r, g, b = (round(a + (b - a) * u) for a, b in zip(c0, c1, strict=True))
            return f"#{r:02x}{g:02x}{b:02x}"
    return "#1a9850"


def heatmap_svg(heatmap: Heatmap) -> str:
    """The heatmap as an inline SVG element (labels escaped, NaN cells grey)."""
    cell_w, cell_h = 62, 24
    left = 12 + 7 * max((len(str(label)) for label in heatmap.row_labels), default=4)
    top = 16 + 6 * max((len(str(label)) for label in heatmap.col_labels), default=4)
    width = left + cell_w * len(heatmap.col_labels) + 10
    height = top + cell_h * len(heatmap.row_labels) + 10
    finite = [v for row in heatmap.values for v in row if math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(heatmap.title)}">',
        f"<title>{esc(heatmap.title)}</title>",
    ]
    for j, label in enumerate(heatmap.col_labels):
        x = left + cell_w * j + cell_w / 2
        parts.append(
            f'<text x="{x:.1f}" y="{top - 6}" font-size="11" transform="rotate(-40 {x:.1f} {top - 6})">'
            f"{esc(label)}</text>"
        )
    for i, label in enumerate(heatmap.row_labels):
        y = top + cell_h * i
        parts.append(
            f'<text x="{left - 6}" y="{y + cell_h / 2 + 4:.1f}" font-size="11" text-anchor="end">{esc(label)}</text>'
        )
        for j, value in enumerate(heatmap.values[i]):
            x = left + cell_w * j
            if math.isfinite(value):
                t = 0.5 if high == low else (value - low) / (high - low)
                fill = _colour(t if heatmap.higher_is_better else 1 - t)
            else:
                fill = "#cccccc"
            tip = f"{heatmap.row_labels[i]} × {heatmap.col_labels[j]}: {format_value(value, heatmap.digits)}"
            parts.append(
                f'<g><title>{esc(tip)}</title><rect x="{x}" y="{y}" width="{cell_w}" height="{cell_h}" '
                f'fill="{fill}" stroke="#fff"/><text x="{x + cell_w / 2:.1f}" y="{y + cell_h / 2 + 4:.1f}" '
                f'font-size="11" text-anchor="middle">{esc(format_value(value, heatmap.digits))}</text></g>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high == low:
        return [low]
    return [low + (high - low) * k / (count - 1) for k in range(count)]


def scatter_svg(scatter: Scatter) -> str:
    """The scatter plot as an inline SVG element with the Pareto front drawn in red."""
    width, height, left, right, top, bottom = 640, 420, 64, 24, 20, 48
    points = [p for p in scatter.points if math.isfinite(float(p["x"])) and math.isfinite(float(p["y"]))]
    xs = [float(p["x"]) for p in points] or [0.0, 1.0]
    ys = [float(p["y"]) for p in points] or [0.0, 1.0]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    pad_x = (x1 - x0) * 0.05 or 0.5
    pad_y = (y1 - y0) * 0.05 or 0.5
    x0, x1, y0, y1 = x0 - pad_x, x1 + pad_x, y0 - pad_y, y1 + pad_y

    def sx(v: float) -> float:
        return left + (v - x0) / (x1 - x0) * (width - left - right)

    def sy(v: float) -> float:
        return height - bottom - (v - y0) / (y1 - y0) * (height - top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="scatter" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(scatter.title)}">',
        f"<title>{esc(scatter.title)}</title>",
        f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}" '
        'fill="#fcfcfc" stroke="#999"/>',
    ]
    for tick in _ticks(x0 + pad_x, x1 - pad_x):
        parts.append(
            f'<text x="{sx(tick):.1f}" y="{height - bottom + 16}" font-size="10" text-anchor="middle">{tick:.3g}</text>'
        )
    for tick in _ticks(y0 + pad_y, y1 - pad_y):
        parts.append(f'<text x="{left - 6}" y="{sy(tick) + 3:.1f}" font-size="10" text-anchor="end">{tick:.3g}</text>')
    parts.append(
        f'<text x="{(left + width - right) / 2:.1f}" y="{height - 10}" font-size="12" text-anchor="middle">'
        f"{esc(scatter.x_label)}</text>"
        f'<text x="14" y="{(top + height - bottom) / 2:.1f}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 14 {(top + height - bottom) / 2:.1f})">{esc(scatter.y_label)}</text>'
    )
    front = sorted((p for p in points if p.get("pareto")), key=lambda p: (float(p["x"]), float(p["y"])))
    if len(front) > 1:
        path = " ".join(f"{sx(float(p['x'])):.1f},{sy(float(p['y'])):.1f}" for p in front)
        parts.append(f'<polyline class="pareto-front" points="{path}" fill="none" stroke="#d62728" stroke-width="2"/>')
    for p in points:
        x, y = sx(float(p["x"])), sy(float(p["y"]))
        colour = "#d62728" if p.get("pareto") else "#1f77b4"
        tip = f"{p['label']}: {float(p['x']):.3g}, {float(p['y']):.3g}"
        parts.append(
            f'<g class="point"><title>{esc(tip)}</title><circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}" '
            'fill-opacity="0.8"/></g>'
        )
        if p.get("pareto"):
            parts.append(f'<text x="{x + 7:.1f}" y="{y - 6:.1f}" font-size="10">{esc(p["label"])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_page(
    title: str,
    *,
    tables: Sequence[Table] = (),
    heatmaps: Sequence[Heatmap] = (),
    scatters: Sequence[Scatter] = (),
    notes: Sequence[str] = (),
) -> str:
    """The whole page as one HTML string (UTF-8, no external resource)."""
    body = [f"<h1>{esc(title)}</h1>"]
    body += [f'<p class="note">{esc(note)}</p>' for note in notes]
    body += [_table_html(table) for table in tables]
    if heatmaps:
        body.append('<h2 id="heatmaps">Heatmaps</h2>')
        for heatmap in heatmaps:
            body.append(
                f'<figure class="plot">{heatmap_svg(heatmap)}<figcaption>{esc(heatmap.title)}</figcaption></figure>'
            )
    if scatters:
        body.append('<h2 id="pareto">Pareto fronts</h2>')
        for scatter in scatters:
            extra = "".join(f'<p class="note">{esc(n)}</p>' for n in scatter.notes)
            body.append(
                f'<figure class="plot">{scatter_svg(scatter)}<figcaption>{esc(scatter.title)}</figcaption>'
                f"{extra}</figure>"
            )
    # Only the page's own script may run (by hash): an injected <script> would be blocked even if
    # escaping were ever missed; nothing may be fetched except data: images.
    script_hash = base64.b64encode(hashlib.sha256(_JS.encode("utf-8")).digest()).decode("ascii")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        f"style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'; img-src data:\">"
        f"<title>{esc(title)}</title><style>{_CSS}</style><script>{_JS}</script></head>\n"
        f"<body>{''.join(body)}</body></html>\n"
    )
