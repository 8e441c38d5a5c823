import math

import pytest
import torch

from iqa_certify import ScoreClasses
from iqa_core import Bounds


def test_bins_and_outer_classes():
    classes = ScoreClasses(Bounds(0.0, 10.0), 10)
    scores = torch.tensor([-5.0, -1e-6, 0.0, 0.5, 0.999, 1.0, 9.99, 10.0, 10.0001, 1e9, math.nan])
    assert classes.classify(scores).tolist() == [0, 0, 1, 1, 1, 2, 10, 10, 11, 11, 11]
    assert classes.total == 12


def test_lower_is_better_reverses_the_order():
    classes = ScoreClasses(Bounds(0.0, 10.0), 10, higher_is_better=False)
    scores = torch.tensor([-5.0, 0.5, 9.5, 10.0, 11.0])
    assert classes.classify(scores).tolist() == [11, 10, 1, 1, 0]
    assert classes.interval(10) == (0.0, 1.0)
    assert classes.representative(0) == 10.0


def test_interval_and_representative():
    classes = ScoreClasses(Bounds(-1.0, 1.0), 4)
    assert classes.interval(0) == (-math.inf, -1.0)
    assert classes.interval(1) == (-1.0, -0.5)
    assert classes.interval(5) == (1.0, math.inf)
    assert [classes.representative(k) for k in range(6)] == [-1.0, -0.75, -0.25, 0.25, 0.75, 1.0]
    for k in range(1, 5):
        lo, hi = classes.interval(k)
        assert int(classes.classify(torch.tensor([classes.representative(k)]))) == k
        assert lo < classes.representative(k) < hi
    with pytest.raises(ValueError):
        classes.interval(6)
    with pytest.raises(ValueError):
        ScoreClasses(Bounds(0, 1), 0)
