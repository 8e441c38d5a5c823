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
    expected = np.mean(np.log10(np.maximum(b1 - clean, clean - b2) / np.abs(clean - attacked)))
    assert scores.r_score(clean, attacked, beta=(b1, b2), diam=100) == pytest.approx(expected)


def test_r_score_floors_zero_changes():
    value = scores.r_score([1.0, 3.0], [1.0, 3.0], beta=(3.0, 1.0), diam=10)
    assert math.isfinite(value)
    assert value == pytest.approx(math.log10(2 / (scores.R_DENOMINATOR_FLOOR * 10)))


def test_correlations_match_scipy_and_degenerate_cases_are_nan():
    rng = np.random.default_rng(0)
    mos, pred = rng.random(30), rng.random(30)
    assert scores.srocc(mos, pred) == pytest.approx(stats.spearmanr(mos, pred).statistic)
    assert scores.plcc(mos, pred) == pytest.approx(stats.pearsonr(mos, pred).statistic)
    assert scores.krocc(mos, pred) == pytest.approx(stats.kendalltau(mos, pred).statistic)
    assert math.isnan(scores.srocc(mos, np.ones(30)))


def test_gain_and_quality_score():
    assert scores.gain([2.0, 4.0], [3.0, 2.0]) == pytest.approx((0.5 + 0.5) / 2)
    assert scores.quality_score([30.0, 40.0], [0.8, 0.9]) == pytest.approx(0.35 + 0.425)


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="same length"):
        scores.d_score([1.0], [1.0, 2.0], diam=1)
    with pytest.raises(ValueError, match="empty"):
        scores.srocc([], [])
