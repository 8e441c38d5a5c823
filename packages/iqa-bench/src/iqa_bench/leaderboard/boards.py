"""The three ranked leaderboards of one result store: defences, metrics, attacks.

* **defences** (per mode): defences compared on the same ``(dataset, metric, attack, attack
  preset)`` cells with their selected presets; composite of SROCC adv, SROCC clear, D^(D), R and
  Quality; Bradley-Terry from the report's Wilcoxon tests on per-image D^(D).
* **metrics** (which NR metric is most robust, as the MSU metrics-robustness benchmark ranks
  them): the undefended metrics (``defence = none``) on the same ``(dataset, attack, attack
  preset)`` cells; composite of R, D and the SROCC drop (clear minus adversarial), for all attacks
  and per attack family (white-box / black-box); Bradley-Terry from Wilcoxon tests on per-image D
  (normalised by each metric's range, so metrics compare).
* **attacks** (strength at matched perceptual budgets): every attack configuration (attack @
  preset) against the undefended metrics on the same ``(dataset, metric)`` cells, compared only
  with configurations of a similar budget: bins of the mean PSNR (and, separately, SSIM) of x'
  against x at the catalogue's target budgets (PSNR 35 / 30 / 25 dB, SSIM 0.9 / 0.8 / 0.75), and
  of the mean LPIPS when the run measured it (config ``measures: [lpips]``; LPIPS 0.05 / 0.1 /
  0.2); composite of Gain, D and the SROCC drop, each *higher* = stronger attack; Bradley-Terry
  from Wilcoxon tests on per-image D (the larger D wins). Black-box attacks show their mean
  queries per image.

Ranks, intervals and strengths: :mod:`.ranking`. Only the undefended rows of the first mode
present (non-adaptive, else adaptive) feed the metrics and attacks boards: without a defence both
modes attack the same metric.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..aggregate import Bounds, Row, attack_type, experiment_key
from ..schema import MODES, NONE
from ..stats import WilcoxonTest, wilcoxon_tests
from .board import ExtraColumn
from .entries import SCHEMA_VERSION, plain, validate_entry
from .html import Column, Table
from .ranking import (
    DEFAULT_RESAMPLES,
    Criterion,
    RankedMethod,
    bt_strengths,
    cell_scores,
    collect,
    group_cells,
    image_counts,
    nanmean_rows,
    rank_group,
)

BOARDS: tuple[str, ...] = ("defences", "metrics", "attacks")

DEFENCE_CRITERIA: tuple[Criterion, ...] = (
    Criterion("srocc_adv", "SROCC adv", True, "SROCC(MOS, f(P(x'))): accuracy under attack"),
    Criterion("srocc_clean", "SROCC clear", True, "SROCC(MOS, f(P(x))): accuracy on clean images"),
    Criterion("d_defended", "D^(D)", False, "100/n sum |f(P(x')) - f(P(x))| / diam: score shift left by the attack"),
    Criterion("r", "R", True, "robustness score (eq. 5) of f(P(x')) against f(x)"),
    Criterion("quality", "Quality", True, "PSNR/100 + SSIM/2 of P(x') against x"),
)
METRIC_CRITERIA: tuple[Criterion, ...] = (
    Criterion("r", "R", True, "robustness score (eq. 5): log10 of the score's margin over its change"),
    Criterion("d", "D", False, "100/n sum |f(x') - f(x)| / diam: the attack's shift of the score"),
    Criterion("srocc_drop", "SROCC drop", False, "SROCC clear - SROCC adv: correlation with MOS lost to the attack"),
    Criterion("srocc_clean", "SROCC clear", True, "SROCC(MOS, f(x)) (shown, not in the composite)", composite=False),
    Criterion("srocc_adv", "SROCC adv", True, "SROCC(MOS, f(x')) (shown, not in the composite)", composite=False),
)
ATTACK_CRITERIA: tuple[Criterion, ...] = (
    Criterion("gain", "Gain", True, "mean |f(x) - f(x')| / |f(x)|: relative score change (higher = stronger)"),
    Criterion("d", "D", True, "100/n sum |f(x') - f(x)| / diam (higher = stronger)"),
    Criterion("srocc_drop", "SROCC drop", True, "SROCC clear - SROCC adv (higher = stronger)"),
    Criterion("psnr", "PSNR", True, "PSNR of x' against x (dB; the budget, not in the composite)", composite=False),
    Criterion("ssim", "SSIM", True, "SSIM of x' against x (the budget, not in the composite)", composite=False),
)
LPIPS_CRITERION = Criterion(
    "lpips",
    "LPIPS",
    False,
    "LPIPS of x' against x (the budget, not in the composite; measured with `measures: [lpips]`)",
    composite=False,
)
"""Shown on the attacks board only when the rows carry LPIPS."""

CRITERIA: dict[str, tuple[Criterion, ...]] = {
    "defences": DEFENCE_CRITERIA,
    "metrics": METRIC_CRITERIA,
    "attacks": ATTACK_CRITERIA,
}

PSNR_BINS: tuple[tuple[float, str], ...] = ((35.0, "PSNR ≥ 35 dB"), (30.0, "PSNR 30–35 dB"), (25.0, "PSNR 25–30 dB"))
SSIM_BINS: tuple[tuple[float, str], ...] = ((0.9, "SSIM ≥ 0.9"), (0.8, "SSIM 0.8–0.9"), (0.75, "SSIM 0.75–0.8"))
"""Budget bins (lower edge, label) at the catalogue's weak / medium / strong targets; below the last
edge: ``PSNR < 25 dB`` / ``SSIM < 0.75``."""
LPIPS_BINS: tuple[tuple[float, str], ...] = (
    (0.05, "LPIPS ≤ 0.05"),
    (0.1, "LPIPS 0.05–0.1"),
    (0.2, "LPIPS 0.1–0.2"),
)
"""LPIPS budget bins (upper edge, label); above the last edge: ``LPIPS > 0.2``. The catalogue sets
no LPIPS budget and none of the benchmark's papers states one: these edges are the project's
choice (0.05, doubled twice), not a calibrated perceptual threshold, and the page says so."""


@dataclass
class RankedBoard:
    """One ranked leaderboard: its methods ranked within each group (mode, attack family or budget bin)."""

    name: str
    title: str
    method_label: str
    group_label: str
    criteria: tuple[Criterion, ...]
    groups: dict[str, list[RankedMethod]] = field(default_factory=dict)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)
    """``{method: {column: value}}`` shown beside the method (type, direction, attack, preset)."""
    datasets: dict[str, list[str]] = field(default_factory=dict)
    """``{method: datasets}`` its cells came from."""
    note: str = ""
    n_resamples: int = DEFAULT_RESAMPLES
    extras: list[ExtraColumn] = field(default_factory=list)
    replicates: dict[tuple[str, ...], dict[str, dict[str, np.ndarray]]] = field(default_factory=dict, repr=False)
    """``{cell: {method: {score: (B + 1,) values}}}`` behind the ranks (index 0: the full data)."""

    def rows(self) -> list[dict[str, Any]]:
        """Flat rows (CSV, page): group, method, info, rank (interval), composite, strength, scores."""
        out = []
        for group, ranked in self.groups.items():
            for r in ranked:
                row: dict[str, Any] = {
                    self.group_label: group,
                    self.method_label: r.method,
                    **self.info.get(r.method, {}),
                }
                row.update(
                    rank=r.rank.rank,
                    rank_low=r.rank.low,
                    rank_high=r.rank.high,
                    unstable=r.rank.unstable,
                    tied=r.tied,
                    composite=r.composite.estimate,
                    composite_low=r.composite.low,
                    composite_high=r.composite.high,
                    bt_strength=r.strength,
                )
                for c in self.criteria:
                    value = r.scores[c.key]
                    row.update({c.key: value.estimate, f"{c.key}_low": value.low, f"{c.key}_high": value.high})
                for extra in self.extras:
                    estimate, low, high = extra.interval(r.method)
                    row.update({extra.key: estimate, f"{extra.key}_low": low, f"{extra.key}_high": high})
                row.update(n_cells=r.n_cells, n_images=r.n_images)
                out.append(row)
        return out

    def rankings(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``{method: {group: ranking}}`` (the entries' ``ranking`` objects)."""
        by_method: dict[str, dict[str, Any]] = {}
        for group, ranked in self.groups.items():
            for r in ranked:
                by_method.setdefault(r.method, {})[group] = plain(r.to_dict())
        return by_method

    def entries(self) -> list[dict[str, Any]]:
        """One validated entry per method (schema version 2, ``board`` = this board's name)."""
        by_method = self.rankings()
        entries = []
        for method in sorted(by_method):
            entry: dict[str, Any] = {
                "schema_version": SCHEMA_VERSION,
                "board": self.name,
                "method": method,
                **{k: v for k, v in self.info.get(method, {}).items() if k in ENTRY_INFO},
                "datasets": self.datasets.get(method, []),
                "ranking": by_method[method],
            }
            entry = plain(entry)
            validate_entry(entry)
            entries.append(entry)
        return entries

    def table(self, table_id: str, title: str, links: Mapping[str, str] | None = None) -> Table:
        """The page's sortable table of this board (rank ± interval, scores with intervals); ``links``
        (``{method: relative href}``) add a column linking each row to its raw JSON entry."""
        columns = [
            Column("rank", "#", kind="rank", description=RANK_HELP),
            Column(self.group_label, self.group_label, numeric=False),
            Column(self.method_label, self.method_label, numeric=False),
            *(
                Column(k, k.replace("_", " "), numeric=k in NUMERIC_INFO, description=INFO_HELP.get(k, ""))
                for k in INFO_COLUMNS[self.name]
            ),
            Column("composite", "composite", kind="interval", higher_is_better=False, digits=2, description=COMPOSITE),
            Column("bt_strength", "BT strength", higher_is_better=True, digits=2, description=BT_HELP),
            *(
                Column(c.key, c.label, kind="interval", higher_is_better=c.higher_is_better, description=c.description)
                for c in self.criteria
            ),
            *(
                Column(e.key, e.label, kind="interval", higher_is_better=e.higher_is_better, digits=e.digits)
                for e in self.extras
            ),
            Column("n_cells", "n cells", digits=0, description="cells (experiments) averaged"),
        ]
        rows = self.rows()
        if links:
            columns.append(Column("entry", "entry", numeric=False, kind="link", description="the raw JSON entry"))
            rows = [{**row, "entry": links.get(str(row[self.method_label]), "")} for row in rows]
        return Table(table_id, title, columns, rows, note=self.note)


