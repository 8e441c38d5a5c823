"""The ranked leaderboard of the HTML page: one row per defence for a filter selection.

The page carries, per ``(defence, mode, dataset, metric, attack)`` cell, the sum and the count of
each score's finite per-experiment values, so that its script can recompute the mean of any
selection exactly as :func:`iqa_bench.aggregate.rollup` does (mean of the finite per-experiment
values) without shipping every experiment. :func:`board_view` is the same computation in Python:
the page is rendered with the default selection, and the tests compare both.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DIMENSIONS: tuple[str, ...] = ("mode", "dataset", "metric", "attack")
"""Filterable dimensions, in the order the page shows them (``mode`` always has one value chosen)."""


@dataclass(frozen=True)
class BoardColumn:
    """A leaderboard column: ``how`` = ``"mean"`` (of finite per-experiment values) or ``"sum"`` (counts).

    ``scale`` multiplies the value for display (e.g. seconds to milliseconds); ``higher_is_better``
    is the direction note (``None``: no direction, e.g. counts).
    """

    key: str
    label: str
    higher_is_better: bool | None
    description: str = ""
    digits: int = 3
    scale: float = 1.0
    how: str = "mean"


def interval_of(value: Any) -> tuple[float, float, float]:
    """``(estimate, low, high)`` of an interval-like value: an object with ``estimate``/``low``/``high``
    (e.g. :class:`iqa_bench.uncertainty.Interval`), a mapping with those keys, a 3-sequence, or a
    plain number (no interval: low = high = NaN). Non-numbers become NaN."""

    def number(x: Any) -> float:
        if isinstance(x, bool) or not isinstance(x, int | float):
            return math.nan
        return float(x)

    if all(hasattr(value, name) for name in ("estimate", "low", "high")):
        return number(value.estimate), number(value.low), number(value.high)
    if isinstance(value, Mapping):
        return number(value.get("estimate")), number(value.get("low")), number(value.get("high"))
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 3:
        return number(value[0]), number(value[1]), number(value[2])
    return number(value), math.nan, math.nan


@dataclass(frozen=True)
class ExtraColumn:
    """A per-method column supplied from outside the run's results (e.g. a subjective study's
    Bradley-Terry score), shown with its interval as ``estimate (low–high)``.

    ``values`` maps a method (a defence, for the defences board) to an interval-like value (see
    :func:`interval_of`); methods missing from it show ``—``. The values do not depend on the
    page's filters. They join the page, the CSV (``<key>``, ``<key>_low``, ``<key>_high``) and the
    JSON entries (``extra.<key>``).
    """

    key: str
    label: str
    higher_is_better: bool | None
    values: Mapping[str, Any]
    description: str = ""
    digits: int = 3

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", self.key):
            raise ValueError(
                f"extra column key {self.key!r} must be lower-case letters, digits and '_' (starting with a letter)"
            )

    def interval(self, method: str) -> tuple[float, float, float]:
        """``(estimate, low, high)`` of ``method`` (NaNs when it has no value)."""
        return interval_of(self.values[method]) if method in self.values else (math.nan, math.nan, math.nan)

    def to_entry(self, method: str) -> dict[str, Any] | None:
        """The JSON entry's ``extra.<key>`` object for ``method`` (``None`` when it has no value)."""
        if method not in self.values:
            return None
        estimate, low, high = self.interval(method)
        return {
            "label": self.label,
            "higher_is_better": self.higher_is_better,
            "estimate": estimate if math.isfinite(estimate) else None,
            "low": low if math.isfinite(low) else None,
            "high": high if math.isfinite(high) else None,
            "description": self.description,
        }


@dataclass
class Board:
    """Everything the page's leaderboard needs (see :func:`build_board`)."""

    columns: list[BoardColumn]
    options: dict[str, list[str]]
    defences: list[str]
    cells: list[tuple[int, int, int, int, int, list[float], list[int]]]
    presets: dict[str, dict[str, str]] = field(default_factory=dict)
    """``{mode: {defence: preset}}`` (the preset each defence is scored with in that mode)."""
    types: dict[str, str] = field(default_factory=dict)
    rank_by: str = "srocc_adv"
    baseline: str | None = "none"
    entry_links: dict[str, str] = field(default_factory=dict)
    """``{defence: relative link to its JSON entry}``."""
    directions: dict[str, bool] = field(default_factory=dict)
    """``{metric: higher_is_better}`` (the page notes a lower-is-better metric when it is selected)."""
    extras: list[ExtraColumn] = field(default_factory=list)
    """Columns supplied from outside (see :class:`ExtraColumn`), shown after the score columns."""

    def column(self, key: str) -> BoardColumn:
        for column in self.columns:
            if column.key == key:
                return column
        raise KeyError(f"no leaderboard column {key!r}; columns: {[c.key for c in self.columns]}")


