"""Uncertainty of benchmark numbers: bootstrap intervals, ranks with intervals, Bradley-Terry strengths.

The published benchmark ranks by point estimates from one run. These helpers put an interval on
every number and rank the leaderboards (defences, metrics, attacks) and the subjective study use:

* :func:`bootstrap_indices` / :func:`bootstrap_interval`: percentile bootstrap over images (the
  unit of sampling in the benchmark); one seeded generator, so intervals are reproducible.
* :func:`competition_ranks` / :func:`rank_intervals`: ranks where equal values share a rank
  ("1, 2, 2, 4"), and the 95 % interval of each method's rank over bootstrap resamples; a rank
  whose interval holds another rank can be flipped by resampling and is marked ``unstable``.
* :func:`bradley_terry`: strengths from pairwise win counts (Wilcoxon wins between defences, or
  votes of a subjective study) by Hunter's MM algorithm (Ann. Statist. 32(1), 2004), with a small
  symmetric prior so a method that never loses keeps a finite strength.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A point estimate with its two-sided bootstrap interval (``confidence``, e.g. 0.95)."""

    estimate: float
    low: float
    high: float
    confidence: float = DEFAULT_CONFIDENCE

    @property
    def width(self) -> float:
        return self.high - self.low

    def to_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "confidence": self.confidence}


def bootstrap_indices(n: int, n_resamples: int = DEFAULT_RESAMPLES, *, seed: int = 0) -> np.ndarray:
    """``(n_resamples, n)`` indices drawn with replacement from ``range(n)``."""
    if n < 1:
        raise ValueError("bootstrap needs at least one item; got none (did the cell produce any rows?)")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


