import math

import pytest
from scipy import stats

from iqa_certify import (
    abstention_rate,
    certified_radius,
    certified_relative_delta,
    smoothed_score,
    smoothed_srocc,
    summarize,
)
from iqa_core import Certificate

CLASSIFICATION = [
    Certificate(abstained=False, prediction=3, radius=0.2, score=30.0, n0=100, n=1000, seconds=1.0),
    Certificate(abstained=True, n0=100, n=1000, seconds=3.0, extra={"top_class": 5.0, "top_score": 50.0}),
    Certificate(abstained=False, prediction=7, radius=0.1, score=70.0, n0=100, n=1000, seconds=2.0),
    Certificate(abstained=False, prediction=6, radius=0.3, score=60.0, n0=100, n=1000, seconds=2.0),
]
REGRESSION = [
    Certificate(abstained=False, score=1.0, lower=0.5, upper=1.6, delta=0.6, relative_delta=0.06),
    Certificate(abstained=False, score=2.0, lower=1.8, upper=2.2, delta=0.2, relative_delta=0.02),
    Certificate(abstained=True, score=3.0, lower=-math.inf, upper=math.inf, delta=math.inf, relative_delta=math.inf),
]


def test_cert_r_counts_abstentions_as_zero():
    assert certified_radius(CLASSIFICATION) == pytest.approx((0.2 + 0.0 + 0.1 + 0.3) / 4)
    assert certified_radius(CLASSIFICATION, include_abstained=False) == pytest.approx(0.2)


def test_abstention_rate_and_cert_rd():
    assert abstention_rate(CLASSIFICATION) == 25.0
    assert certified_relative_delta(REGRESSION) == pytest.approx(0.04)
    assert certified_relative_delta(CLASSIFICATION) is None


def test_srocc_drops_abstentions_by_default_or_uses_the_top_class():
    mos = [3.0, 4.0, 8.0, 5.0]
    dropped = smoothed_srocc(CLASSIFICATION, mos)
    assert dropped == pytest.approx(stats.spearmanr([30, 70, 60], [3.0, 8.0, 5.0]).statistic)
    top = smoothed_srocc(CLASSIFICATION, mos, abstained="top")
    assert top == pytest.approx(stats.spearmanr([30, 50, 70, 60], mos).statistic)
    assert math.isnan(smoothed_score(CLASSIFICATION[1]))
    assert smoothed_score(CLASSIFICATION[1], "top") == 50.0
    with pytest.raises(ValueError):
        smoothed_srocc(CLASSIFICATION, [1.0, 2.0])


def test_srocc_is_oriented_by_the_metric_direction():
    mos = [3.0, 4.0, 8.0, 5.0]
    lower_better = smoothed_srocc(CLASSIFICATION, mos, higher_is_better=False)
    assert lower_better == pytest.approx(-smoothed_srocc(CLASSIFICATION, mos))


def test_kind_comes_from_the_certificates_and_regression_has_no_cert_r():
    ms = summarize(REGRESSION)
    assert ms.cert_r is None and ms.cert_rd is not None
    declared = [Certificate(abstained=False, score=1.0, kind="regression")]
    assert summarize(declared).cert_r is None
    with pytest.raises(ValueError, match="mix"):
        summarize([*CLASSIFICATION, *REGRESSION])


def test_summary():
    s = summarize(CLASSIFICATION, mos=[3.0, 4.0, 8.0, 5.0])
    assert (s.images, s.abstention_pct, s.cert_rd, s.seconds_per_image) == (4, 25.0, None, 2.0)
    assert s.cert_r == pytest.approx(0.15) and s.srocc is not None
    r = summarize(REGRESSION, mos=[1.0, 2.0, 3.0])
    assert r.cert_r is None and r.cert_rd == pytest.approx(0.04) and r.srocc == pytest.approx(1.0)
    with pytest.raises(ValueError):
        summarize([])
