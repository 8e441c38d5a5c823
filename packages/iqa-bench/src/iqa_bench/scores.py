"""The benchmark's scores (Guardians of Image Quality, section 3.5), on plain arrays.

Notation: ``clean = f(x)``, ``purified_clean = f(P(x))``, ``purified_attacked = f(P(x'))``
(with ``P`` the identity when no defence is applied), ``diam`` the metric's bounds width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from iqa_core import scoring

#: ``eps`` of the R score: ``|f(x) - f(P(x'))|`` is increased by ``eps * (b1 - b2)`` (the benchmark's
#: ``robustness_score`` adds ``1e-6`` to the change of min-max scaled scores), so an image whose
#: score did not move contributes ``log10(margin / (1e-6 * (b1 - b2)))`` (about 5.7) instead of
#: infinity.
R_EPS = 1e-6
R_DENOMINATOR_FLOOR = R_EPS
"""Former name of :data:`R_EPS` (kept for callers)."""


def _arrays(*values: ArrayLike) -> list[np.ndarray]:
    arrays = [np.asarray(v, dtype=np.float64).reshape(-1) for v in values]
    n = arrays[0].size
    if any(a.size != n for a in arrays):
        raise ValueError(f"score arrays must have the same length, got {[a.size for a in arrays]}")
    if n == 0:
        raise ValueError("score arrays are empty")
    return arrays


def d_score(clean: ArrayLike, purified_attacked: ArrayLike, diam: float) -> float:
    """``D = 100/n * sum |f(P(x')) - f(x)| / diam`` (eq. 6); lower is a better defence."""
    c, pa = _arrays(clean, purified_attacked)
    return float(100 * np.mean(np.abs(pa - c)) / diam)


def d_score_defended(purified_clean: ArrayLike, purified_attacked: ArrayLike, diam: float) -> float:
    """``D^(D) = 100/n * sum |f(P(x')) - f(P(x))| / diam`` (eq. 7)."""
    return d_score(purified_clean, purified_attacked, diam)


def r_score(reference: ArrayLike, purified_attacked: ArrayLike, *, beta: tuple[float, float], diam: float) -> float:
    """``R = 1/n * sum log10( max(b1 - f(x), f(x) - b2) / (|f(x) - f(P(x'))| + eps (b1 - b2)) )`` (eq. 5).

    ``beta = (b1, b2)``: the maximum and minimum clean score over the evaluated subset (the
    benchmark's reference code, ``robustness_score`` of MSU_Metrics_Robustness_Benchmark, fits its
    min-max scaler on the clean values of the current subset; on scaled values its ``beta1 = 1``,
    ``beta2 = 0`` and ``eps = 1e-6`` are exactly these ``b1``, ``b2`` and ``eps * (b1 - b2)``). For
    ``R^(D)`` pass ``f(P(x))`` as ``reference`` (see :func:`r_score_defended`). When every clean
    score is equal (``b1 = b2``, e.g. one image) the reference's scaler leaves the scores unscaled
    (R then depends on the metric's units); here ``diam`` takes the place of ``b1 - b2``:
    ``R = mean log10(diam / (|change| + eps diam))``. Higher is more robust.
    """
    ref, pa = _arrays(reference, purified_attacked)
    b1, b2 = beta
    span = b1 - b2
    if not span > 0:
        b1, span = b2 + diam, diam
    margin = np.maximum(b1 - ref, ref - b2)
    change = np.abs(ref - pa) + R_EPS * span
    return float(np.mean(np.log10(margin / change)))


def r_score_defended(
    purified_clean: ArrayLike, purified_attacked: ArrayLike, *, beta: tuple[float, float], diam: float
) -> float:
    """``R^(D)``: R with the purification applied to the source images too."""
    return r_score(purified_clean, purified_attacked, beta=beta, diam=diam)


def beta_of(clean: ArrayLike) -> tuple[float, float]:
    """``(b1, b2)`` of the R score: max and min of the clean scores."""
    (c,) = _arrays(clean)
    return float(c.max()), float(c.min())


def _correlation(kind: str, mos: ArrayLike, scores: ArrayLike, higher_is_better: bool) -> float:
    y, s = _arrays(mos, scores)
    s = scoring.oriented(s, higher_is_better)
    if y.size < 2 or np.ptp(s) == 0 or np.ptp(y) == 0:
        return math.nan
    if kind == "srocc":
        return scoring.spearman(y, s)
    if kind == "plcc":
        return scoring.pearson(y, s)
    return float(stats.kendalltau(y, s).statistic)


def srocc(mos: ArrayLike, scores: ArrayLike, *, higher_is_better: bool) -> float:
    """Spearman rank correlation of MOS with the oriented scores (NaN when either side is constant).

    ``higher_is_better`` is the metric's direction: a lower-is-better metric's scores are negated
    first (:func:`iqa_core.scoring.oriented`), so a metric that agrees with MOS gets a positive
    SROCC whatever its direction.
    """
    return _correlation("srocc", mos, scores, higher_is_better)


def plcc(mos: ArrayLike, scores: ArrayLike, *, higher_is_better: bool) -> float:
    """Pearson correlation of MOS with the oriented scores (no logistic fitting)."""
    return _correlation("plcc", mos, scores, higher_is_better)


def krocc(mos: ArrayLike, scores: ArrayLike, *, higher_is_better: bool) -> float:
    """Kendall rank correlation (tau-b) of MOS with the oriented scores."""
    return _correlation("krocc", mos, scores, higher_is_better)


def rmse(a: ArrayLike, b: ArrayLike) -> float:
    x, y = _arrays(a, b)
    return float(np.sqrt(np.mean((x - y) ** 2)))


def gain(clean: ArrayLike, other: ArrayLike) -> float:
    """Mean Gain ``|f(x) - f(y)| / |f(x)|`` (purification paper, eq. 5; absolute, as in its code).

    One definition for every package: :func:`iqa_core.scoring.mean_gain`. Images with ``f(x) = 0``
    have no relative change: they are left out of the mean (NaN when none is left); see
    :func:`gain_details` for how many were left out.
    """
    return gain_details(clean, other).value


def gain_details(clean: ArrayLike, other: ArrayLike) -> scoring.GainResult:
    """:func:`gain` with the number of images used and left out (``f(x) = 0``)."""
    c, o = _arrays(clean, other)
    return scoring.mean_gain(c, o)


def quality_score(psnr: float | Sequence[float], ssim: float | Sequence[float]) -> float:
    """Purification paper's Quality = PSNR / 100 + SSIM / 2 (means over images)."""
    return float(np.mean(psnr) / 100 + np.mean(ssim) / 2)