ENTRY_INFO = ("attack", "attack_preset", "attack_type", "higher_is_better", "defence_type", "queries")
INFO_COLUMNS: dict[str, tuple[str, ...]] = {
    "defences": ("defence_type",),
    "metrics": ("direction",),
    "attacks": ("attack_type", "queries"),
    "attacks_matched": ("attack_type",),
}
NUMERIC_INFO = frozenset({"queries"})
INFO_HELP = {"queries": "mean metric queries per image (black-box attacks; their cost, not in the composite)"}
RANK_HELP = (
    "rank of the composite (ties share a rank, marked =) with its 95% bootstrap interval; "
    "↕ marks a rank that resampling the images can flip"
)
COMPOSITE = "mean of the per-score competition ranks within the group (lower is better), with its 95% interval"
BT_HELP = "Bradley-Terry log-strength from pairwise Wilcoxon wins (ties count half a win each way)"


def _group_tests(tests: Iterable[WilcoxonTest], cells: Iterable[tuple[str, ...]], project: Any) -> list[WilcoxonTest]:
    wanted = set(cells)
    return [t for t in tests if project(t.cell) in wanted]


def first_mode(rows: Sequence[Row]) -> str | None:
    """The mode the undefended boards read (non-adaptive when present)."""
    present = {experiment_key(r, ("mode",))[0] for r in rows if experiment_key(r, ("defence",))[0] == NONE}
    for mode in MODES:
        if mode in present:
            return mode
    return min(present) if present else None


