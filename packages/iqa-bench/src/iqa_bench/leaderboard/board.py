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
) -> Board:
    """Fold per-experiment summaries (one preset per defence and mode) into leaderboard cells.

    Clean-only experiments (``attack = "none"``) are left out, as in the roll-ups.
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
    )


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
    }
