"""Colour quantization / bit-depth reduction (feature squeezing, Xu et al., 2018)."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor

from .base import PurificationDefence


class ColourQuantization(PurificationDefence):
    """Reduce every channel to ``levels`` evenly spaced values: presets 25, 20, 16 (default), 5, 2.

    ``x -> round(x * (levels - 1)) / (levels - 1)``, as the benchmark's ``color-quantization`` (its
    ``npp``; bit-exact in the parity test). The staircase has zero gradient almost
    everywhere, so the defence is not differentiable; adaptive attacks use the BPDA surrogate:
    ``surrogate="identity"`` (default, straight-through) or ``"smooth"``, the differentiable
    staircase ``x - sin(2 pi k x) / (2 pi k)`` with ``k = levels - 1`` (same fixed points,
    gradient ``1 - cos(2 pi k x)``). Weakest preset = most levels.
    """

    name = "colour-quantization"
    differentiable = False
    randomized = False
    presets: ClassVar[dict[str, dict[str, Any]]] = {f"levels{n}": {"levels": n} for n in (25, 20, 16, 5, 2)}
    default_preset = "levels16"

    def __init__(self, levels: int = 16, surrogate: Literal["identity", "smooth"] = "identity") -> None:
        super().__init__()
        if int(levels) < 2:
            raise ValueError(f"colour quantization needs at least 2 levels per channel, got {levels}")
        if surrogate not in ("identity", "smooth"):
            raise ValueError(f"surrogate must be 'identity' or 'smooth', got {surrogate!r}")
        self.levels = int(levels)
        self.surrogate = surrogate

    def purify(self, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        k = self.levels - 1
        return torch.round(images.clamp(0, 1) * k) / k

    def bpda_surrogate(self, images: Tensor) -> Tensor:
        """Gradient path for BPDA: identity, or the smooth staircase (see the class docstring)."""
        if self.surrogate == "identity":
            return images
        k = self.levels - 1
        return images - torch.sin(2 * math.pi * k * images) / (2 * math.pi * k)

    def extra_repr(self) -> str:
        return f"levels={self.levels}, surrogate={self.surrogate!r}"
