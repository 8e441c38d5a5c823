"""as_metric / as_defence: a plain module, a pyiqa-like model or a function works wherever a Metric/Defence does."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from iqa_core import Bounds, as_defence, as_metric, defended, require_metric
from iqa_core.testing import ToySignAttack, check_metric, toy_images


class Regressor(nn.Module):
    """A bare regression network: no name, direction or bounds (what users arrive with)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3)
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean((2, 3)))  # (N, 1)


class FakePyiqa(nn.Module):
    """The two attributes as_metric reads from pyiqa's InferenceModel (``net``, ``lower_better``)."""

    def __init__(self, lower_better: bool) -> None:
        super().__init__()
        self.net = Regressor()
        self.lower_better = lower_better
        self.metric_name = "fake"

    def forward(self, x):  # pyiqa's forward runs without gradients unless as_loss=True
        with torch.no_grad():
            return self.net(x)


def test_a_bare_module_is_refused_with_the_fix():
    with pytest.raises(TypeError, match=r"wrap it with iqa_core\.as_metric"):
        require_metric(Regressor(), where="ifgsm")
    with pytest.raises(TypeError, match="as_metric"):
        defended(Regressor(), as_defence(lambda x: x))


def test_a_wrapped_module_is_attacked_and_passes_the_conformance_checks():
    metric = as_metric(Regressor(), higher_is_better=True, bounds=(-1.0, 1.0))
    assert metric.name == "Regressor" and metric.bounds == Bounds(-1.0, 1.0)
    images = toy_images(2, (16, 16))
    assert metric(images).shape == (2,)
    adversarial = ToySignAttack(eps=4 / 255)(metric, images)
    assert (metric(adversarial) > metric(images)).all()
    check_metric(metric, images=images)


def test_a_pyiqa_model_keeps_its_direction_and_its_gradients():
    metric = as_metric(FakePyiqa(lower_better=True))
    assert metric.higher_is_better is False and metric.name == "fake"
    x = toy_images(1, (16, 16)).requires_grad_(True)
    metric(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_functions_need_a_direction_and_bounds_can_come_later():
    with pytest.raises(TypeError, match="higher_is_better"):
        as_metric(lambda x: x.mean((1, 2, 3)))
    metric = as_metric(lambda x: x.mean((1, 2, 3)), higher_is_better=False, name="darkness")
    with pytest.warns(UserWarning, match="has no bounds"):
        assert metric.bounds.diam == 1.0
    metric.bounds = (0.0, 0.5)
    assert metric.bounds == Bounds(0.0, 0.5)
    with pytest.raises(ValueError, match="one score per image"):
        as_metric(lambda x: x, higher_is_better=True)(toy_images(2, (8, 8)))


def test_as_defence_in_an_adaptive_composition():
    blur = as_defence(lambda x: torch.nn.functional.avg_pool2d(x, 3, 1, 1), differentiable=True, name="box")
    metric = as_metric(Regressor(), higher_is_better=True, bounds=(-1.0, 1.0))
    composed = defended(metric, blur)
    assert composed.name == "Regressor+box"
    images = toy_images(2, (16, 16))
    torch.testing.assert_close(composed(images), metric(blur(images)))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        as_defence(lambda x: x[:, :1])(images)
