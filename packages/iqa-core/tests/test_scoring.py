import math

import numpy as np
import pytest

from iqa_core import Certificate, scoring


def test_rank_average_and_correlations_match_the_textbook_definitions():
    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    assert scoring.rank_average(x).tolist() == [4.0, 1.5, 5.0, 1.5, 6.0, 8.0, 3.0, 7.0]
    rng = np.random.default_rng(0)
    a, b = rng.random(40), rng.random(40)
    assert scoring.pearson(a, b) == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-12)
    ranks = (np.argsort(np.argsort(a)) + 1.0, np.argsort(np.argsort(b)) + 1.0)
    assert scoring.spearman(a, b) == pytest.approx(np.corrcoef(*ranks)[0, 1], abs=1e-12)
    assert math.isnan(scoring.spearman(a, np.ones(40)))
    assert math.isnan(scoring.spearman([1.0], [2.0]))


def test_correlations_are_oriented_by_the_metric_direction():
    mos = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    niqe = np.array([9.0, 7.0, 6.0, 4.0, 1.0])  # lower is better: a perfect lower-is-better metric
    assert scoring.srocc(mos, niqe, higher_is_better=False) == pytest.approx(1.0)
    assert scoring.plcc(mos, niqe, higher_is_better=False) > 0.95
    assert scoring.srocc(mos, niqe, higher_is_better=True) == pytest.approx(-1.0)
    assert scoring.oriented([1.0, -2.0], False).tolist() == [-1.0, 2.0]


def test_gain_is_undefined_at_zero_and_left_out_of_the_mean():
    gains = scoring.relative_gain([0.0, 2.0, 4.0], [0.15, 3.0, 2.0])
    assert math.isnan(gains[0])
    assert gains[1:].tolist() == [0.5, 0.5]
    result = scoring.mean_gain([0.0, 2.0, 4.0], [0.15, 3.0, 2.0])
    assert result == scoring.GainResult(0.5, 2, 1)
    assert math.isnan(scoring.mean_gain([0.0], [1.0]).value)
    # negative scores: relative to |f(x)|
    assert scoring.relative_gain([-2.0], [-1.0]).tolist() == [0.5]


def test_certified_srocc_leaves_abstentions_out():
    mos = [1.0, 2.0, 3.0, 4.0, 5.0]
    scores = [10.0, 20.0, 30.0, 40.0, math.nan]
    abstained = [False, False, True, False, True]
    # abstained image 3 would break the order if it were kept with its score
    assert scoring.certified_srocc(mos, [10.0, 20.0, 99.0, 40.0, 0.0], abstained, higher_is_better=True) == 1.0
    assert scoring.certified_srocc(mos, scores, [False] * 5, higher_is_better=False) == pytest.approx(-1.0)
    assert math.isnan(scoring.certified_srocc(mos, scores, [True] * 4 + [False], higher_is_better=True))


def test_certificate_kind_from_certificates_and_rows():
    assert scoring.certificate_kind(Certificate(abstained=False, prediction=3, radius=0.2)) == "classification"
    assert scoring.certificate_kind(Certificate(abstained=True)) == "classification"
    ms = Certificate(abstained=False, score=0.5, lower=0.4, upper=0.6, delta=0.1, relative_delta=0.1)
    assert scoring.certificate_kind(ms) == "regression"
    assert scoring.certificate_kind(Certificate(abstained=False, score=0.5, kind="regression")) == "regression"
    row = {"abstained": 1, "radius": 0.0, "delta": math.inf, "relative_delta": math.inf}
    assert scoring.certificate_kind(row) == "regression"
    assert scoring.certificate_kind({"radius": 0.0, "delta": None, "relative_delta": None}) == "classification"
    with pytest.raises(ValueError, match="kind"):
        Certificate(abstained=False, kind="other")  # type: ignore[arg-type]
