"""Report figures with matplotlib (Agg canvas, no pyplot state): heatmaps, Pareto scatter, bars.

``heatmap_figure``, ``pareto_figure`` and ``bar_figure`` build a :class:`~matplotlib.figure.Figure`;
:func:`save_figure` writes it (one file per format, ``png`` / ``svg``, as ``<stem>.<format>``) and
:func:`png_bytes` renders it in memory (for the HTML page). ``heatmap``, ``pareto_scatter`` and
``bar_chart`` build and write in one call and return the paths. The global matplotlib backend is
left untouched: figures are drawn on their own :class:`~matplotlib.backends.backend_agg.FigureCanvasAgg`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

FORMATS: tuple[str, ...] = ("png", "svg")


def _text(value: Any) -> str:
    """A label as literal text: ``$`` would otherwise start matplotlib mathtext."""
    return str(value).replace("$", r"\$")


DPI = 120


def save_figure(figure: Figure, stem: str | Path, formats: Sequence[str] = FORMATS, *, dpi: int = DPI) -> list[Path]:
    """Write ``figure`` as ``<stem>.<format>`` for each format; return the paths."""
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown plot format(s) {unknown}; choose from {FORMATS}")
    FigureCanvasAgg(figure)
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        figure.savefig(path, format=fmt, dpi=dpi, bbox_inches="tight")
        paths.append(path)
    return paths


def png_bytes(figure: Figure, *, dpi: int = 96) -> bytes:
    """``figure`` as PNG bytes (for an inline ``data:`` image)."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def heatmap(
    values: Sequence[Sequence[float]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    stem: str | Path,
    *,
    title: str = "",
    higher_is_better: bool = True,
    digits: int = 2,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """A ``rows x cols`` heatmap with the values written in the cells (green = better, NaN blank)."""
    figure = heatmap_figure(
        values, row_labels, col_labels, title=title, higher_is_better=higher_is_better, digits=digits
    )
    return save_figure(figure, stem, formats)


def heatmap_figure(
    values: Sequence[Sequence[float]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    title: str = "",
    higher_is_better: bool = True,
    digits: int = 2,
) -> Figure:
    """The figure of :func:`heatmap`."""
    array = np.asarray(values, dtype=np.float64).reshape(len(row_labels), len(col_labels))
    figure = Figure(figsize=(1.0 + 0.8 * len(col_labels), 1.2 + 0.4 * len(row_labels)))
    axes = figure.add_subplot()
    masked = np.ma.masked_invalid(array)
    image = axes.imshow(masked, cmap="RdYlGn" if higher_is_better else "RdYlGn_r", aspect="auto")
    axes.set_xticks(range(len(col_labels)), [_text(label) for label in col_labels], rotation=40, ha="right")
    axes.set_yticks(range(len(row_labels)), [_text(label) for label in row_labels])
    for (i, j), value in np.ndenumerate(array):
        if math.isfinite(value):
            axes.text(j, i, f"{value:.{digits}f}", ha="center", va="center", fontsize=8)
    figure.colorbar(image, ax=axes)
    axes.set_title(_text(title))
    return figure


def pareto_scatter(
    points: Sequence[Mapping[str, Any]],
    x: str,
    y: str,
    stem: str | Path,
    *,
    label: str = "label",
    x_label: str | None = None,
    y_label: str | None = None,
    title: str = "",
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Scatter of ``points[x]`` vs ``points[y]``; points flagged ``pareto`` are red and joined."""
    figure = pareto_figure(points, x, y, label=label, x_label=x_label, y_label=y_label, title=title)
    return save_figure(figure, stem, formats)


def pareto_figure(
    points: Sequence[Mapping[str, Any]],
    x: str,
    y: str,
    *,
    label: str = "label",
    x_label: str | None = None,
    y_label: str | None = None,
    title: str = "",
) -> Figure:
    """The figure of :func:`pareto_scatter`."""
    figure = Figure(figsize=(6.4, 4.4))
    axes = figure.add_subplot()
    finite = [p for p in points if math.isfinite(float(p[x])) and math.isfinite(float(p[y]))]
    others = [p for p in finite if not p.get("pareto")]
    front = sorted((p for p in finite if p.get("pareto")), key=lambda p: (float(p[x]), float(p[y])))
    axes.scatter([float(p[x]) for p in others], [float(p[y]) for p in others], color="#1f77b4", alpha=0.8)
    axes.scatter([float(p[x]) for p in front], [float(p[y]) for p in front], color="#d62728", zorder=3)
    if len(front) > 1:
        axes.plot([float(p[x]) for p in front], [float(p[y]) for p in front], color="#d62728", linewidth=1.5)
    for p in front:
        axes.annotate(
            _text(p.get(label, "")), (float(p[x]), float(p[y])), fontsize=7, xytext=(4, 4), textcoords="offset points"
        )
    axes.set_xlabel(_text(x_label or x))
    axes.set_ylabel(_text(y_label or y))
    axes.set_title(_text(title))
    axes.grid(alpha=0.3)
    return figure


def bar_chart(
    table: Sequence[Mapping[str, Any]],
    value: str,
    stem: str | Path,
    *,
    label: str = "defence",
    group: str | None = "mode",
    error: str | None = None,
    title: str = "",
    y_label: str | None = None,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Bars of ``table[value]`` per ``label`` (one bar per ``group`` value side by side, ``error`` as whiskers)."""
    figure = bar_figure(table, value, label=label, group=group, error=error, title=title, y_label=y_label)
    return save_figure(figure, stem, formats)


def bar_figure(
    table: Sequence[Mapping[str, Any]],
    value: str,
    *,
    label: str = "defence",
    group: str | None = "mode",
    error: str | None = None,
    title: str = "",
    y_label: str | None = None,
) -> Figure:
    """The figure of :func:`bar_chart`."""
    labels = list(dict.fromkeys(str(row[label]) for row in table))
    groups = list(dict.fromkeys(str(row[group]) for row in table)) if group else [""]
    figure = Figure(figsize=(1.5 + 0.55 * len(labels) * max(1, len(groups)) ** 0.5, 4.0))
    axes = figure.add_subplot()
    width = 0.8 / len(groups)
    positions = np.arange(len(labels))
    for k, name in enumerate(groups):
        rows = {str(row[label]): row for row in table if not group or str(row[group]) == name}
        heights = [float(rows[n][value]) if n in rows else math.nan for n in labels]
        errors = [float(rows[n][error]) if error and n in rows else 0.0 for n in labels] if error else None
        axes.bar(
            positions + (k - (len(groups) - 1) / 2) * width,
            heights,
            width,
            yerr=errors,
            label=_text(name) if name else None,
        )
    axes.set_xticks(positions, [_text(n) for n in labels], rotation=40, ha="right")
    axes.set_ylabel(_text(y_label or value))
    axes.set_title(_text(title))
    if group and len(groups) > 1:
        axes.legend(fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    return figure


def transfer_heatmap_figure(
    values: Sequence[Sequence[float]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    own: Sequence[tuple[int, int]] = (),
    title: str = "",
    higher_is_better: bool = True,
    digits: int = 2,
) -> Figure:
    """:func:`heatmap_figure` of a transfer matrix (rows: where the images were crafted, columns:
    where they are scored), the ``own`` cells (row and column are the same metric and defence)
    outlined in black."""
    from matplotlib.patches import Rectangle

    figure = heatmap_figure(
        values, row_labels, col_labels, title=title, higher_is_better=higher_is_better, digits=digits
    )
    axes = figure.axes[0]
    for i, j in own:
        axes.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2))
    axes.set_xlabel("scored by (metric / defence)")
    axes.set_ylabel("crafted against (metric / defence)")
    return figure
