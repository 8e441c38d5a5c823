"""Statistics over result rows and summaries (benchmark 4 and A.4, Tables 5, 10, 15-17, Fig. 3a/10).

* :func:`wilcoxon_tests` / :func:`win_rates`: for every experiment (a ``(dataset, metric, attack,
  attack preset, mode)`` cell) and every ordered pair of defences (A, B) present in it, a
  one-sided Wilcoxon signed-rank test on the per-image paired values of :data:`PAIRED_VALUES`
  (default ``d_defended = 100 |f(P(x')) - f(P(x))| / diam``), alternative "A is better than B"
  (smaller for lower-is-better values, larger for higher-is-better ones); p-values are
  Bonferroni-corrected over the whole family of tests; the win rate of A over B is the percentage
  of the experiments holding both in which A wins significantly.
* :func:`select_presets` / :func:`apply_presets`: the defence preset with the best mean
  ``SROCC_adv`` per defence, kept alone in the non-adaptive tables (section 4). The summaries'
  correlations are oriented by each metric's direction (:mod:`iqa_bench.aggregate`), so "best"
  is the highest for lower-is-better metrics too.
* :func:`pareto_front` / :func:`pareto_points`: Pareto-optimal configurations (Fig. 3a, 10).
* :func:`sampling_validity` / :func:`kruskal_across_samples`: Kruskal-Wallis checks (Table 5).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as scipy_stats

from iqa_core import scoring

from .aggregate import (
    SCORES,
    Bounds,
    ImageScores,
    Row,
    Summary,
    diameter,
    experiment_key,
    resolve,
    rollup,
)
from .schema import NONE


@dataclass(frozen=True)
class PairedValue:
    """A per-image value the Wilcoxon tests compare: how to compute it and its direction."""

    description: str
    higher_is_better: bool
    compute: Callable[[ImageScores, float], float]


PAIRED_VALUES: dict[str, PairedValue] = {
    "d": PairedValue(
        "100 |f(P(x')) - f(x)| / diam (per-image D)", False, lambda i, d: 100 * abs(i.purified_attacked - i.clean) / d
    ),
    "d_defended": PairedValue(
        "100 |f(P(x')) - f(P(x))| / diam (per-image D^(D))",
        False,
        lambda i, d: 100 * abs(i.purified_attacked - i.purified_clean) / d,
    ),
    "gain": PairedValue(
        "|f(x) - f(P(x'))| / |f(x)| (per-image Gain; undefined, so left out, where f(x) = 0)",
        False,
        lambda i, d: float(scoring.relative_gain([i.clean], [i.purified_attacked])[0]),
    ),
    "psnr": PairedValue("PSNR of P(x') against x", True, lambda i, d: i.psnr),
    "ssim": PairedValue("SSIM of P(x') against x", True, lambda i, d: i.ssim),
    "mse": PairedValue("MSE of P(x') against x", False, lambda i, d: i.mse),
    "linf": PairedValue("Linf of P(x') to x", False, lambda i, d: i.linf),
}
"""Per-image values available to the paired tests."""

CELL_KEY: tuple[str, ...] = ("dataset", "metric", "attack", "attack_preset", "mode")
"""Columns of one Wilcoxon experiment (the defences are compared inside it)."""


@dataclass(frozen=True)
class WilcoxonTest:
    """One one-sided test: is ``better`` better than ``worse`` on ``value`` in ``cell``?"""

    cell: tuple[str, ...]
    better: str
    worse: str
    value: str
    n_pairs: int
    statistic: float
    p_value: float
    p_adjusted: float
    significant: bool


@dataclass
class WinRateMatrix:
    """``rates[a][b]``: % of the experiments holding both where ``a`` beats ``b`` significantly."""

    value: str
    alpha: float
    family_size: int
    methods: list[str]
    rates: dict[str, dict[str, float]] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """The matrix as table rows: ``{"defence": a, b1: rate, b2: rate, ...}`` (NaN on the diagonal)."""
        return [{"defence": a, **{b: self.rates[a][b] for b in self.methods}} for a in self.methods]


def method_label(row: Mapping[str, Any], method_by: Sequence[str]) -> str:
    """The name of a row's method: its ``method_by`` values joined with ``@``."""
    return "@".join(experiment_key(row, method_by))


