"""Additive Gaussian noise."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from ._common import randn
from .base import PurificationDefence


class RandomNoise(PurificationDefence):
    """Add N(0, sigma^2) noise to every pixel and clamp: presets 0.01 (default), 0.025, 0.05, 0.075, 0.1.

    As the benchmark's ``metrics/defences/random-noise``: ``clamp(x + sigma * randn(x.shape), 0, 1)``,
    one ``randn`` of the batch's shape, so a generator seeded like the benchmark's
    ``torch.manual_seed`` draws the same noise (bit-exact in the parity test). Randomized (noise
    from ``generator``) and differentiable (the identity plus noise). Weakest preset = smallest sigma.
    """

    name = "random-noise"
    differentiable = True
    randomized = True
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        f"sigma{s:g}": {"sigma": s} for s in (0.01, 0.025, 0.05, 0.075, 0.1)
    }
    default_preset = "sigma0.01"

    def __init__(self, sigma: float = 0.01) -> None:
        super().__init__()
        if float(sigma) < 0:
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        self.sigma = float(sigma)

    def purify(self, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        noise = randn(tuple(images.shape), generator, images.device).to(images.dtype)
        return (images + self.sigma * noise).clamp(0, 1)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma:g}"