@dataclass
class BoardRow:
    """One defence in a view: its rank (``None``: the baseline or no value to rank by) and values."""

    defence: str
    rank: int | None
    preset: str
    values: dict[str, float]


def build_board(
    summaries: Iterable[Mapping[str, Any]],
    columns: Sequence[BoardColumn],
    *,
    presets: Mapping[str, Mapping[str, str]] | None = None,
    types: Mapping[str, str] | None = None,
    rank_by: str = "srocc_adv",
    baseline: str | None = "none",
    modes: Sequence[str] = ("non-adaptive", "adaptive"),
    directions: Mapping[str, bool] | None = None,
    extra_columns: Sequence[ExtraColumn] = (),
) -> Board:
    """Fold per-experiment summaries (one preset per defence and mode) into leaderboard cells.

    Clean-only experiments (``attack = "none"``) are left out, as in the roll-ups.
    ``extra_columns`` add per-defence values from outside the run (see :class:`ExtraColumn`).
    """
    items = [s for s in summaries if s.get("attack") != "none"]
    if rank_by not in {c.key for c in columns if c.how == "mean"}:
        raise KeyError(f"rank_by={rank_by!r} is not a mean column of the leaderboard")
    present_modes = {str(s["mode"]) for s in items}
    options = {
        "mode": [m for m in modes if m in present_modes] + sorted(present_modes - set(modes)),
        **{dim: sorted({str(s[dim]) for s in items}) for dim in DIMENSIONS[1:]},
    }
    defences = sorted({str(s["defence"]) for s in items}, key=lambda d: (d != baseline, d))
    index = {dim: {value: i for i, value in enumerate(values)} for dim, values in options.items()}
    defence_index = {d: i for i, d in enumerate(defences)}
    sums: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [0.0] * len(columns))
    counts: dict[tuple[int, ...], list[int]] = defaultdict(lambda: [0] * len(columns))
    for summary in items:
        key = (defence_index[str(summary["defence"])], *(index[dim][str(summary[dim])] for dim in DIMENSIONS))
        for k, column in enumerate(columns):
            value = summary.get(column.key)
            number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan
            if not math.isfinite(number):
                continue
            sums[key][k] += number
            counts[key][k] += 1
    cells = [(key[0], key[1], key[2], key[3], key[4], sums[key], counts[key]) for key in sorted(sums)]
    return Board(
        columns=list(columns),
        options=options,
        defences=defences,
        cells=cells,
        presets={str(m): {str(d): str(p) for d, p in chosen.items()} for m, chosen in (presets or {}).items()},
        types={str(d): str(t) for d, t in (types or {}).items()},
        rank_by=rank_by,
        baseline=baseline,
        directions={str(m): bool(h) for m, h in (directions or {}).items()},
        extras=_checked_extras(extra_columns, {c.key for c in columns}),
    )


def _checked_extras(extras: Sequence[ExtraColumn], taken: set[str]) -> list[ExtraColumn]:
    out = []
    for extra in extras:
        if not isinstance(extra, ExtraColumn):
            raise TypeError(f"extra_columns takes ExtraColumn objects, got {type(extra).__name__}")
        if extra.key in taken:
            raise ValueError(f"extra column key {extra.key!r} is already a column of the leaderboard; rename it")
        taken.add(extra.key)
        out.append(extra)
    return out


def default_filters(board: Board) -> dict[str, str]:
    """The page's initial selection: the first mode (non-adaptive when present), everything else all."""
    return {
        "mode": board.options["mode"][0] if board.options["mode"] else "",
        "dataset": "",
        "metric": "",
        "attack": "",
    }


