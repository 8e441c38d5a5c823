"""DiffPure+Unsharp (Gushchin et al., 2024): DiffPure, then unsharp masking."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ._common import PathLike, check_odd_kernel
from .diffpure import DiffPure
from .unsharp import unsharp_mask


class DiffPureUnsharp(DiffPure):
    """DiffPure+Unsharp: unsharp masking (kernel 3, sigma 1, amount 1, clamped) after DiffPure; t presets as DiffPure.

    The sharpening parameters are those of the Unsharp defence's default preset (the paper gives
    none for the add-on). Randomized, differentiable.
    """

    name = "diffpure-unsharp"

    def __init__(
        self,
        t: int = 5,
        model: PathLike | None = None,
        kernel_size: int = 3,
        sigma: float = 1.0,
        amount: float = 1.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(t, model, **kwargs)
        self.kernel_size = check_odd_kernel(kernel_size, "unsharp")
        self.sigma = float(sigma)
        self.amount = float(amount)

    def purify(self, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        return unsharp_mask(self.diffpure(images, generator), self.kernel_size, self.sigma, self.amount)
