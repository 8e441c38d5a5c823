"""Flip along both axes (a 180-degree rotation)."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import PurificationDefence


class Flip(PurificationDefence):
    """Mirror the image horizontally and vertically (the benchmark's ``torch.flip(x, [2, 3])``); no parameter."""

    name = "flip"
    differentiable = True
    randomized = False

    def purify(self, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        return torch.flip(images, dims=(2, 3))