def board_view(board: Board, filters: Mapping[str, str] | None = None, rank_by: str | None = None) -> list[BoardRow]:
    """The ranked rows for a selection (``""`` or a missing dimension = all values).

    Mirrors the page's script: means of the selected cells' sums and counts; the baseline first
    and unranked; then by ``rank_by`` in its direction, ties sharing a rank ("1224"), defences
    without a value last and unranked; equal values ordered by name.
    """
    chosen = {**default_filters(board), **(filters or {})}
    for dim, value in chosen.items():
        if dim not in DIMENSIONS:
            raise KeyError(f"unknown filter {dim!r}; filters: {list(DIMENSIONS)}")
        if value and value not in board.options[dim]:
            raise ValueError(f"{dim}={value!r} is not in this leaderboard; choose from {board.options[dim]}")
    wanted = [board.options[dim].index(chosen[dim]) if chosen[dim] else None for dim in DIMENSIONS]
    sums: dict[int, list[float]] = {}
    counts: dict[int, list[int]] = {}
    for d, *dims, cell_sums, cell_counts in board.cells:
        if any(w is not None and w != v for w, v in zip(wanted, dims, strict=True)):
            continue
        total, number = sums.setdefault(d, [0.0] * len(board.columns)), counts.setdefault(d, [0] * len(board.columns))
        for k in range(len(board.columns)):
            total[k] += cell_sums[k]
            number[k] += cell_counts[k]
    rows = []
    for d in sorted(sums):
        values = {}
        for k, column in enumerate(board.columns):
            if column.how == "sum":
                values[column.key] = sums[d][k]
            else:
                values[column.key] = sums[d][k] / counts[d][k] if counts[d][k] else math.nan
        defence = board.defences[d]
        preset = board.presets.get(chosen["mode"], {}).get(defence, "")
        rows.append(BoardRow(defence, None, preset, values))
    return rank_rows(rows, board.column(rank_by or board.rank_by), board.baseline)


def rank_rows(rows: list[BoardRow], column: BoardColumn, baseline: str | None) -> list[BoardRow]:
    """Order and rank ``rows`` in place by ``column`` (see :func:`board_view`)."""
    sign = -1.0 if column.higher_is_better is not False else 1.0
    base = [r for r in rows if r.defence == baseline]
    scored = [r for r in rows if r.defence != baseline and math.isfinite(r.values[column.key])]
    unscored = [r for r in rows if r.defence != baseline and not math.isfinite(r.values[column.key])]
    scored.sort(key=lambda r: (sign * r.values[column.key], r.defence))
    for position, row in enumerate(scored):
        previous = scored[position - 1] if position else None
        same = previous is not None and previous.values[column.key] == row.values[column.key]
        row.rank = previous.rank if same and previous is not None else position + 1
    for row in [*base, *sorted(unscored, key=lambda r: r.defence)]:
        row.rank = None
    return [*base, *scored, *sorted(unscored, key=lambda r: r.defence)]


def entry_slug(name: str, taken: set[str] | None = None) -> str:
    """A file-name-safe, unique stem for a defence's JSON entry (a hash suffix when the name is not plain)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:48] or "entry"
    if slug != name or (taken is not None and slug in taken):
        slug += "-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    if taken is not None:
        taken.add(slug)
    return slug


def board_data(board: Board) -> dict[str, Any]:
    """The JSON the page's script reads (plain lists and numbers; no NaN)."""
    return {
        "dims": list(DIMENSIONS),
        "columns": [
            {
                "key": c.key,
                "label": c.label,
                "higher": c.higher_is_better,
                "digits": c.digits,
                "scale": c.scale,
                "how": c.how,
            }
            for c in board.columns
        ],
        "options": board.options,
        "defences": board.defences,
        # counts as one number when every column has the same (the usual case): a smaller page
        "cells": [[*cell[:6], cell[6][0] if len(set(cell[6])) == 1 else cell[6]] for cell in board.cells],
        "presets": board.presets,
        "types": board.types,
        "rank_by": board.rank_by,
        "baseline": board.baseline,
        "links": board.entry_links,
        "directions": board.directions,
        "extras": [
            {
                "key": e.key,
                "label": e.label,
                "higher": e.higher_is_better,
                "digits": e.digits,
                "values": {
                    d: [None if not math.isfinite(x) else x for x in e.interval(d)]
                    for d in board.defences
                    if d in e.values
                },
            }
            for e in board.extras
        ],
    }