def defence_board(
    rows: Sequence[Row],
    bounds: Bounds,
    *,
    directions: Mapping[str, bool] | None = None,
    defence_types: Mapping[str, str] | None = None,
    tests: Sequence[WilcoxonTest] = (),
    extra_columns: Sequence[ExtraColumn] = (),
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> RankedBoard:
    """Rank the defences per mode (``rows``: one preset per defence and mode, e.g. the report's selection).

    ``tests``: Wilcoxon tests between defences (the report's, on per-image D^(D)) for Bradley-Terry.
    """
    cell_by = ("dataset", "metric", "attack", "attack_preset", "mode")
    table = collect(
        rows,
        bounds,
        cell_by=cell_by,
        method_by=("defence",),
        directions=directions,
        keep=lambda r: experiment_key(r, ("defence",))[0] != NONE,
    )
    per_cell = cell_scores(table, [c.key for c in DEFENCE_CRITERIA], n_resamples=n_resamples, seed=seed)
    board = RankedBoard(
        "defences",
        "Defences: composite rank with 95% intervals",
        "defence",
        "mode",
        DEFENCE_CRITERIA,
        n_resamples=n_resamples,
        extras=list(extra_columns),
        note=(
            f"Per mode, the defences (selected presets; the undefended 'none' is the baseline, not ranked) ranked by "
            f"the "
            f"mean of their ranks on {', '.join(c.label for c in DEFENCE_CRITERIA)}. Intervals: 95% paired bootstrap "
            f"over images ({n_resamples} resamples; over seeds too where rows have several). "
            "BT: Bradley-Terry strength from the Wilcoxon tests on per-image D^(D)."
        ),
    )
    types = defence_types or {}
    for mode in [m for m in MODES if any(cell[-1] == m for cell in per_cell)]:
        cells = {cell: v for cell, v in per_cell.items() if cell[-1] == mode}
        mode_tests = [t for t in tests if t.cell[-1] == mode and NONE not in (t.better, t.worse)]
        board.groups[mode] = rank_group(
            mode, cells, DEFENCE_CRITERIA, strengths=bt_strengths(mode_tests), n_images=image_counts(table, cells)
        )
    for cell, methods in table.cells.items():
        for method in methods:
            board.datasets.setdefault(method, [])
            if cell[0] not in board.datasets[method]:
                board.datasets[method].append(cell[0])
            board.info[method] = {"defence_type": types.get(method, "other")}
    return board


def _undefended(rows: Sequence[Row]) -> tuple[list[Row], str | None]:
    mode = first_mode(rows)
    kept = [r for r in rows if experiment_key(r, ("defence",))[0] == NONE and experiment_key(r, ("mode",))[0] == mode]
    return kept, mode


def metric_board(
    rows: Sequence[Row],
    bounds: Bounds,
    *,
    directions: Mapping[str, bool] | None = None,
    attack_types: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> RankedBoard:
    """Rank the undefended metrics, over all attacks and per attack family."""
    kept, mode = _undefended(rows)
    cell_by = ("dataset", "attack", "attack_preset")
    table = collect(kept, bounds, cell_by=cell_by, method_by=("metric",), directions=directions)
    per_cell = cell_scores(table, [c.key for c in METRIC_CRITERIA], n_resamples=n_resamples, seed=seed)
    tests = wilcoxon_tests(kept, bounds, "d", alpha=alpha, cell_by=(*cell_by, "mode"), method_by=("metric",))
    board = RankedBoard(
        "metrics",
        "Metrics: which NR metric is most robust",
        "metric",
        "attacks",
        METRIC_CRITERIA,
        n_resamples=n_resamples,
        note=(
            f"The undefended metrics ({mode or 'no'} mode rows, defence = none) ranked by the mean of their "
            "ranks on R, "
            "D and the SROCC drop, over all attacks and per attack family. Intervals: 95% paired bootstrap over images "
            f"({n_resamples} resamples). BT: Bradley-Terry strength from Wilcoxon tests on per-image D (normalised by "
            "each metric's range)."
        ),
    )
    groups = group_cells(per_cell, lambda cell: ("all", attack_type(cell[1], attack_types)))
    order = ["all", *sorted(g for g in groups if g != "all")]
    for group in [g for g in order if g in groups]:
        cells = groups[group]
        chosen = _group_tests(tests, cells, lambda c: c[:3])
        board.groups[group] = rank_group(
            group, cells, METRIC_CRITERIA, strengths=bt_strengths(chosen), n_images=image_counts(table, cells)
        )
    metrics = {m for methods in table.cells.values() for m in methods}
    for metric in metrics:
        higher = next(v.higher_is_better for m in table.cells.values() for k, v in m.items() if k == metric)
        board.info[metric] = {"direction": "↑" if higher else "↓", "higher_is_better": higher}
        board.datasets[metric] = sorted({cell[0] for cell, m in table.cells.items() if metric in m})
    return board


def _bin(value: float, bins: Sequence[tuple[float, str]], below: str, *, lower_edges: bool = True) -> str:
    """The label of the bin holding ``value``: the first edge it reaches (``lower_edges``: ``value >=
    edge``, for PSNR and SSIM; otherwise ``value <= edge``, for LPIPS), else ``below``."""
    if not math.isfinite(value):
        return below.split(" ")[0] + " unknown"
    for edge, label in bins:
        if (value >= edge) if lower_edges else (value <= edge):
            return label
    return below


def _mean_queries(rows: Sequence[Row]) -> dict[tuple[str, str], float]:
    """Mean metric queries per attacked image of each black-box attack configuration."""
    totals: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        value = row.get("queries")
        if value is not None and row.get("status") == "done" and np.isfinite(float(value)):
            totals.setdefault((row["attack"], row["attack_preset"]), []).append(float(value))
    return {key: float(np.mean(values)) for key, values in totals.items()}


def attack_board(
    rows: Sequence[Row],
    bounds: Bounds,
    *,
    directions: Mapping[str, bool] | None = None,
    attack_types: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> RankedBoard:
    """Rank attack configurations against the undefended metrics within budget bins (PSNR, SSIM and,
    when the rows carry it, LPIPS)."""
    kept, mode = _undefended(rows)
    with_lpips = any(_finite(row.get("lpips")) for row in kept)
    criteria = (*ATTACK_CRITERIA, LPIPS_CRITERION) if with_lpips else ATTACK_CRITERIA
    cell_by = ("dataset", "metric")
    method_by = ("attack", "attack_preset")
    table = collect(kept, bounds, cell_by=cell_by, method_by=method_by, directions=directions)
    per_cell = cell_scores(table, [c.key for c in criteria], n_resamples=n_resamples, seed=seed)
    tests = wilcoxon_tests(kept, bounds, "d", alpha=alpha, cell_by=(*cell_by, "mode"), method_by=method_by)
    board = RankedBoard(
        "attacks",
        "Attacks: strength at matched perceptual budgets",
        "attack_config",
        "budget",
        criteria,
        n_resamples=n_resamples,
        note=(
            f"Attack configurations (attack@preset) against the undefended metrics ({mode or 'no'} mode rows), "
            "compared "
            "only within a budget bin of the mean PSNR (and, separately, SSIM"
            + (" and LPIPS" if with_lpips else "")
            + ") of x' against x, at the catalogue's "
            "target budgets"
            + (" (LPIPS: 0.05 / 0.1 / 0.2, the project's choice)" if with_lpips else "")
            + ". Composite: mean rank on Gain, D and SROCC drop, each higher = stronger attack. Intervals: "
            f"95% paired bootstrap over images ({n_resamples} resamples). BT: Bradley-Terry strength from "
            "Wilcoxon tests on per-image D (larger D wins). Queries: mean metric queries per image of a "
            "black-box attack (its cost; white-box attacks: none)."
        ),
    )
    board.replicates = per_cell
    methods = sorted({m for cell in per_cell.values() for m in cell})
    budget: dict[str, tuple[str, ...]] = {}
    for method in methods:
        psnr = _mean_estimate(per_cell, method, "psnr")
        ssim = _mean_estimate(per_cell, method, "ssim")
        budget[method] = (_bin(psnr, PSNR_BINS, "PSNR < 25 dB"), _bin(ssim, SSIM_BINS, "SSIM < 0.75"))
        if with_lpips:
            lpips = _mean_estimate(per_cell, method, "lpips")
            budget[method] += (_bin(lpips, LPIPS_BINS, "LPIPS > 0.2", lower_edges=False),)
    labels = [label for _, label in PSNR_BINS] + ["PSNR < 25 dB", "PSNR unknown"]
    labels += [label for _, label in SSIM_BINS] + ["SSIM < 0.75", "SSIM unknown"]
    labels += [label for _, label in LPIPS_BINS] + ["LPIPS > 0.2", "LPIPS unknown"]
    for group in labels:
        members = [m for m in methods if group in budget[m]]
        if not members:
            continue
        chosen = [t for t in tests if t.better in members and t.worse in members]
        board.groups[group] = rank_group(
            group,
            per_cell,
            criteria,
            methods=members,
            strengths=bt_strengths(chosen, reverse=True),
            n_images=image_counts(table, per_cell),
        )
    spent = _mean_queries(kept)
    for method in methods:
        attack, preset = method.split("@", 1)
        board.info[method] = {
            "attack": attack,
            "attack_preset": preset,
            "attack_type": attack_type(attack, attack_types),
            "queries": spent.get((attack, preset)),
        }
        board.datasets[method] = sorted({cell[0] for cell, m in table.cells.items() if method in m})
    return board


MATCHED_CRITERIA: tuple[Criterion, ...] = (
    Criterion("gain", "Gain at budget", True, "Gain interpolated at the budget level (higher = stronger)"),
    Criterion("d", "D at budget", True, "D interpolated at the budget level (higher = stronger)"),
)
PSNR_LEVELS: tuple[float, ...] = (45.0, 40.0, 35.0, 30.0, 25.0)
SSIM_LEVELS: tuple[float, ...] = (0.99, 0.95, 0.9, 0.8, 0.75)
LPIPS_LEVELS: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.2)
"""Budget levels of the interpolated comparison (the catalogue's 35 / 30 / 25 dB and 0.9 / 0.8 / 0.75,
plus lighter levels the weak presets of short attacks reach; LPIPS at the bins' edges and two
lighter levels, when the run measured it)."""


def _interpolate(x: np.ndarray, y: np.ndarray, level: float) -> np.ndarray:
    """Per replicate (rows of ``(P, B + 1)`` preset curves): y at ``x = level`` by linear interpolation
    between the presets; NaN where the presets do not bracket the level (no extrapolation)."""
    out = np.full(x.shape[1], np.nan)
    for b in range(x.shape[1]):
        keep = np.isfinite(x[:, b]) & np.isfinite(y[:, b])
        if keep.sum() < 2:
            continue
        xs, ys = x[keep, b], y[keep, b]
        if xs.min() <= level <= xs.max():
            order = np.argsort(xs)
            out[b] = float(np.interp(level, xs[order], ys[order]))
    return out


def matched_attack_board(
    attacks: RankedBoard,
    per_cell: Mapping[tuple[str, ...], Mapping[str, Mapping[str, np.ndarray]]],
) -> RankedBoard:
    """Attacks compared at equal budgets: each attack's Gain and D interpolated across its presets at
    fixed PSNR and SSIM levels of x' against x, per bootstrap replicate (the same paired draws)."""
    board = RankedBoard(
        "attacks_matched",
        "Attacks at equal budgets (interpolated)",
        "attack",
        "budget",
        MATCHED_CRITERIA,
        n_resamples=attacks.n_resamples,
        note=(
            "Each attack's mean Gain and D (over its cells) interpolated linearly across its presets at fixed PSNR and "
            "SSIM (and, when measured, LPIPS) levels of x' against x, in every bootstrap replicate; an attack "
            "appears at a level its presets bracket (no extrapolation; one preset: never). Composite: mean rank "
            "on Gain and D at the level."
        ),
    )
    budgets: list[tuple[str, tuple[float, ...], str]] = [("psnr", PSNR_LEVELS, " dB"), ("ssim", SSIM_LEVELS, "")]
    if any("lpips" in m for cell in per_cell.values() for m in cell.values()):
        budgets.append(("lpips", LPIPS_LEVELS, ""))
    means: dict[str, dict[str, np.ndarray]] = {}
    for method in sorted({m for cell in per_cell.values() for m in cell}):
        cells = [cell[method] for cell in per_cell.values() if method in cell]
        means[method] = {k: nanmean_rows([c[k] for c in cells]) for k in ("gain", "d", *(b[0] for b in budgets))}
    images = {r.method: r.n_images for ranked in attacks.groups.values() for r in ranked}
    by_attack: dict[str, list[str]] = {}
    for method in means:
        by_attack.setdefault(method.split("@", 1)[0], []).append(method)
    for kind, levels, unit in budgets:
        for level in levels:
            group = f"{kind.upper()} = {level:g}{unit}"
            values: dict[str, dict[str, np.ndarray]] = {}
            for attack, configs in sorted(by_attack.items()):
                x = np.vstack([means[c][kind] for c in configs])
                at = {k: _interpolate(x, np.vstack([means[c][k] for c in configs]), level) for k in ("gain", "d")}
                if math.isfinite(at["gain"][0]):
                    values[attack] = at
            if values:
                ranked = rank_group(group, {("matched",): values}, MATCHED_CRITERIA)
                for r in ranked:  # the attack's real cells and images, over its presets
                    configs = by_attack[r.method]
                    r.n_cells = len({cell for cell, m in per_cell.items() if any(c in m for c in configs)})
                    r.n_images = sum(images.get(c, 0) for c in configs)
                board.groups[group] = ranked
    for method, info in attacks.info.items():
        attack = info["attack"]
        board.info[attack] = {"attack_type": info["attack_type"]}
        board.datasets.setdefault(attack, [])
        board.datasets[attack] = sorted({*board.datasets[attack], *attacks.datasets.get(method, [])})
    return board


def _finite(value: Any) -> bool:
    return value is not None and math.isfinite(float(value))


def _mean_estimate(per_cell: Mapping[tuple[str, ...], Mapping[str, Mapping[str, Any]]], method: str, key: str) -> float:
    values = [float(cell[method][key][0]) for cell in per_cell.values() if method in cell]
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan
