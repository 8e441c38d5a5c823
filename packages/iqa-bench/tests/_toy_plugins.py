"""Toy components for runner tests, registered in-process (also used by subprocess runs)."""

from __future__ import annotations

import time

import torch

from iqa_core import registry
from iqa_core.testing import ToyBlurDefence, ToyMetric, ToyNoiseDefence, ToyQuantizeDefence, ToySignAttack


class NaNOnBrightMetric(ToyMetric):
    """ToyMetric that returns NaN for very bright images (to test failure recording)."""

    name = "toy-nan"

    def forward(self, images):
        scores = super().forward(images)
        bright = images.flatten(1).mean(1) > 0.9
        return torch.where(bright, torch.full_like(scores, float("nan")), scores)


class MinSizeMetric(ToyMetric):
    """ToyMetric that declares a minimum input size of 16x16."""

    name = "toy-min16"
    min_size = (16, 16)


class SlowBlurDefence(ToyBlurDefence):
    """A blur that takes a while, so that a run can be killed in the middle."""

    name = "toy-slow-blur"

    def forward(self, images, *, generator=None):
        time.sleep(0.15)
        return super().forward(images, generator=generator)


def register_toys() -> None:
    for kind, name, factory in (
        ("metric", "toy-metric", ToyMetric),
        ("metric", "toy-nan", NaNOnBrightMetric),
        ("metric", "toy-min16", MinSizeMetric),
        ("attack", "toy-sign", ToySignAttack),
        ("defence", "toy-blur", ToyBlurDefence),
        ("defence", "toy-slow-blur", SlowBlurDefence),
        ("defence", "toy-quantize", ToyQuantizeDefence),
        ("defence", "toy-noise", ToyNoiseDefence),
    ):
        registry.register(kind, name, factory, replace=True)
