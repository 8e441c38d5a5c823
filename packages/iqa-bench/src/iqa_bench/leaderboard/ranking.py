"""Ranks with uncertainty: a composite of the paper's scores, paired bootstrap intervals, Bradley-Terry.

Every leaderboard (defences, metrics, attacks) ranks *methods* compared inside *cells*: for the
defences board a cell is one ``(dataset, metric, attack, attack preset)`` of a mode, for the
metrics board one ``(dataset, attack, attack preset)``, for the attacks board one
``(dataset, metric)``. A method's score is the mean over its cells of the per-cell score (as the
roll-ups of :mod:`iqa_bench.aggregate` average per-experiment values).

**Composite.** For each *criterion* (a score of the paper with its direction) the methods of a
group get competition ranks (ties share the best rank); the composite is the mean of these
per-criterion ranks (lower is better). The group's rank is the competition rank of the composite,
so equal composites are tied ranks.

**Intervals.** Images are the sampling unit: one bootstrap replicate draws, per dataset, ``n``
image indices with replacement and applies the same draw to every cell and every method of that
dataset (a *paired* bootstrap: methods see the same images, so their differences are resampled,
not their independent noise). Rows carrying several ``seed`` values (randomized defences run with
several seeds) are resampled in two stages: images, then the seeds of each drawn image; a score is
then the mean over seeds of the per-seed score. Each
replicate recomputes every per-cell score, the per-method means, the per-criterion ranks and the
composite; the 95 % percentile interval of each score and of the composite, and the rank interval
(:func:`iqa_bench.uncertainty.rank_intervals`) follow. A rank whose interval holds another rank is
*unstable*: resampling the images can flip it.

**Bradley-Terry.** Pairwise one-sided Wilcoxon tests between the methods of each cell
(:func:`iqa_bench.stats.wilcoxon_tests`) give win counts: a significant win counts 1 for the
winner, a tested pair without a significant winner either way half a win to each side (a tie).
:func:`iqa_bench.uncertainty.bradley_terry` turns them into log-strengths (mean 0, higher is
stronger).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import rankdata

from iqa_core import scoring

from ..aggregate import Bounds, Row, diameter, experiment_key, higher_is_better, resolve
from ..schema import NONE
from ..stats import WilcoxonTest
from ..uncertainty import DEFAULT_CONFIDENCE, Interval, RankInterval, bradley_terry, rank_intervals

DEFAULT_RESAMPLES = 1000
"""Bootstrap replicates of the report's leaderboards."""

FIELDS: tuple[str, ...] = ("clean", "attacked", "purified_clean", "purified_attacked", "psnr", "ssim", "lpips", "mos")


@dataclass(frozen=True)
class Criterion:
    """A ranked score: key, label, direction, definition; ``composite`` = part of the composite rank."""

    key: str
    label: str
    higher_is_better: bool
    description: str
    composite: bool = True


@dataclass
class MethodCell:
    """One method's per-image values in one cell, aligned to its dataset's image list.

    Every field is ``(n_seeds, n_images)``; NaN where the method has no usable row.
    """

    values: dict[str, np.ndarray]
    diam: float
    higher_is_better: bool


