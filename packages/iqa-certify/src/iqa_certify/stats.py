"""Exact binomial statistics behind the certificates.

* :func:`clopper_pearson_lower` - one-sided Clopper-Pearson lower confidence bound of a
  binomial proportion (randomized smoothing's ``pA``, Cohen et al. 2019);
* :func:`clopper_pearson_interval` - the two-sided (equal-tailed) interval;
* :func:`binomial_test_pvalue` - two-sided exact binomial test (replaces
  ``scipy.stats.binom_test``, removed from SciPy, which the reference code calls);
* :func:`lower_order_statistic_index` / :func:`upper_order_statistic_index` - which order
  statistic of ``n`` samples is a one-sided confidence bound of a quantile (median smoothing,
  Chiang et al. 2020); :func:`median_index` - the empirical median's index (lower middle value).

Indices are 0-based positions in the samples sorted in **ascending** order.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import stats


def _check_counts(successes: int, trials: int) -> None:
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be in [0, trials={trials}], got {successes}")


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def clopper_pearson_lower(successes: int, trials: int, alpha: float) -> float:
    """One-sided ``(1 - alpha)`` lower confidence bound of a binomial proportion.

    ``Beta.ppf(alpha; k, n - k + 1)`` (0 when ``k = 0``). Equal to the lower end of
    ``statsmodels.stats.proportion.proportion_confint(k, n, alpha=2 * alpha, method="beta")``,
    which is how the reference code of Cohen et al. computes it.
    """
    _check_counts(successes, trials)
    _check_alpha(alpha)
    if successes == 0:
        return 0.0
    return float(stats.beta.ppf(alpha, successes, trials - successes + 1))


def clopper_pearson_interval(successes: int, trials: int, alpha: float) -> tuple[float, float]:
    """Two-sided equal-tailed ``(1 - alpha)`` Clopper-Pearson interval (``alpha / 2`` per tail)."""
    _check_counts(successes, trials)
    _check_alpha(alpha)
    lower = 0.0 if successes == 0 else float(stats.beta.ppf(alpha / 2, successes, trials - successes + 1))
    upper = 1.0 if successes == trials else float(stats.beta.ppf(1 - alpha / 2, successes + 1, trials - successes))
    return lower, upper


def binomial_test_pvalue(successes: int, trials: int, p: float = 0.5) -> float:
    """Two-sided exact binomial test p-value of ``successes`` out of ``trials`` against ``p``."""
    _check_counts(successes, trials)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    return float(stats.binomtest(successes, trials, p, alternative="two-sided").pvalue)


@lru_cache(maxsize=256)
def lower_order_statistic_index(n: int, p: float, alpha: float) -> int | None:
    """Index of the order statistic that is a ``(1 - alpha)`` lower bound of the ``p``-quantile.

    With ``Y_(1) <= ... <= Y_(n)`` the ascending sample, ``Y_(k) <= q_p`` holds whenever at least
    ``k`` samples are ``<= q_p``, an event of probability ``P(Bin(n, p) >= k)`` or more (for any
    distribution, with ``q_p = sup{y : F(y) <= p}``). The tightest valid choice is the largest
    ``k`` with ``P(Bin(n, p) <= k - 1) <= alpha``; the function returns ``k - 1`` (0-based), or
    ``None`` when even ``k = 1`` fails (``(1 - p) ** n > alpha``: too few samples, no bound).
    """
    _check_alpha(alpha)
    if n < 1 or not 0.0 < p < 1.0:
        raise ValueError(f"need n >= 1 and p in (0, 1), got n={n}, p={p}")
    cdf = stats.binom.cdf(np.arange(n), n, p)  # cdf[m] = P(Bin <= m), m = k - 1 = 0 .. n - 1
    count = int(np.count_nonzero(cdf <= alpha))  # cdf is non-decreasing: a prefix
    return None if count == 0 else count - 1


@lru_cache(maxsize=256)
def upper_order_statistic_index(n: int, p: float, alpha: float) -> int | None:
    """Index of the order statistic that is a ``(1 - alpha)`` upper bound of the ``p``-quantile.

    ``Y_(k) >= q_p`` holds whenever at most ``k - 1`` samples are ``< q_p``, an event of
    probability ``P(Bin(n, p) <= k - 1)`` or more. The tightest valid choice is the smallest
    ``k`` with ``P(Bin(n, p) > k - 1) <= alpha``; the function returns ``k - 1`` (0-based), or
    ``None`` when even ``k = n`` fails (``p ** n > alpha``: too few samples, no bound).
    """
    _check_alpha(alpha)
    if n < 1 or not 0.0 < p < 1.0:
        raise ValueError(f"need n >= 1 and p in (0, 1), got n={n}, p={p}")
    sf = stats.binom.sf(np.arange(n), n, p)  # sf[m] = P(Bin > m); non-increasing
    valid = np.flatnonzero(sf <= alpha)
    return None if valid.size == 0 else int(valid[0])


def median_index(n: int) -> int:
    """0-based index of the empirical median in an ascending sample: ``(n - 1) // 2``.

    For odd ``n`` the middle value; for even ``n`` the **lower** middle value. That is what the
    benchmark's median smoothing ran: its ``ccrf/calc_nms_*.py`` take ``torch.Tensor.median()``
    of the noisy scores, which returns the lower of the two middle values. (Ping-C/
    CertifiedObjectDetection's ``DetectionsAcc.median`` takes index ``n // 2`` of the ascending
    sample, the upper middle value; the benchmark does not use that accumulator.)
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return (n - 1) // 2


def smoothing_radius(p_lower: float, sigma: float) -> float:
    """Certified L2 radius ``sigma * Phi^-1(p_lower)`` (0 when ``p_lower <= 1/2``)."""
    if p_lower <= 0.5:
        return 0.0
    return float(sigma * stats.norm.ppf(p_lower)) if p_lower < 1.0 else math.inf


__all__ = [
    "binomial_test_pvalue",
    "clopper_pearson_interval",
    "clopper_pearson_lower",
    "lower_order_statistic_index",
    "median_index",
    "smoothing_radius",
    "upper_order_statistic_index",
]
