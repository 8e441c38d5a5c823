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

#: Floor of ``|f(x) - f(P(x'))|`` in R, as a fraction of ``diam``: an image whose score did not
#: move contributes ``log10(margin / (1e-6 * diam))`` (at most about 6) instead of infinity.
R_DENOMINATOR_FLOOR = 1e-6


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
    """``R = 1/n * sum log10( max(b1 - f(x), f(x) - b2) / |f(x) - f(P(x'))| )`` (eq. 5).

    ``beta = (b1, b2)``: the maximum and minimum clean score over the evaluated subset (as the
    benchmark's reference code fits its scaler on the subset's clean values). For ``R^(D)`` pass
    ``f(P(x))`` as ``reference`` (see :func:`r_score_defended`). Zero denominators are floored at
    ``R_DENOMINATOR_FLOOR * diam``. Higher is more robust.
    """
    ref, pa = _arrays(reference, purified_attacked)
    b1, b2 = beta
    margin = np.maximum(b1 - ref, ref - b2)
    margin = np.maximum(margin, R_DENOMINATOR_FLOOR * diam)
    change = np.maximum(np.abs(ref - pa), R_DENOMINATOR_FLOOR * diam)
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


def _correlation(kind: str, mos: ArrayLike, scores: ArrayLike) -> float:
    y, s = _arrays(mos, scores)
    if y.size < 2 or np.ptp(s) == 0 or np.ptp(y) == 0:
        return math.nan
    if kind == "srocc":
        return float(stats.spearmanr(y, s).statistic)
    if kind == "plcc":
        return float(stats.pearsonr(y, s).statistic)
    return float(stats.kendalltau(y, s).statistic)


def srocc(mos: ArrayLike, scores: ArrayLike) -> float:
    """Spearman rank correlation with MOS (NaN when either side is constant)."""
    return _correlation("srocc", mos, scores)


def plcc(mos: ArrayLike, scores: ArrayLike) -> float:
    """Pearson correlation with MOS (no logistic fitting)."""
    return _correlation("plcc", mos, scores)


def krocc(mos: ArrayLike, scores: ArrayLike) -> float:
    """Kendall rank correlation with MOS."""
    return _correlation("krocc", mos, scores)


def rmse(a: ArrayLike, b: ArrayLike) -> float:
    x, y = _arrays(a, b)
    return float(np.sqrt(np.mean((x - y) ** 2)))


def gain(clean: ArrayLike, other: ArrayLike) -> float:
    """Mean relative change ``|f(x) - f(y)| / f(x)`` (purification paper's Gain, absolute as in its code)."""
    c, o = _arrays(clean, other)
    return float(np.mean(np.abs(c - o) / np.where(c == 0, np.finfo(float).tiny, np.abs(c))))


def quality_score(psnr: float | Sequence[float], ssim: float | Sequence[float]) -> float:
    """Purification paper's Quality = PSNR / 100 + SSIM / 2 (means over images)."""
    return float(np.mean(psnr) / 100 + np.mean(ssim) / 2)