def _percentiles(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    alpha = (1.0 - confidence) / 2.0
    return np.nanquantile(samples, alpha, axis=0), np.nanquantile(samples, 1.0 - alpha, axis=0)


def bootstrap_interval(
    values: ArrayLike,
    statistic: Callable[[np.ndarray], float] | None = None,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of ``statistic`` (default: the mean) over the rows of ``values``.

    ``values`` is one value per image, or one row per image (e.g. paired columns such as MOS and
    predicted score for a correlation); non-finite values are dropped first.
    """
    data = np.asarray(values, dtype=float)
    if data.ndim == 1:
        data = data[np.isfinite(data)]
    else:
        data = data[np.all(np.isfinite(data.reshape(len(data), -1)), axis=1)]
    stat = statistic or (lambda x: float(np.mean(x)))
    estimate = float(stat(data)) if len(data) else float("nan")
    if len(data) == 0:
        return Interval(estimate, float("nan"), float("nan"), confidence)
    if statistic is None and data.ndim == 1:  # vectorised mean: the common case, 1000 x n at once
        samples = data[bootstrap_indices(len(data), n_resamples, seed=seed)].mean(axis=1)
    else:
        samples = np.array([stat(data[idx]) for idx in bootstrap_indices(len(data), n_resamples, seed=seed)])
    low, high = _percentiles(samples[:, None], confidence)
    return Interval(estimate, float(low[0]), float(high[0]), confidence)


def resampled_intervals(
    estimates: ArrayLike, resampled: ArrayLike, *, confidence: float = DEFAULT_CONFIDENCE
) -> list[Interval]:
    """Percentile intervals of ``m`` estimates ``(m,)`` from their resampled values ``(B, m)``.

    For statistics that give several numbers per resample at once (e.g. every method's
    Bradley-Terry strength from one resampled win matrix); NaN resamples are ignored.
    """
    point = np.asarray(estimates, dtype=float)
    samples = np.asarray(resampled, dtype=float)
    if samples.ndim != 2 or samples.shape[1] != point.shape[0]:
        raise ValueError(f"resampled must be (B, {point.shape[0]}), got {samples.shape}")
    low, high = _percentiles(samples, confidence)
    return [Interval(float(e), float(lo), float(hi), confidence) for e, lo, hi in zip(point, low, high, strict=True)]


def competition_ranks(values: ArrayLike, *, higher_is_better: bool) -> np.ndarray:
    """Ranks 1..m where equal values share the best rank of their group ("1, 2, 2, 4"); NaN ranks last."""
    v = np.asarray(values, dtype=float)
    key = np.where(np.isfinite(v), -v if higher_is_better else v, np.inf)
    return np.array([1 + int(np.sum(key < k)) for k in key], dtype=int)


@dataclass(frozen=True)
class RankInterval:
    """A method's rank on the full data and the ``confidence`` interval of its rank over resamples."""

    rank: int
    low: int
    high: int

    @property
    def unstable(self) -> bool:
        """True when resampling can move the method to another rank."""
        return self.low != self.high

    def to_dict(self) -> dict[str, int | bool]:
        return {"rank": self.rank, "low": self.low, "high": self.high, "unstable": self.unstable}


def rank_intervals(
    estimates: ArrayLike,
    resampled: ArrayLike,
    *,
    higher_is_better: bool,
    confidence: float = DEFAULT_CONFIDENCE,
) -> list[RankInterval]:
    """Rank intervals of ``m`` methods from their estimates ``(m,)`` and resampled values ``(B, m)``.

    Each resample is ranked with :func:`competition_ranks`; the interval is the central
    ``confidence`` range of a method's ranks (rounded outward to whole ranks).
    """
    point = np.asarray(estimates, dtype=float)
    samples = np.asarray(resampled, dtype=float)
    if samples.ndim != 2 or samples.shape[1] != point.shape[0]:
        raise ValueError(f"resampled must be (B, {point.shape[0]}), got {samples.shape}")
    ranks = np.stack([competition_ranks(row, higher_is_better=higher_is_better) for row in samples])
    low, high = _percentiles(ranks.astype(float), confidence)
    base = competition_ranks(point, higher_is_better=higher_is_better)
    return [
        RankInterval(int(r), int(min(r, np.floor(lo))), int(max(r, np.ceil(hi))))
        for r, lo, hi in zip(base, low, high, strict=True)
    ]


def bradley_terry(
    wins: ArrayLike,
    *,
    prior: float = 0.1,
    tolerance: float = 1e-10,
    max_iterations: int = 10_000,
) -> np.ndarray:
    """Bradley-Terry log-strengths (mean 0) from a win-count matrix ``wins[i, j]`` = times i beat j.

    P(i beats j) = s_i / (s_i + s_j). Fitted by the MM iteration
    ``s_i <- W_i / sum_j n_ij / (s_i + s_j)``; ``prior`` adds that many virtual wins each way to
    every pair that met, so a method that never lost (or never won) keeps a finite strength. A
    method that met no other gets strength NaN. Ties can be entered as half a win to each side.
    """
    w = np.asarray(wins, dtype=float)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"wins must be a square matrix, got shape {w.shape}")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("wins must be finite and non-negative counts")
    if prior < 0:
        raise ValueError(f"prior must be >= 0, got {prior}")
    m = w.shape[0]
    w = w.copy()
    np.fill_diagonal(w, 0.0)
    met = (w + w.T) > 0
    w = w + prior * met
    games = w + w.T
    total_wins = w.sum(axis=1)
    active = games.sum(axis=1) > 0
    strength = np.ones(m)
    for _ in range(max_iterations):
        denominator = (games / (strength[:, None] + strength[None, :])).sum(axis=1)
        new = np.where(active, total_wins / np.where(denominator > 0, denominator, 1.0), 1.0)
        new = np.where(active & (new <= 0), 1e-12, new)
        new = new / np.exp(np.mean(np.log(new[active]))) if active.any() else new
        if np.max(np.abs(np.log(new) - np.log(strength))) < tolerance:
            strength = new
            break
        strength = new
    log_strength = np.log(strength)
    return np.where(active, log_strength - (log_strength[active].mean() if active.any() else 0.0), np.nan)


def win_probability(log_strengths: Sequence[float], i: int, j: int) -> float:
    """P(method i beats method j) under the fitted Bradley-Terry model."""
    return float(1.0 / (1.0 + np.exp(log_strengths[j] - log_strengths[i])))