@dataclass
class RankedMethod:
    """One method of one group: its scores and composite with intervals, its rank interval, BT strength."""

    group: str
    method: str
    scores: dict[str, Interval]
    composite: Interval
    rank: RankInterval
    strength: float
    tied: bool = False
    """Another method of the group shares this rank."""
    n_cells: int = 0
    n_images: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The entry form: rank, interval, unstable, composite, strength, scores (NaN as None)."""

        def interval(value: Interval) -> dict[str, float | None]:
            return {k: (v if math.isfinite(v) else None) for k, v in value.to_dict().items() if k != "confidence"}

        return {
            "rank": self.rank.rank,
            "rank_low": self.rank.low,
            "rank_high": self.rank.high,
            "unstable": self.rank.unstable,
            "tied": self.tied,
            "composite": interval(self.composite),
            "strength": self.strength if math.isfinite(self.strength) else None,
            "scores": {k: interval(v) for k, v in self.scores.items()},
            "n_cells": self.n_cells,
            "n_images": self.n_images,
        }


# ------------------------------------------------------------------------------ per-image values


def _mean(x: np.ndarray) -> np.ndarray:
    """Row means of the finite values of ``(B, n)`` (NaN for a row without any)."""
    finite = np.isfinite(x)
    count = finite.sum(axis=1)
    total = np.where(finite, x, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _spearman(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Row-wise Spearman correlation of ``(B, n)`` arrays over the pairs finite in both (NaN if undefined)."""
    keep = np.isfinite(y) & np.isfinite(s)
    out = np.full(y.shape[0], np.nan)
    if not keep.any():
        return out
    if keep.all():
        ry, rs = rankdata(y, axis=1), rankdata(s, axis=1)
        ry = ry - ry.mean(axis=1, keepdims=True)
        rs = rs - rs.mean(axis=1, keepdims=True)
        denominator = np.sqrt((ry**2).sum(axis=1) * (rs**2).sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(denominator > 0, (ry * rs).sum(axis=1) / np.where(denominator > 0, denominator, 1.0), np.nan)
        return out
    for b in range(y.shape[0]):  # missing values: row by row
        out[b] = scoring.spearman(y[b][keep[b]], s[b][keep[b]])
    return out


def _average_ranks(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Average ranks ``(B, n)`` of each item in the resamples that hold it ``counts[b, i]`` times.

    Equal to ranking every expanded resample (ties averaged) without sorting it again: the items
    are sorted once and the ranks follow from cumulative counts. NaN items must have count 0.
    """
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # tie groups (NaN never equal)
    sizes = np.diff(np.r_[starts, len(values)])
    group = np.add.reduceat(counts[:, order], starts, axis=1)  # (B, groups)
    below = np.cumsum(group, axis=1) - group
    rank_of_group = below + (group + 1.0) / 2.0
    ranks = np.empty_like(counts, dtype=float)
    ranks[:, order] = np.repeat(rank_of_group, sizes, axis=1)
    return ranks


def _weighted_spearman(y: np.ndarray, s: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Spearman correlation of every resample given by ``counts`` (B, n) of the pairs ``(y, s)``."""
    keep = np.isfinite(y) & np.isfinite(s)
    w = np.where(keep[None, :], counts, 0).astype(float)
    y0, s0 = np.where(keep, y, 0.0), np.where(keep, s, 0.0)
    ry, rs = _average_ranks(np.where(keep, y0, np.nan), w), _average_ranks(np.where(keep, s0, np.nan), w)
    total = w.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        my = (w * ry).sum(axis=1, keepdims=True) / total
        ms = (w * rs).sum(axis=1, keepdims=True) / total
        dy, ds = ry - my, rs - ms
        cov = (w * dy * ds).sum(axis=1)
        denominator = np.sqrt((w * dy**2).sum(axis=1) * (w * ds**2).sum(axis=1))
        out = np.where(
            (denominator > 0) & (total[:, 0] >= 2), cov / np.where(denominator > 0, denominator, 1.0), np.nan
        )
    return out


ScoreFn = Callable[[Mapping[str, np.ndarray], MethodCell], np.ndarray]
"""``(resampled fields, cell) -> (B,)``: a score from ``(B, n)`` resampled per-image fields."""


def _d(v: Mapping[str, np.ndarray], c: MethodCell) -> np.ndarray:
    return 100.0 * _mean(np.abs(v["purified_attacked"] - v["clean"])) / c.diam


def _d_defended(v: Mapping[str, np.ndarray], c: MethodCell) -> np.ndarray:
    return 100.0 * _mean(np.abs(v["purified_attacked"] - v["purified_clean"])) / c.diam


def _r_terms(c: MethodCell, reference: str) -> np.ndarray:
    """Per-image R terms (eq. 5) with the experiment's ``(b1, b2)`` from all its clean scores."""
    ref, pa = c.values[reference], c.values["purified_attacked"]
    clean = c.values["clean"]
    finite = clean[np.isfinite(clean)]
    b1, b2 = (float(finite.max()), float(finite.min())) if finite.size else (math.nan, math.nan)
    span = b1 - b2
    if not span > 0:
        b1, span = b2 + c.diam, c.diam
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log10(np.maximum(b1 - ref, ref - b2) / (np.abs(ref - pa) + 1e-6 * span))


def _gain(v: Mapping[str, np.ndarray], c: MethodCell) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        gains = np.abs(v["clean"] - v["purified_attacked"]) / np.abs(v["clean"])
    return _mean(np.where(v["clean"] == 0, np.nan, gains))


def _srocc(name: str) -> ScoreFn:
    def score(v: Mapping[str, np.ndarray], c: MethodCell) -> np.ndarray:
        if "__counts__" in v:  # one seed: ranks from the draw counts (no sort per resample)
            full = c.values[name][0]
            return _weighted_spearman(c.values["mos"][0], full if c.higher_is_better else -full, v["__counts__"])
        predicted = v[name] if c.higher_is_better else -v[name]
        return _spearman(v["mos"], predicted)

    return score


def _srocc_drop(v: Mapping[str, np.ndarray], c: MethodCell) -> np.ndarray:
    return _srocc("purified_clean")(v, c) - _srocc("purified_attacked")(v, c)


def _quality(v: Mapping[str, np.ndarray], c: MethodCell) -> np.ndarray:
    return _mean(v["psnr"]) / 100.0 + _mean(v["ssim"]) / 2.0


def _field_mean(name: str) -> ScoreFn:
    return lambda v, c: _mean(v[name])


SCORE_FUNCTIONS: dict[str, ScoreFn] = {
    "d": _d,
    "d_defended": _d_defended,
    "r": lambda v, c: _mean(v["r_terms"]),
    "r_defended": lambda v, c: _mean(v["r_terms_defended"]),
    "gain": _gain,
    "srocc_clean": _srocc("purified_clean"),
    "srocc_adv": _srocc("purified_attacked"),
    "srocc_drop": _srocc_drop,
    "quality": _quality,
    "psnr": _field_mean("psnr"),
    "ssim": _field_mean("ssim"),
    "lpips": _field_mean("lpips"),
}
"""Scores the boards can rank by, recomputed from resampled per-image values (same definitions as
:mod:`iqa_bench.aggregate`; ``srocc_drop = srocc_clean - srocc_adv``)."""

NEEDS: dict[str, tuple[str, ...]] = {
    "d": ("clean", "purified_attacked"),
    "d_defended": ("purified_clean", "purified_attacked"),
    "r": ("r_terms",),
    "r_defended": ("r_terms_defended",),
    "gain": ("clean", "purified_attacked"),
    "srocc_clean": ("mos", "purified_clean"),
    "srocc_adv": ("mos", "purified_attacked"),
    "srocc_drop": ("mos", "purified_clean", "purified_attacked"),
    "quality": ("psnr", "ssim"),
    "psnr": ("psnr",),
    "ssim": ("ssim",),
    "lpips": ("lpips",),
}
"""The per-image fields each score reads (only these are resampled)."""


# ------------------------------------------------------------------------------ collecting rows


@dataclass
class CellTable:
    """Per-image values of every method in every cell of a board, grouped for ranking."""

    datasets: dict[str, list[str]] = field(default_factory=dict)
    """``{dataset: sorted image names}`` (the bootstrap draws indices into these lists)."""
    cells: dict[tuple[str, ...], dict[str, MethodCell]] = field(default_factory=dict)
    """``{cell: {method: values}}``; ``cell[0]`` is the dataset."""


def collect(
    rows: Iterable[Row],
    bounds: Bounds,
    *,
    cell_by: Sequence[str],
    method_by: Sequence[str],
    directions: Mapping[str, bool] | None = None,
    keep: Callable[[Row], bool] | None = None,
) -> CellTable:
    """Fold usable result rows into a :class:`CellTable` (``cell_by`` must start with ``dataset``).

    Rows of clean-only evaluations (attack ``none``), failed rows and rows ``keep`` rejects are left
    out. A row's optional ``seed`` column separates repeated runs of a randomized defence.
    """
    if not cell_by or cell_by[0] != "dataset":
        raise ValueError(
            f"cell_by must start with 'dataset' (the bootstrap resamples images per dataset), got {cell_by}"
        )
    raw: dict[tuple[str, ...], dict[str, dict[tuple[str, str], Any]]] = defaultdict(lambda: defaultdict(dict))
    images: dict[str, set[str]] = defaultdict(set)
    meta: dict[tuple[tuple[str, ...], str], tuple[float, bool]] = {}
    for row in rows:
        if experiment_key(row, ("attack",))[0] == NONE or (keep is not None and not keep(row)):
            continue
        resolved = resolve(row)
        if resolved is None:
            continue
        cell = experiment_key(row, cell_by)
        method = "@".join(experiment_key(row, method_by))
        metric = str(row["metric"])
        seed = "" if row.get("seed") is None else str(row.get("seed"))
        raw[cell][method][(resolved.image, seed)] = resolved
        images[cell[0]].add(resolved.image)
        meta[(cell, method)] = (diameter(bounds, metric), higher_is_better(metric, bounds, directions))
    table = CellTable(datasets={d: sorted(names) for d, names in sorted(images.items())})
    for cell in sorted(raw):
        position = {name: i for i, name in enumerate(table.datasets[cell[0]])}
        methods: dict[str, MethodCell] = {}
        for method, by_image in sorted(raw[cell].items()):
            seeds = sorted({seed for _, seed in by_image})
            seed_at = {s: k for k, s in enumerate(seeds)}
            values = {name: np.full((len(seeds), len(position)), np.nan) for name in FIELDS}
            for (image, seed), resolved in by_image.items():
                for name in FIELDS:
                    values[name][seed_at[seed], position[image]] = getattr(resolved, name)
            diam, higher = meta[(cell, method)]
            method_cell = MethodCell(values, diam, higher)
            values["r_terms"] = _r_terms(method_cell, "clean")
            values["r_terms_defended"] = _r_terms(method_cell, "purified_clean")
            methods[method] = method_cell
        table.cells[cell] = methods
    return table


# ------------------------------------------------------------------------------ bootstrap


def _draws(table: CellTable, n_resamples: int, seed: int) -> dict[str, np.ndarray]:
    """Per dataset: ``(B + 1, n)`` image indices; row 0 is the identity (the point estimate)."""
    rng = np.random.default_rng(seed)
    draws = {}
    for dataset, names in table.datasets.items():
        n = len(names)
        draws[dataset] = np.vstack([np.arange(n)[None, :], rng.integers(0, n, size=(n_resamples, n))])
    return draws


def _resampled(
    cell: MethodCell,
    index: np.ndarray,
    rng: np.random.Generator,
    fields: Sequence[str],
    counts: np.ndarray | None = None,
) -> list[dict[str, np.ndarray]]:
    """Every field at the drawn images ``(B + 1, n)``, one layer per seed.

    With several seeds, layer ``k`` of replicate ``b`` holds, per drawn image, a seed drawn with
    replacement (row 0: layer ``k`` is seed ``k``); scores are computed per layer and averaged, so
    a score is the mean over seeds of the per-seed score.
    """
    n_seeds = next(iter(cell.values.values())).shape[0]
    if n_seeds == 1:
        return [
            {name: cell.values[name][0][index] for name in fields}
            | ({"__counts__": counts} if counts is not None else {})
        ]
    picks = rng.integers(0, n_seeds, size=(n_seeds, *index.shape))
    picks[:, 0, :] = np.arange(n_seeds)[:, None]
    return [{name: cell.values[name][picks[k], index] for name in fields} for k in range(n_seeds)]


def _counts(index: np.ndarray) -> np.ndarray:
    """How often each item appears in each resample: ``(B, n)`` from indices ``(B, n)``."""
    b, n = index.shape
    flat = (index + n * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n)


def cell_scores(
    table: CellTable, criteria: Sequence[str], *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> dict[tuple[str, ...], dict[str, dict[str, np.ndarray]]]:
    """``{cell: {method: {criterion: (B + 1,) values}}}``; index 0 holds the full-data value."""
    unknown = [c for c in criteria if c not in SCORE_FUNCTIONS]
    if unknown:
        raise KeyError(f"unknown criteria {unknown}; choose from {sorted(SCORE_FUNCTIONS)}")
    draws = _draws(table, n_resamples, seed)
    rng = np.random.default_rng([seed, 1])
    fields = sorted({name for criterion in criteria for name in NEEDS[criterion]})
    counts = {dataset: _counts(index) for dataset, index in draws.items()}
    out: dict[tuple[str, ...], dict[str, dict[str, np.ndarray]]] = {}
    for cell, methods in table.cells.items():
        out[cell] = {}
        for method, values in methods.items():
            layers = _resampled(values, draws[cell[0]], rng, fields, counts[cell[0]])
            out[cell][method] = {
                name: nanmean_rows([SCORE_FUNCTIONS[name](layer, values) for layer in layers]) for name in criteria
            }
    return out


def nanmean_rows(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Element-wise mean of equal-length arrays over their finite values (NaN where none is finite)."""
    stacked = np.vstack(arrays)
    finite = np.isfinite(stacked)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(finite.any(axis=0), np.where(finite, stacked, 0.0).sum(axis=0) / finite.sum(axis=0), np.nan)


def _percentile(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return math.nan, math.nan
    alpha = (1.0 - confidence) / 2.0
    return float(np.quantile(finite, alpha)), float(np.quantile(finite, 1.0 - alpha))


def composite_ranks(values: np.ndarray, directions: Sequence[bool]) -> np.ndarray:
    """Mean per-criterion competition rank of ``m`` methods, row by row: ``values`` is ``(B, m, k)``.

    A method without a value on a criterion ranks last on it; lower composite is better.
    """
    b, m, k = values.shape
    ranks = np.empty((b, m, k))
    for j, higher in enumerate(directions):
        column = values[:, :, j]
        key = np.where(np.isfinite(column), -column if higher else column, np.inf)
        ranks[:, :, j] = 1 + (key[:, None, :] < key[:, :, None]).sum(axis=2)
    return ranks.mean(axis=2)


def rank_group(
    group: str,
    per_cell: Mapping[tuple[str, ...], Mapping[str, Mapping[str, np.ndarray]]],
    criteria: Sequence[Criterion],
    *,
    methods: Sequence[str] | None = None,
    strengths: Mapping[str, float] | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    n_images: Mapping[str, int] | None = None,
) -> list[RankedMethod]:
    """Rank the methods of one group from their per-cell replicate scores (see the module docstring).

    Returned best first (ties by name); methods without any cell are left out.
    """
    names = sorted(methods if methods is not None else {m for cell in per_cell.values() for m in cell})
    names = [m for m in names if any(m in cell for cell in per_cell.values())]
    if not names:
        return []
    means: dict[str, dict[str, np.ndarray]] = {}
    for method in names:
        cells = [cell[method] for cell in per_cell.values() if method in cell]
        means[method] = {c.key: nanmean_rows([cell[c.key] for cell in cells]) for c in criteria}
    ranked = [c for c in criteria if c.composite]
    values = np.transpose(np.array([[means[m][c.key] for c in ranked] for m in names], dtype=float), (2, 0, 1))
    composite = composite_ranks(values, [c.higher_is_better for c in ranked])  # (B + 1, m)
    intervals = rank_intervals(composite[0], composite[1:], higher_is_better=False, confidence=confidence)
    out = []
    for i, method in enumerate(names):
        scores = {}
        for c in criteria:
            low, high = _percentile(means[method][c.key][1:], confidence)
            scores[c.key] = Interval(float(means[method][c.key][0]), low, high, confidence)
        low, high = _percentile(composite[1:, i], confidence)
        out.append(
            RankedMethod(
                group=group,
                method=method,
                scores=scores,
                composite=Interval(float(composite[0, i]), low, high, confidence),
                rank=intervals[i],
                strength=float((strengths or {}).get(method, math.nan)),
                tied=sum(r.rank == intervals[i].rank for r in intervals) > 1,
                n_cells=sum(method in cell for cell in per_cell.values()),
                n_images=int((n_images or {}).get(method, 0)),
            )
        )
    out.sort(key=lambda r: (r.rank.rank, r.method))
    return out


def bt_strengths(
    tests: Iterable[WilcoxonTest], *, rename: Callable[[str], str] | None = None, reverse: bool = False
) -> dict[str, float]:
    """Bradley-Terry log-strengths of the methods of Wilcoxon tests (see the module docstring).

    ``reverse`` swaps winner and loser (e.g. for attacks, where a larger D is a stronger attack).
    """
    outcome: dict[tuple[tuple[str, ...], str, str], bool] = {}
    for t in tests:
        a, b = (rename(t.better), rename(t.worse)) if rename else (t.better, t.worse)
        if reverse:
            a, b = b, a
        outcome[(t.cell, a, b)] = t.significant
    names = sorted({a for _, a, _ in outcome} | {b for _, _, b in outcome})
    if not names:
        return {}
    at = {n: i for i, n in enumerate(names)}
    wins = np.zeros((len(names), len(names)))
    done: set[tuple[tuple[str, ...], str, str]] = set()
    for (cell, a, b), significant in outcome.items():
        if (cell, b, a) in done or (cell, a, b) in done:
            continue
        done.add((cell, a, b))
        a_wins, b_wins = significant, outcome.get((cell, b, a), False)
        if a_wins and not b_wins:
            wins[at[a], at[b]] += 1
        elif b_wins and not a_wins:
            wins[at[b], at[a]] += 1
        else:
            wins[at[a], at[b]] += 0.5
            wins[at[b], at[a]] += 0.5
    strength = bradley_terry(wins)
    return {n: float(strength[at[n]]) for n in names}


def group_cells(
    per_cell: Mapping[tuple[str, ...], Mapping[str, Mapping[str, np.ndarray]]],
    group_of: Callable[[tuple[str, ...]], Iterable[str]],
) -> dict[str, dict[tuple[str, ...], Mapping[str, Mapping[str, np.ndarray]]]]:
    """Split cells into groups (a cell may belong to several, e.g. "all" and its attack family)."""
    groups: dict[str, dict[tuple[str, ...], Mapping[str, Mapping[str, np.ndarray]]]] = defaultdict(dict)
    for cell, methods in per_cell.items():
        for group in group_of(cell):
            groups[group][cell] = methods
    return dict(groups)


def image_counts(table: CellTable, cells: Iterable[tuple[str, ...]]) -> dict[str, int]:
    """Usable (image, seed) values per method over ``cells``."""
    counts: dict[str, int] = defaultdict(int)
    for cell in cells:
        for method, values in table.cells[cell].items():
            counts[method] += int(np.isfinite(values.values["purified_attacked"]).sum())
    return dict(counts)
