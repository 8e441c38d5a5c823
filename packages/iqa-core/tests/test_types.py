import math

import pytest

from iqa_core import Bounds, Budget, Certificate, Threat


def test_bounds_diam_and_normalise():
    b = Bounds(25.78, 83.23)
    assert b.diam == pytest.approx(57.45)
    assert b.normalise(25.78) == pytest.approx(0.0)
    assert b.normalise(83.23) == pytest.approx(1.0)


@pytest.mark.parametrize("lower, upper", [(1.0, 1.0), (2.0, 1.0), (0.0, math.inf), (math.nan, 1.0)])
def test_bounds_reject_invalid(lower, upper):
    with pytest.raises(ValueError, match="Bounds"):
        Bounds(lower, upper)


def test_budget_validation_and_str():
    assert str(Budget("linf", 8 / 255)) == "linf<=8/255"
    assert str(Budget("psnr", 30)) == "psnr>=30"
    assert not Budget("unrestricted").is_restricted
    with pytest.raises(ValueError, match="unknown budget kind"):
        Budget("l3", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="minimum SSIM"):
        Budget("ssim", 1.5)
    with pytest.raises(ValueError, match="finite value"):
        Budget("linf", -1)


def test_value_types_are_frozen():
    with pytest.raises(AttributeError):
        Bounds(0, 1).lower = 3  # type: ignore[misc]
    cert = Certificate(abstained=True)
    assert cert.radius == 0.0 and cert.prediction is None
    assert Threat("black-box") is Threat.BLACK_BOX
