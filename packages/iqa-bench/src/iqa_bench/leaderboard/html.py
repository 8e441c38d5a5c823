"""One static HTML leaderboard page, rendered from a Jinja2 template (autoescaped; no network).

The template, its CSS and its script ship as package data under ``templates/``. The page holds:

* the ranked leaderboard (:mod:`.board`): one row per defence, recomputed by the page's script
  for a filter selection (mode, dataset, metric, attack) and a rank-by column; each row links to
  the defence's raw JSON entry, written beside the page;
* breakdown tables, whose rows the same filters hide or show;
* the report's figures, inline as PNG ``data:`` URIs.

Tables sort on a header click (again to reverse) or by URL hash ``#sort=<column key>&desc=1``
(optionally ``&table=<table id>``); the filters live in the hash too (``#mode=adaptive&metric=x``),
so a filtered view can be shared as a link. The data reaches the script only as JSON in a
non-executable ``<script type="application/json">`` block (escaped by Jinja's ``tojson``) and in
escaped text and attributes; a Content-Security-Policy allows no script but the page's own (by
hash) and no resource but ``data:`` images.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from .board import DIMENSIONS, Board, BoardRow, board_data, board_view, default_filters
from .tables import format_value

TEMPLATE = "leaderboard.html.j2"
SCRIPT = "leaderboard.js"


@dataclass
class Column:
    """A table column: row key, header label, numeric or text, and the better direction (or None)."""

    key: str
    label: str
    numeric: bool = True
    higher_is_better: bool | None = None
    digits: int = 3
    description: str = ""
    kind: str = ""
    """``""`` (number or text, by ``numeric``), ``"interval"`` (the row's ``key``, ``key_low``,
    ``key_high`` shown as ``estimate (low–high)``) or ``"rank"`` (the row's ``rank``, ``rank_low``,
    ``rank_high``, ``tied``, ``unstable`` shown as ``2= (1–3) ↕``) or ``"link"`` (a relative href
    the page itself wrote, shown as a ``JSON`` link)."""


def rank_text(row: Mapping[str, Any]) -> str:
    """``rank[=] (low–high)[ ↕]``: ``=`` a tie, ``↕`` a rank resampling can flip; ``—`` without a rank."""
    rank = row.get("rank")
    if rank is None or (isinstance(rank, float) and math.isnan(rank)):
        return "—"
    text = f"{rank}{'=' if row.get('tied') else ''}"
    low, high = row.get("rank_low"), row.get("rank_high")
    if low is not None and high is not None:
        text += f" ({low}–{high})" if low != high else f" ({low})"
    return text + (" ↕" if row.get("unstable") else "")


@dataclass
class Table:
    """A sortable breakdown table; ``filters`` names the row keys the page's filters act on."""

    id: str
    title: str
    columns: Sequence[Column]
    rows: Sequence[Mapping[str, Any]]
    note: str = ""
    filters: Mapping[str, str] = field(default_factory=dict)
    """Filters that apply to the whole table (e.g. a win-rate matrix of one dataset and mode)."""


@dataclass
class PageFigure:
    """A figure shown inline: PNG bytes, a title (also the alt text), and the filters it belongs to."""

    id: str
    title: str
    png: bytes
    caption: str = ""
    filters: Mapping[str, str] = field(default_factory=dict)

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass
class FigureSection:
    """A titled group of figures (Pareto fronts, heatmaps, ...)."""

    id: str
    title: str
    figures: Sequence[PageFigure]
    note: str = ""


@dataclass
class Glossary:
    """One line of "how to read": a column's label, direction and definition."""

    label: str
    higher_is_better: bool | None
    description: str


def esc(value: Any) -> str:
    """HTML-escape any value's text (quotes included, safe in attributes)."""
    return html.escape(str(value), quote=True)


def direction_text(higher_is_better: bool | None) -> str:
    """The direction note of a column: ``↑ higher is better``, ``↓ lower is better`` or empty."""
    if higher_is_better is None:
        return ""
    return "↑ higher is better" if higher_is_better else "↓ lower is better"


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _fmt(value: Any, digits: int = 3, scale: float = 1.0) -> str:
    number = _number(value)
    return format_value(value if math.isnan(number) and not isinstance(value, float) else number * scale, digits)


def format_interval(interval: Sequence[Any], digits: int = 3) -> str:
    """``estimate (low–high)``; ``—`` without an estimate, the estimate alone without an interval."""
    estimate, low, high = (_number(v) for v in interval)
    if math.isnan(estimate):
        return "—"
    text = format_value(estimate, digits)
    if math.isnan(low) or math.isnan(high):
        return text
    return f"{text} ({format_value(low, digits)}–{format_value(high, digits)})"


def _data_value(value: Any) -> str:
    number = _number(value)
    return "" if math.isnan(number) else repr(number)


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("iqa_bench.leaderboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = _fmt
    env.filters["data_value"] = _data_value
    env.filters["direction"] = direction_text
    env.filters["interval"] = format_interval
    env.filters["rank_text"] = rank_text
    return env


@cache
def _script() -> str:
    return resources.files(__package__).joinpath("templates", SCRIPT).read_text(encoding="utf-8")


def _row_filters(row: Mapping[str, Any]) -> dict[str, str]:
    return {dim: str(row[dim]) for dim in DIMENSIONS if dim in row}


def render_page(
    title: str,
    *,
    board: Board | None = None,
    tables: Sequence[Table] = (),
    figures: Sequence[FigureSection] = (),
    notes: Sequence[str] = (),
    glossary: Sequence[Glossary] = (),
    metric_directions: Mapping[str, bool] | None = None,
) -> str:
    """The whole page as one HTML string (UTF-8; every resource inline or a relative link)."""
    script = _script()
    script_hash = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    rows: list[BoardRow] = board_view(board) if board is not None and board.cells else []
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            title=title,
            notes=notes,
            board=board,
            board_rows=rows,
            board_json=board_data(board) if board is not None else None,
            filters=default_filters(board) if board is not None else {},
            tables=tables,
            row_filters=_row_filters,
            figure_sections=[section for section in figures if section.figures],
            glossary=glossary,
            metric_directions=dict(sorted((metric_directions or {}).items())),
            dimensions=DIMENSIONS,
            script=Markup(script),  # noqa: S704 (the packaged script itself, never data)
            script_hash=script_hash,
        )
    )
