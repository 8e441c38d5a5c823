import torch

from iqa_core import defended
from iqa_core.testing import ToyBlurDefence, ToyMetric, ToyNoiseDefence, ToyQuantizeDefence, toy_images


def _grad(metric, x):
    x = x.detach().clone().requires_grad_(True)
    metric(x).sum().backward()
    return x.grad


def test_forward_is_metric_after_defence():
    metric, defence = ToyMetric(), ToyBlurDefence()
    x = toy_images(2)
    wrapped = defended(metric, defence)
    assert torch.allclose(wrapped(x), metric(defence(x)))
    assert wrapped.name == "toy-metric+toy-blur"
    assert wrapped.bounds == metric.bounds and wrapped.higher_is_better


def test_differentiable_defence_gradient_goes_through_it():
    metric, defence = ToyMetric(), ToyBlurDefence()
    x = toy_images(2)
    expected = _grad(lambda z: metric(defence(z)), x)
    assert torch.allclose(_grad(defended(metric, defence), x), expected)


def test_non_differentiable_defence_uses_identity_bpda():
    metric, defence = ToyMetric(), ToyQuantizeDefence(levels=4)
    x = toy_images(2)
    wrapped = defended(metric, defence)
    # forward value is the real (quantised) defence ...
    assert torch.allclose(wrapped(x), metric(defence(x)))
    # ... the gradient is the metric's gradient at the purified image (identity surrogate)
    purified = defence(x)
    assert torch.allclose(_grad(wrapped, x), _grad(metric, purified), atol=1e-6)
    # the real defence alone has no gradient at all
    assert float(_grad(lambda z: metric(defence(z)), x).abs().sum()) == 0.0


def test_bpda_surrogate_is_used_when_provided():
    class QuantizeWithBlurSurrogate(ToyQuantizeDefence):
        def bpda_surrogate(self, images):
            return ToyBlurDefence()(images)

    metric, defence = ToyMetric(), QuantizeWithBlurSurrogate()
    x = toy_images(1)
    wrapped = defended(metric, defence)
    identity = _grad(defended(metric, ToyQuantizeDefence()), x)
    assert not torch.allclose(_grad(wrapped, x), identity)


def test_eot_averages_randomized_draws():
    metric, defence = ToyMetric(), ToyNoiseDefence(sigma=0.1)
    x = toy_images(2)
    one = defended(metric, defence, eot_samples=1, generator=torch.Generator().manual_seed(0))
    many = defended(metric, defence, eot_samples=64, generator=torch.Generator().manual_seed(0))
    assert many.draws == 64 and one.draws == 1
    # the mean over many draws has far less spread than single draws
    singles = torch.stack([one(x) for _ in range(16)])
    means = torch.stack([many(x) for _ in range(4)])
    assert means.std(0).max() < singles.std(0).max() / 3
    assert defended(metric, ToyBlurDefence(), eot_samples=8).draws == 1  # deterministic: one draw


def test_defended_is_deterministic_under_its_generator():
    metric, defence = ToyMetric(), ToyNoiseDefence()
    x = toy_images(2)
    a = defended(metric, defence, eot_samples=4, generator=torch.Generator().manual_seed(3))(x)
    b = defended(metric, defence, eot_samples=4, generator=torch.Generator().manual_seed(3))(x)
    assert torch.equal(a, b)
