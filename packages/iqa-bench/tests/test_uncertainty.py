"""Bootstrap intervals, rank intervals and Bradley-Terry strengths (iqa_bench.uncertainty)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from iqa_bench.uncertainty import (
    bootstrap_interval,
    bradley_terry,
    competition_ranks,
    rank_intervals,
    win_probability,
)


def test_bootstrap_interval_of_the_mean_covers_the_true_mean_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(1)
    covered = 0
    trials = 300
    for k in range(trials):
        interval = bootstrap_interval(rng.normal(3.0, 1.0, 60), n_resamples=400, seed=k)
        covered += interval.low <= 3.0 <= interval.high
    assert 0.90 <= covered / trials <= 0.99


def test_bootstrap_interval_is_seeded_drops_non_finite_values_and_takes_a_statistic() -> None:
    values = np.array([1.0, 2.0, np.nan, 4.0, 8.0, np.inf])
    a = bootstrap_interval(values, seed=3)
    assert a == bootstrap_interval(values, seed=3)
    assert a.estimate == pytest.approx(3.75)
    assert a.low <= a.estimate <= a.high
    pairs = np.column_stack([np.arange(30.0), np.arange(30.0) ** 2])
    rho = bootstrap_interval(pairs, lambda d: stats.spearmanr(d[:, 0], d[:, 1])[0], n_resamples=50)
    assert rho.estimate == pytest.approx(1.0)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_interval(values, confidence=1.5)


def test_competition_ranks_share_ranks_between_ties_and_follow_direction() -> None:
    assert competition_ranks([0.9, 0.5, 0.5, 0.1], higher_is_better=True).tolist() == [1, 2, 2, 4]
    assert competition_ranks([0.9, 0.5, 0.5, 0.1], higher_is_better=False).tolist() == [4, 2, 2, 1]
    assert competition_ranks([np.nan, 1.0], higher_is_better=True).tolist() == [2, 1]


def test_rank_intervals_mark_only_ranks_that_resampling_can_flip() -> None:
    rng = np.random.default_rng(0)
    per_image = np.column_stack([rng.normal(m, 1.0, 200) for m in (5.0, 1.0, 1.05)])
    estimates = per_image.mean(axis=0)
    idx = rng.integers(0, 200, size=(500, 200))
    resampled = per_image[idx].mean(axis=1)
    ranks = rank_intervals(estimates, resampled, higher_is_better=True)
    assert ranks[0].rank == 1 and not ranks[0].unstable
    assert ranks[1].unstable and ranks[2].unstable
    assert {ranks[1].low, ranks[1].high} == {2, 3}


def test_bradley_terry_recovers_known_strengths_from_simulated_games() -> None:
    rng = np.random.default_rng(7)
    true = np.array([1.0, 0.3, -0.2, -1.1])
    wins = np.zeros((4, 4))
    for i in range(4):
        for j in range(i + 1, 4):
            p = 1 / (1 + np.exp(true[j] - true[i]))
            k = rng.binomial(2000, p)
            wins[i, j], wins[j, i] = k, 2000 - k
    fitted = bradley_terry(wins)
    assert np.allclose(fitted, true - true.mean(), atol=0.08)
    assert win_probability(fitted, 0, 3) > 0.85


def test_bradley_terry_keeps_unbeaten_methods_finite_and_isolated_ones_nan() -> None:
    wins = np.array([[0, 5, 0], [0, 0, 0], [0, 0, 0]])
    fitted = bradley_terry(wins)
    assert np.isfinite(fitted[:2]).all() and fitted[0] > fitted[1]
    assert np.isnan(fitted[2])
    with pytest.raises(ValueError, match="square"):
        bradley_terry(np.ones((2, 3)))
