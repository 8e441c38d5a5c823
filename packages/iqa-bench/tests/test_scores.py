import math

import numpy as np
import pytest
from scipy import stats

from iqa_bench import scores


def test_d_scores_follow_equations_6_and_7():
    clean = [10.0, 20.0]
    purified_clean = [12.0, 18.0]
    purified_attacked = [15.0, 30.0]
    assert scores.d_score(clean, purified_attacked, diam=50) == pytest.approx(100 / 2 * (5 / 50 + 10 / 50))
    assert scores.d_score_defended(purified_clean, purified_attacked, diam=50) == pytest.approx(100 / 2 * (3 + 12) / 50)


def test_r_score_follows_equation_5_with_log10():
    clean = np.array([10.0, 30.0, 50.0])
    attacked = np.array([12.0, 31.0, 40.0])
    b1, b2 = scores.beta_of(clean)
    change = np.abs(clean - attacked) + scores.R_EPS * (b1 - b2)
    expected = np.mean(np.log10(np.maximum(b1 - clean, clean - b2) / change))
    assert scores.r_score(clean, attacked, beta=(b1, b2), diam=100) == pytest.approx(expected, rel=1e-12)


def test_r_score_adds_eps_of_the_subset_range_to_the_change():
    # the benchmark's robustness_score: log10(max(1 - s, s) / (|s - s'| + 1e-6)) on min-max scaled s
    value = scores.r_score([1.0, 3.0], [1.0, 3.0], beta=(3.0, 1.0), diam=10)
    assert math.isfinite(value)
    assert value == pytest.approx(math.log10(2 / (scores.R_EPS * 2)))
    # one image (b1 = b2): diam stands in for the subset's range
    single = scores.r_score([5.0], [6.0], beta=(5.0, 5.0), diam=10)
    assert single == pytest.approx(math.log10(10 / (1.0 + scores.R_EPS * 10)))


def test_correlations_match_scipy_and_degenerate_cases_are_nan():
    rng = np.random.default_rng(0)
    mos, pred = rng.random(30), rng.random(30)
    assert scores.srocc(mos, pred, higher_is_better=True) == pytest.approx(stats.spearmanr(mos, pred).statistic)
    assert scores.plcc(mos, pred, higher_is_better=True) == pytest.approx(stats.pearsonr(mos, pred).statistic)
    assert scores.krocc(mos, pred, higher_is_better=True) == pytest.approx(stats.kendalltau(mos, pred).statistic)
    assert math.isnan(scores.srocc(mos, np.ones(30), higher_is_better=True))


def test_correlations_of_a_lower_is_better_metric_are_oriented():
    rng = np.random.default_rng(1)
    mos = rng.random(30)
    niqe = 10 - 5 * mos + 0.1 * rng.random(30)  # a good lower-is-better metric
    for corr in (scores.srocc, scores.plcc, scores.krocc):
        assert corr(mos, niqe, higher_is_better=False) > 0.8
        assert corr(mos, niqe, higher_is_better=False) == pytest.approx(-corr(mos, niqe, higher_is_better=True))


def test_gain_and_quality_score():
    assert scores.gain([2.0, 4.0], [3.0, 2.0]) == pytest.approx((0.5 + 0.5) / 2)


def test_gain_at_a_zero_clean_score_is_left_out_not_huge():
    value = scores.gain([0.0, 2.0, 4.0], [0.15, 3.0, 2.0])
    assert value == pytest.approx(0.5)
    details = scores.gain_details([0.0, 2.0, 4.0], [0.15, 3.0, 2.0])
    assert (details.n_used, details.n_undefined) == (2, 1)
    assert math.isnan(scores.gain([0.0], [0.15]))
    assert scores.quality_score([30.0, 40.0], [0.8, 0.9]) == pytest.approx(0.35 + 0.425)


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="same length"):
        scores.d_score([1.0], [1.0, 2.0], diam=1)
    with pytest.raises(ValueError, match="empty"):
        scores.srocc([], [], higher_is_better=True)
