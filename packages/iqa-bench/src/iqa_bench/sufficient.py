"""Statistically sufficient evaluation: attack a cell's images chunk by chunk until its D is known well enough.

The paper attacks a fixed number of images per cell. With ``sufficient: {ci_width: W}`` in the
config, the local runner orders attack units chunk-first (every cell's first chunk, then every
cell's second, ...) and, before an attack unit of a later chunk, asks :class:`Sufficiency`
whether its cell is already *settled*: at least ``min_images`` images attacked and, for every
defence (and preset) the cell's rows hold, the 95 % percentile-bootstrap interval of the mean
per-image value (``d`` = 100 |f(P(x')) - f(x)| / diam by default; see
:data:`iqa_bench.stats.PAIRED_VALUES`) at most ``W`` wide. Settled cells skip their remaining
chunks. Clean units always run in full (they are cheap and the correlations need them).

The decision reads only stored rows, so it is the same on resume: skipped units are not stored,
and a resumed run skips them again. :func:`savings` reports the images used per cell against the
plan. ``tools/perf/sufficient_evaluation.py`` measures the savings on the demo grid and checks
that the conclusions (each cell's defence ranking) are those of the full run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .aggregate import diameter, resolve
from .config import SufficientConfig
from .planning import Unit
from .stats import PAIRED_VALUES
from .store import ResultStore
from .uncertainty import bootstrap_interval

ATTACK_KINDS = ("non-adaptive", "adaptive")


def cell_of(unit: Unit) -> tuple[str, ...]:
    """The cell an attack unit adds images to (every chunk of one cell shares it)."""
    cell = (unit.kind, unit.dataset, unit.metric, unit.component, unit.preset)
    return (*cell, unit.defence, unit.defence_preset) if unit.kind == "adaptive" else cell


def chunk_first(units: Sequence[Unit]) -> list[Unit]:
    """``units`` reordered so each chunk of every cell runs before any cell's next chunk (stable)."""
    return sorted(units, key=lambda u: u.chunk if u.kind in ATTACK_KINDS else -1)


@dataclass
class CellState:
    images: int = 0
    widths: dict[str, float] = field(default_factory=dict)
    settled: bool = False


class Sufficiency:
    """Decides, from the stored rows, whether an attack unit's cell still needs images."""

    def __init__(self, config: SufficientConfig, store: ResultStore) -> None:
        self.config = config
        self.store = store
        self.cells: dict[tuple[str, ...], CellState] = {}
        self.skipped: dict[tuple[str, ...], int] = defaultdict(int)

    def _rows(self, unit: Unit) -> list[dict[str, Any]]:
        where: dict[str, Any] = {
            "mode": unit.kind,
            "dataset": unit.dataset,
            "metric": unit.metric,
            "attack": unit.component,
            "attack_preset": unit.preset,
        }
        if unit.kind == "adaptive":
            where.update(defence=unit.defence, defence_preset=unit.defence_preset)
        return list(self.store.results(**where))

    def state(self, unit: Unit) -> CellState:
        """The cell's images so far and the width of each defence's interval (recomputed each call)."""
        paired = PAIRED_VALUES[self.config.value]
        diam = diameter(self.store.bounds(), unit.metric)
        values: dict[str, list[float]] = defaultdict(list)
        images: set[str] = set()
        for row in self._rows(unit):
            scores = resolve(row)
            if scores is None:
                continue
            images.add(scores.image)
            values[f"{row['defence']}@{row['defence_preset']}"].append(paired.compute(scores, diam))
        widths = {
            name: bootstrap_interval(np.asarray(v), n_resamples=self.config.resamples, seed=0).width
            for name, v in sorted(values.items())
        }
        settled = (
            len(images) >= self.config.min_images
            and bool(widths)
            and all(np.isfinite(w) and w <= self.config.ci_width for w in widths.values())
        )
        return CellState(len(images), widths, settled)

    def needed(self, unit: Unit) -> bool:
        """False when ``unit`` adds images to a settled cell (it is then counted as skipped)."""
        if unit.kind not in ATTACK_KINDS or unit.chunk == 0:
            return True
        cell = cell_of(unit)
        known = self.cells.get(cell)
        if known is None or not known.settled:
            known = self.cells[cell] = self.state(unit)
        if known.settled:
            self.skipped[cell] += 1
            return False
        return True


def savings(units: Iterable[Unit], skipped: Iterable[Unit], images_per_unit: dict[str, int]) -> dict[str, Any]:
    """Planned vs attacked images over attack units: ``{planned, attacked, saved, saved_fraction, cells}``."""
    planned = attacked = 0
    skipped_ids = {u.id for u in skipped}
    cells: dict[str, dict[str, int]] = {}
    for unit in units:
        if unit.kind not in ATTACK_KINDS:
            continue
        n = images_per_unit.get(unit.id, 0)
        planned += n
        entry = cells.setdefault("/".join(cell_of(unit)), {"planned": 0, "attacked": 0})
        entry["planned"] += n
        if unit.id not in skipped_ids:
            attacked += n
            entry["attacked"] += n
    return {
        "planned": planned,
        "attacked": attacked,
        "saved": planned - attacked,
        "saved_fraction": (planned - attacked) / planned if planned else 0.0,
        "cells": cells,
    }