def paired_values(
    rows: Iterable[Row],
    bounds: Bounds,
    value: str = "d_defended",
    *,
    cell_by: Sequence[str] = CELL_KEY,
    method_by: Sequence[str] = ("defence",),
) -> dict[tuple[str, ...], dict[str, dict[str, float]]]:
    """``{cell: {method: {image: value}}}`` over the usable rows (failed rows and NaN values left out).

    Raises ``ValueError`` when a method has two rows for one image of a cell (e.g. several defence
    presets: apply :func:`apply_presets` first or add ``"defence_preset"`` to ``method_by``).
    """
    if value not in PAIRED_VALUES:
        raise ValueError(f"unknown paired value {value!r}; choose one of {sorted(PAIRED_VALUES)}")
    spec = PAIRED_VALUES[value]
    table: dict[tuple[str, ...], dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        if experiment_key(row, ("attack",))[0] == NONE:
            continue
        resolved = resolve(row)
        if resolved is None:
            continue
        number = spec.compute(resolved, diameter(bounds, str(row["metric"])))
        if not math.isfinite(number):
            continue
        cell = experiment_key(row, cell_by)
        method = method_label(row, method_by)
        per_image = table[cell][method]
        if resolved.image in per_image:
            raise ValueError(
                f"method {method!r} has several rows for image {resolved.image!r} in {cell}: select one preset "
                "per defence (stats.apply_presets) or compare with method_by=('defence', 'defence_preset')"
            )
        per_image[resolved.image] = number
    return {cell: dict(methods) for cell, methods in table.items()}


def one_sided_wilcoxon(better: ArrayLike, worse: ArrayLike, *, higher_is_better: bool) -> tuple[float, float]:
    """``(statistic, p)`` of scipy's signed-rank test that ``better`` beats ``worse`` (paired).

    ``alternative="less"`` for lower-is-better values, ``"greater"`` otherwise. All-zero
    differences (or fewer than one non-zero pair) give ``(nan, 1.0)``: no evidence either way.
    """
    a = np.asarray(better, dtype=np.float64)
    b = np.asarray(worse, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired samples must have the same shape, got {a.shape} and {b.shape}")
    if np.count_nonzero(a - b) == 0:
        return math.nan, 1.0
    result = scipy_stats.wilcoxon(a, b, alternative="greater" if higher_is_better else "less")
    return float(result.statistic), float(result.pvalue)


def wilcoxon_tests(
    rows: Iterable[Row],
    bounds: Bounds,
    value: str = "d_defended",
    *,
    alpha: float = 0.05,
    family_size: int | None = None,
    cell_by: Sequence[str] = CELL_KEY,
    method_by: Sequence[str] = ("defence",),
    min_pairs: int = 2,
) -> list[WilcoxonTest]:
    """Every one-sided test between ordered pairs of methods per cell, Bonferroni-corrected.

    ``p_adjusted = min(1, p * m)`` with ``m = family_size`` or, by default, the number of tests
    run; ``significant`` is ``p_adjusted < alpha``. Methods are paired on the images they share
    (cells where two methods share fewer than ``min_pairs`` images are not tested).
    """
    table = paired_values(rows, bounds, value, cell_by=cell_by, method_by=method_by)
    spec = PAIRED_VALUES[value]
    raw: list[tuple[tuple[str, ...], str, str, int, float, float]] = []
    for cell in sorted(table):
        methods = table[cell]
        for a in sorted(methods):
            for b in sorted(methods):
                if a == b:
                    continue
                shared = sorted(set(methods[a]) & set(methods[b]))
                if len(shared) < min_pairs:
                    continue
                x = [methods[a][image] for image in shared]
                y = [methods[b][image] for image in shared]
                statistic, p = one_sided_wilcoxon(x, y, higher_is_better=spec.higher_is_better)
                raw.append((cell, a, b, len(shared), statistic, p))
    m = family_size if family_size is not None else len(raw)
    tests = []
    for cell, a, b, n, statistic, p in raw:
        adjusted = min(1.0, p * m)
        tests.append(WilcoxonTest(cell, a, b, value, n, statistic, p, adjusted, adjusted < alpha))
    return tests


def win_rates(
    tests: Sequence[WilcoxonTest], *, alpha: float = 0.05, methods: Sequence[str] | None = None
) -> WinRateMatrix:
    """The win-rate matrix of a family of tests (Tables 10, 15-17).

    ``rates[a][b] = 100 * #(cells where a beats b significantly) / #(cells where a and b were
    tested)``; NaN when they never met (and on the diagonal). ``methods`` orders the matrix
    (default: sorted, ``none`` last as "W/o defence").
    """
    names = sorted({t.better for t in tests} | {t.worse for t in tests}, key=lambda n: (n == NONE, n))
    order = list(methods) if methods is not None else names
    wins: dict[tuple[str, str], int] = defaultdict(int)
    met: dict[tuple[str, str], int] = defaultdict(int)
    for t in tests:
        met[(t.better, t.worse)] += 1
        wins[(t.better, t.worse)] += int(t.significant)
    matrix = WinRateMatrix(
        value=tests[0].value if tests else "",
        alpha=alpha,
        family_size=len(tests),
        methods=order,
    )
    for a in order:
        matrix.rates[a] = {}
        matrix.counts[a] = {}
        for b in order:
            n = met.get((a, b), 0)
            matrix.counts[a][b] = n
            matrix.rates[a][b] = 100.0 * wins[(a, b)] / n if n and a != b else math.nan
    return matrix


def select_presets(
    summaries: Iterable[Summary], score: str = "srocc_adv", *, mode: str = "non-adaptive"
) -> dict[str, str]:
    """``{defence: preset}``: per defence, the preset with the best mean ``score`` in ``mode``.

    The mean runs over every attacked experiment (datasets, metrics, attacks, attack presets) of
    that defence and preset; "best" follows the score's direction in :data:`SCORES`. Ties go to
    the preset that sorts first; presets whose score is NaN everywhere lose to any finite one.
    """
    higher = SCORES[score].higher_is_better if score in SCORES else True
    selected = [s for s in summaries if s.get("mode") == mode]
    table = rollup(selected, ("defence", "defence_preset"), score_names=(score,))
    best: dict[str, tuple[float, str]] = {}
    for entry in table:
        value = entry[score]
        rank = -math.inf if math.isnan(value) else (value if higher else -value)
        current = best.get(entry["defence"])
        if current is None or rank > current[0]:
            best[entry["defence"]] = (rank, entry["defence_preset"])
    return {defence: preset for defence, (_, preset) in sorted(best.items())}


def apply_presets(
    items: Iterable[Mapping[str, Any]], selection: Mapping[str, str], *, mode: str = "non-adaptive"
) -> list[Mapping[str, Any]]:
    """Keep, in ``mode``, only the selected preset of each defence (rows or summaries).

    Items of other modes, and of defences absent from ``selection``, pass unchanged.
    """
    kept = []
    for item in items:
        if item.get("mode") == mode:
            defence, preset = experiment_key(item, ("defence", "defence_preset"))
            if defence in selection and selection[defence] != preset:
                continue
        kept.append(item)
    return kept


def pareto_front(points: Sequence[tuple[float, float]], *, maximize: tuple[bool, bool] = (True, True)) -> list[int]:
    """Indices of the Pareto-optimal points, sorted by the first coordinate.

    A point is dominated when another is at least as good in both coordinates and strictly
    better in one (directions from ``maximize``). Points with a NaN coordinate are never optimal.
    """
    signs = np.array([1.0 if m else -1.0 for m in maximize])
    array = np.asarray(points, dtype=np.float64).reshape(-1, 2) * signs
    finite = np.all(np.isfinite(array), axis=1)
    front = []
    for i in np.flatnonzero(finite):
        others = array[finite]
        dominated = np.any(np.all(others >= array[i], axis=1) & np.any(others > array[i], axis=1))
        if not dominated:
            front.append(int(i))
    return sorted(front, key=lambda i: (points[i][0], points[i][1]))


def pareto_points(
    summaries: Iterable[Summary],
    x: str = "d_defended",
    y: str = "srocc_adv",
    *,
    by: Sequence[str] = ("defence", "defence_preset"),
    mode: str | None = "non-adaptive",
) -> list[dict[str, Any]]:
    """Fig. 3a / 10: one point per ``by`` group (mean ``x`` and ``y``), flagged ``pareto``.

    Directions follow :data:`SCORES` (e.g. D lower-better, SROCC higher-better). ``mode`` filters
    the summaries (``None`` keeps all). The undefended baseline is a point like the others.
    """
    chosen = [s for s in summaries if mode is None or s.get("mode") == mode]
    table = rollup(chosen, by, score_names=(x, y))
    points = [(float(entry[x]), float(entry[y])) for entry in table]
    maximize = (SCORES[x].higher_is_better, SCORES[y].higher_is_better)
    front = set(pareto_front(points, maximize=maximize))
    return [
        {**{column: entry[column] for column in by}, x: entry[x], y: entry[y], "pareto": i in front}
        for i, entry in enumerate(table)
    ]


def _columns(array: ArrayLike) -> np.ndarray:
    values = np.asarray(array, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise ValueError(f"features must be a 1-D or 2-D array (images x features), got shape {values.shape}")
    return values


def sampling_validity(
    sample: ArrayLike, full: ArrayLike, *, names: Sequence[str] | None = None, alpha: float = 0.05
) -> list[dict[str, Any]]:
    """Kruskal-Wallis test per feature between a sample and the full set (Table 5's check).

    ``sample`` and ``full`` are ``(images, features)`` arrays (or 1-D for one feature), e.g.
    spatial information, colourfulness and MOS. Returns per feature: ``feature``, ``statistic``,
    ``p_value``, ``mean_sample``, ``mean_full`` and ``valid`` (``p_value >= alpha``: no evidence
    that the sample differs).
    """
    s, f = _columns(sample), _columns(full)
    if s.shape[1] != f.shape[1]:
        raise ValueError(f"sample has {s.shape[1]} features but the full set has {f.shape[1]}")
    labels = list(names) if names is not None else [f"feature_{i}" for i in range(s.shape[1])]
    if len(labels) != s.shape[1]:
        raise ValueError(f"{len(labels)} names for {s.shape[1]} features")
    report = []
    for j, label in enumerate(labels):
        result = scipy_stats.kruskal(s[:, j], f[:, j])
        p = float(result.pvalue)
        report.append(
            {
                "feature": label,
                "statistic": float(result.statistic),
                "p_value": p,
                "mean_sample": float(np.mean(s[:, j])),
                "mean_full": float(np.mean(f[:, j])),
                "valid": bool(p >= alpha),
            }
        )
    return report


def kruskal_across_samples(samples: Sequence[ArrayLike], *, alpha: float = 0.05) -> dict[str, Any]:
    """Table 5 as printed: one score over several samples -> mean, variance of the means, p-value."""
    if len(samples) < 2:
        raise ValueError("need at least two samples")
    arrays = [np.asarray(s, dtype=np.float64).reshape(-1) for s in samples]
    means = np.array([a.mean() for a in arrays])
    result = scipy_stats.kruskal(*arrays)
    p = float(result.pvalue)
    return {
        "mean": float(np.mean(np.concatenate(arrays))),
        "variance_of_means": float(np.var(means)),
        "statistic": float(result.statistic),
        "p_value": p,
        "valid": bool(p >= alpha),
    }
