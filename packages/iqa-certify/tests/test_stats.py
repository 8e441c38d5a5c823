import math

import numpy as np
import pytest
import torch
from scipy import stats
from statsmodels.stats.proportion import binom_test, proportion_confint

from iqa_certify import (
    binomial_test_pvalue,
    clopper_pearson_interval,
    clopper_pearson_lower,
    lower_order_statistic_index,
    median_index,
    smoothing_radius,
    upper_order_statistic_index,
)

CASES = [(0, 10), (1, 10), (5, 10), (10, 10), (0, 1000), (500, 1000), (731, 1000), (999, 1000), (1000, 1000)]


@pytest.mark.parametrize(("k", "n"), CASES)
@pytest.mark.parametrize("alpha", [0.001, 0.05])
def test_clopper_pearson_lower_matches_statsmodels_as_cohen_calls_it(k, n, alpha):
    expected = proportion_confint(k, n, alpha=2 * alpha, method="beta")[0]
    assert clopper_pearson_lower(k, n, alpha) == pytest.approx(float(np.nan_to_num(expected)), abs=1e-12)


@pytest.mark.parametrize(("k", "n"), CASES)
def test_clopper_pearson_interval_matches_statsmodels_and_scipy(k, n):
    lo, hi = clopper_pearson_interval(k, n, 0.01)
    sm_lo, sm_hi = proportion_confint(k, n, alpha=0.01, method="beta")
    assert lo == pytest.approx(float(np.nan_to_num(sm_lo)), abs=1e-12)
    assert hi == pytest.approx(float(np.nan_to_num(sm_hi, nan=1.0)), abs=1e-12)
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.99, method="exact")
    assert (lo, hi) == pytest.approx((ci.low, ci.high), abs=1e-10)


def test_clopper_pearson_lower_when_all_successes_is_alpha_root():
    assert clopper_pearson_lower(1000, 1000, 0.001) == pytest.approx(0.001 ** (1 / 1000), rel=1e-12)


@pytest.mark.parametrize(("k", "n"), [(5, 10), (6, 10), (10, 10), (0, 7), (60, 100), (520, 1000), (1, 1)])
def test_binomial_test_matches_scipy_and_statsmodels(k, n):
    p = binomial_test_pvalue(k, n, 0.5)
    assert p == pytest.approx(stats.binomtest(k, n, 0.5).pvalue, rel=1e-12)
    assert p == pytest.approx(binom_test(k, n, 0.5, alternative="two-sided"), rel=1e-9)


def test_binomial_test_of_a_tie_is_one():
    assert binomial_test_pvalue(7, 14) == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [(-1, 10, 0.1), (11, 10, 0.1), (1, 0, 0.1), (1, 10, 0.0), (1, 10, 1.0)])
def test_invalid_counts_and_levels_raise(bad):
    k, n, alpha = bad
    with pytest.raises(ValueError):
        clopper_pearson_lower(k, n, alpha)


@pytest.mark.parametrize("n", [1, 5, 20, 101, 1000])
@pytest.mark.parametrize("p", [0.1, 0.3385, 0.5, 0.6615, 0.9])
@pytest.mark.parametrize("alpha", [0.0005, 0.05])
def test_lower_order_statistic_is_the_tightest_valid_bound(n, p, alpha):
    idx = lower_order_statistic_index(n, p, alpha)
    # Y_(k) <= q_p with probability >= P(Bin(n, p) >= k), k = idx + 1 (1-based)
    if idx is None:
        assert stats.binom.sf(0, n, p) < 1 - alpha  # even the minimum is not a bound
        return
    k = idx + 1
    assert stats.binom.sf(k - 1, n, p) >= 1 - alpha - 1e-12  # P(Bin >= k) >= 1 - alpha
    if k < n:
        assert stats.binom.sf(k, n, p) < 1 - alpha  # k + 1 would not be valid


@pytest.mark.parametrize("n", [1, 5, 20, 101, 1000])
@pytest.mark.parametrize("p", [0.1, 0.3385, 0.5, 0.6615, 0.9])
@pytest.mark.parametrize("alpha", [0.0005, 0.05])
def test_upper_order_statistic_is_the_tightest_valid_bound(n, p, alpha):
    idx = upper_order_statistic_index(n, p, alpha)
    # Y_(k) >= q_p with probability >= P(Bin(n, p) <= k - 1), k = idx + 1 (1-based)
    if idx is None:
        assert stats.binom.cdf(n - 1, n, p) < 1 - alpha  # even the maximum is not a bound
        return
    k = idx + 1
    assert stats.binom.cdf(k - 1, n, p) >= 1 - alpha - 1e-12
    if k > 1:
        assert stats.binom.cdf(k - 2, n, p) < 1 - alpha  # k - 1 would not be valid


def test_paper_setting_indices_straddle_the_median():
    p_lo, p_hi = stats.norm.cdf(-0.05 / 0.12), stats.norm.cdf(0.05 / 0.12)
    lo = lower_order_statistic_index(1000, p_lo, 0.0005)
    hi = upper_order_statistic_index(1000, p_hi, 0.0005)
    assert lo is not None and hi is not None
    assert lo < median_index(1000) < hi
    # symmetric quantiles give mirrored indices in an ascending sample
    assert lo + hi == 999


def test_order_statistic_bounds_cover_uniform_quantiles_by_simulation():
    # 20000 samples of n = 60 uniforms: the bound at alpha = 0.1 must cover the 0.3-quantile in >= 90% of trials
    rng = np.random.default_rng(0)
    n, p, alpha, trials = 60, 0.3, 0.1, 20000
    idx = lower_order_statistic_index(n, p, alpha)
    hits = np.sort(rng.random((trials, n)), axis=1)[:, idx] <= p
    exact = stats.binom.sf(idx, n, p)  # P(Bin >= idx + 1): exact coverage of this index
    lo, hi = stats.binomtest(int(hits.sum()), trials).proportion_ci(confidence_level=1 - 1e-6)
    assert lo <= exact <= hi
    assert exact >= 1 - alpha


def test_median_index_is_lower_middle_as_torch_median():
    assert [median_index(n) for n in (1, 2, 3, 4, 1000, 1001)] == [0, 0, 1, 1, 499, 500]
    for n in (1, 2, 3, 4, 1000, 1001):
        assert float(torch.arange(float(n)).median()) == median_index(n)


def test_smoothing_radius():
    assert smoothing_radius(0.5, 0.12) == 0.0
    assert smoothing_radius(0.4, 0.12) == 0.0
    assert smoothing_radius(0.9, 0.25) == pytest.approx(0.25 * stats.norm.ppf(0.9))
    assert math.isfinite(smoothing_radius(clopper_pearson_lower(1000, 1000, 0.001), 0.12))
