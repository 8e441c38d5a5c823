"""The conformance checks must catch broken components, or they prove nothing."""

import pytest
import torch

from iqa_core.testing import (
    ToyBlurDefence,
    ToyMetric,
    ToyNoiseDefence,
    ToySignAttack,
    check_attack,
    check_defence,
    check_metric,
)


def test_toys_pass():
    check_metric(ToyMetric())
    check_defence(ToyBlurDefence())
    check_defence(ToyNoiseDefence())
    check_attack(ToySignAttack())


def test_check_defence_catches_size_change_and_range():
    class Shrinks(ToyBlurDefence):
        def forward(self, images, *, generator=None):
            return images[..., 1:, :]

    class Overshoots(ToyBlurDefence):
        def forward(self, images, *, generator=None):
            return images * 2

    with pytest.raises(AssertionError, match="keep the input shape"):
        check_defence(Shrinks())
    with pytest.raises(AssertionError, match=r"\[0, 1\]"):
        check_defence(Overshoots())


def test_check_defence_catches_false_randomized_claim():
    class LyingNoise(ToyNoiseDefence):
        randomized = False

    with pytest.raises(AssertionError, match="randomized=False"):
        check_defence(LyingNoise())


def test_check_attack_catches_budget_violation():
    class Greedy(ToySignAttack):
        def __call__(self, metric, images, *, generator=None):
            return (images + 2 * self.eps).clamp(0, 1)

    with pytest.raises(AssertionError, match="budget"):
        check_attack(Greedy())


def test_check_metric_catches_batch_dependence_and_missing_gradients():
    class BatchNormed(ToyMetric):
        def forward(self, images):
            s = super().forward(images)
            return s - s.mean()

    class Detached(ToyMetric):
        def forward(self, images):
            return super().forward(images.detach())

    with pytest.raises(AssertionError, match="depend on the batch"):
        check_metric(BatchNormed())
    with pytest.raises(AssertionError, match="gradients"):
        check_metric(Detached())


def test_check_attack_catches_nondeterminism():
    class Unseeded(ToySignAttack):
        def __call__(self, metric, images, *, generator=None):
            return (images + self.eps * torch.randn(images.shape).sign()).clamp(0, 1)

    with pytest.raises(AssertionError, match="deterministic"):
        check_attack(Unseeded(), expect_increase=False)


class _ScaledToy(ToyMetric):
    """ToyMetric with a learnable gain: a metric that has parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = torch.nn.Parameter(torch.ones(()))

    def forward(self, images):
        return self.gain * super().forward(images)


def test_check_attack_catches_gradients_leaked_into_the_metric():
    class Leaky(ToySignAttack):
        def __call__(self, metric, images, *, generator=None):
            x = images.clone().requires_grad_(True)
            metric(x).sum().backward()  # fills metric.gain.grad as a side effect
            return (images + self.eps * x.grad.sign()).clamp(0, 1)

    check_attack(ToySignAttack(), _ScaledToy())  # the well-behaved attack passes on the same metric
    with pytest.raises(AssertionError, match="accumulated gradients"):
        check_attack(Leaky(), _ScaledToy())
