"""A differentiable purification defence: box (mean) blur with reflect padding."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iqa_core import check_images


class BoxBlur(nn.Module):
    """Box blur: the mean over a ``kernel`` x ``kernel`` window, reflect padding, same size out.

    Deterministic (``randomized = False``; the generator is accepted and unused) and
    differentiable, so adaptive attacks go straight through it without BPDA.
    """

    name = "example-box-blur"
    differentiable = True
    randomized = False
    presets: ClassVar[dict[str, dict[str, Any]]] = {"k3": {"kernel": 3}, "k5": {"kernel": 5}, "k7": {"kernel": 7}}
    default_preset = "k3"

    def __init__(self, kernel: int = 3) -> None:
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"kernel must be a positive odd number, got {kernel}")
        self.kernel = kernel

    def forward(self, images: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        check_images(images)
        pad = self.kernel // 2
        if pad == 0:
            return images.clone()
        padded = F.pad(images, (pad, pad, pad, pad), mode="reflect")
        return F.avg_pool2d(padded, self.kernel, stride=1).clamp(0.0, 1.0)
