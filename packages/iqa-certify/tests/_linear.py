"""Closed forms for ToyLinearMetric: score = w . x + b with ||w||_2 = 1, so f(x + sigma * e) ~ N(f(x), sigma^2)."""

from __future__ import annotations

import torch
from scipy import stats

from iqa_certify import ScoreClasses
from iqa_core.testing import ToyLinearMetric

SHAPE = (3, 8, 8)


def metric() -> ToyLinearMetric:
    return ToyLinearMetric(SHAPE, seed=0)


def grey_images(n: int, value: float = 0.5) -> torch.Tensor:
    return torch.full((n, *SHAPE), value)


def class_probabilities(classes: ScoreClasses, mu: float, sigma: float) -> list[float]:
    """P(class k) of N(mu, sigma^2) scores."""
    probs = []
    for k in range(classes.total):
        lo, hi = classes.interval(k)
        probs.append(float(stats.norm.cdf((hi - mu) / sigma) - stats.norm.cdf((lo - mu) / sigma)))
    return probs


def random_perturbations(count: int, radius: float, weight: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """``count`` perturbations with norms uniform in [0, radius), plus the two worst ones (+-w) just inside."""
    g = torch.Generator().manual_seed(seed)
    directions = torch.randn((count, *weight.shape), generator=g)
    directions /= directions.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    norms = torch.rand(count, generator=g) * radius
    worst = torch.stack([weight, -weight]) * radius * (1 - 1e-9)
    return torch.cat([directions * norms.view(-1, 1, 1, 1), worst])
