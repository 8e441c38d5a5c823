"""Score definitions that several packages share: one definition each, used everywhere.

``iqa-bench`` (result tables, statistics), ``iqa-certify`` (certificate summaries) and any other
package that reports these numbers import them from here, so the same data gives the same number
whichever path computes it. NumPy only (``iqa-core`` depends on torch and numpy alone).

* **Direction.** Every correlation with MOS is computed on the *oriented* score
  (:func:`oriented`): the raw score for a higher-is-better metric, its negation for a
  lower-is-better one (NIQE, BRISQUE, models trained on DMOS, ...). A correlation is then
  higher-is-better for every metric, and a good lower-is-better metric gets a positive SROCC
  instead of a negative one.
* **Gain** (:func:`relative_gain`, :func:`mean_gain`): the purification paper's
  ``|f(x) - f(y)| / |f(x)|`` per image. Where ``f(x) = 0`` the relative change is undefined: the
  image's gain is NaN, it is left out of the mean and counted (``n_undefined``). No floor, no
  infinity: a roll-up never averages a huge finite stand-in value.
* **Certified SROCC** (:func:`certified_srocc`): abstained images are left out (an abstention
  certifies no score), as are images without a finite smoothed score or MOS; NaN below two pairs.
* **Certificate kind** (:func:`certificate_kind`): ``"classification"`` (a class and an L2
  radius: RS, DRS, DDRS, DensePure) or ``"regression"`` (a smoothed score with a certified
  delta: MS, DMS). Cert.R exists only for the first, Cert.RD only for the second.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

CertificateKind = Literal["classification", "regression"]
CERTIFICATE_KINDS: tuple[str, ...] = ("classification", "regression")


def _vector(values: ArrayLike) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(-1)


def _pair(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x, y = _vector(a), _vector(b)
    if x.size != y.size:
        raise ValueError(f"score arrays must have the same length, got {x.size} and {y.size}")
    return x, y


def oriented(scores: ArrayLike, higher_is_better: bool) -> np.ndarray:
    """``scores`` as "higher is better" values: unchanged, or negated for a lower-is-better metric."""
    values = _vector(scores)
    return values if higher_is_better else -values


def rank_average(values: ArrayLike) -> np.ndarray:
    """Ranks 1..n with ties sharing their average rank (``scipy.stats.rankdata(method="average")``)."""
    x = _vector(values)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(x.size, dtype=np.float64)
    sorted_x = x[order]
    boundaries = np.flatnonzero(np.diff(sorted_x)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [x.size]))
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    return ranks


def pearson(a: ArrayLike, b: ArrayLike) -> float:
    """Pearson correlation; NaN with fewer than two pairs or a constant side."""
    x, y = _pair(a, b)
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    dx, dy = x - x.mean(), y - y.mean()
    value = float(np.dot(dx, dy) / math.sqrt(float(np.dot(dx, dx)) * float(np.dot(dy, dy))))
    return max(-1.0, min(1.0, value))


def spearman(a: ArrayLike, b: ArrayLike) -> float:
    """Spearman rank correlation (Pearson of average ranks); NaN when undefined."""
    x, y = _pair(a, b)
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return pearson(rank_average(x), rank_average(y))


def srocc(mos: ArrayLike, scores: ArrayLike, *, higher_is_better: bool) -> float:
    """SROCC of MOS with the oriented scores (positive for a metric that agrees with MOS)."""
    return spearman(mos, oriented(scores, higher_is_better))


def plcc(mos: ArrayLike, scores: ArrayLike, *, higher_is_better: bool) -> float:
    """PLCC of MOS with the oriented scores (no logistic fitting)."""
    return pearson(mos, oriented(scores, higher_is_better))


def relative_gain(clean: ArrayLike, other: ArrayLike) -> np.ndarray:
    """Per-image Gain ``|f(x) - f(y)| / |f(x)|`` (purification paper, eq. 5).

    ``clean`` is ``f(x)``, ``other`` is ``f(y)`` (``y`` = the attacked or purified image). Where
    ``f(x) = 0`` the relative change is undefined and the value is NaN (never a huge finite number
    or infinity). The benchmark's code divides by ``f(x) + 1e-6`` (signed): for positive scores
    the two differ by a relative ``1e-6 / f(x)``; at ``f(x) = 0`` it returns ``|f(y)| * 1e6``.
    """
    c, o = _pair(clean, other)
    with np.errstate(divide="ignore", invalid="ignore"):
        gains = np.abs(c - o) / np.abs(c)
    gains[c == 0] = math.nan
    return gains


@dataclass(frozen=True)
class GainResult:
    """Mean Gain over the images where it is defined, and how many images it left out."""

    value: float
    n_used: int
    n_undefined: int


def mean_gain(clean: ArrayLike, other: ArrayLike) -> GainResult:
    """The mean of :func:`relative_gain` over the images where it is finite.

    Images with ``f(x) = 0`` (or a non-finite score) are left out and counted in
    ``n_undefined``; ``value`` is NaN when no image is left.
    """
    gains = relative_gain(clean, other)
    finite = np.isfinite(gains)
    n_used = int(finite.sum())
    value = float(gains[finite].mean()) if n_used else math.nan
    return GainResult(value, n_used, int(gains.size - n_used))


def certified_srocc(mos: ArrayLike, scores: ArrayLike, abstained: ArrayLike, *, higher_is_better: bool) -> float:
    """SROCC of MOS with the smoothed scores of the certificates that did not abstain.

    ``scores[i]`` is image ``i``'s smoothed score (a classification certificate's class
    representative, a median-smoothing certificate's median), ``abstained[i]`` whether it
    abstained. Abstained images are left out (their share is reported as Abst.), as are pairs
    without a finite score or MOS; the scores are oriented by ``higher_is_better``. NaN with
    fewer than two pairs left or a constant side.
    """
    y, s = _pair(mos, scores)
    a = np.asarray(abstained, dtype=bool).reshape(-1)
    if a.size != y.size:
        raise ValueError(f"abstained must have one flag per score ({y.size}), got {a.size}")
    keep = ~a & np.isfinite(y) & np.isfinite(s)
    return srocc(y[keep], s[keep], higher_is_better=higher_is_better)


def _field(source: Any, name: str) -> Any:
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def _is_set(value: Any) -> bool:
    if value is None:
        return False
    try:
        return not math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def certificate_kind(certificate: Any) -> CertificateKind:
    """``"classification"`` or ``"regression"`` for a Certificate or a stored certificate row.

    An explicit ``kind`` (set by the certifier) wins. Otherwise a certificate with a certified
    ``delta`` or ``relative_delta`` (finite or infinite: median smoothing records an infinite
    delta when it abstains) is a regression certificate; any other is a classification one.
    """
    kind = _field(certificate, "kind")
    if kind is not None and kind != "":
        if kind not in CERTIFICATE_KINDS:
            raise ValueError(f"unknown certificate kind {kind!r}; use one of {', '.join(CERTIFICATE_KINDS)}")
        return "regression" if kind == "regression" else "classification"
    if _is_set(_field(certificate, "delta")) or _is_set(_field(certificate, "relative_delta")):
        return "regression"
    return "classification"


__all__ = [
    "CERTIFICATE_KINDS",
    "CertificateKind",
    "GainResult",
    "certificate_kind",
    "certified_srocc",
    "mean_gain",
    "oriented",
    "pearson",
    "plcc",
    "rank_average",
    "relative_gain",
    "spearman",
    "srocc",
]
