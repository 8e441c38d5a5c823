"""Random crop (Guo et al., 2018), then resized back to the input size."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from ._common import randint
from .base import PurificationDefence


class RandomCrop(PurificationDefence):
    """Crop a random ``size`` x ``size`` square, bilinear-resize it to the input size: presets 288 ... 32 (128 default).

    The crop origin is drawn as torchvision's ``RandomCrop`` in the benchmark's code (top, then
    left, ``randint``), so a generator seeded like the benchmark's ``torch.manual_seed`` picks
    the same square for a batch of one (checked in the parity test). Deliberate deviations: the
    reference returns the crop itself (the metric then sees a ``size`` x ``size`` image); here it
    is resized back (bilinear) so that the input size is kept. One origin per image (torchvision
    draws one per batch). On images smaller than ``size`` the crop side is ``min(size, H, W)``
    (torchvision raises). Randomized and differentiable. Weakest preset = largest crop.
    """

    name = "random-crop"
    differentiable = True
    randomized = True
    presets: ClassVar[dict[str, dict[str, Any]]] = {f"size{s}": {"size": s} for s in (288, 256, 128, 64, 32)}
    default_preset = "size128"

    def __init__(self, size: int = 128) -> None:
        super().__init__()
        if int(size) < 1:
            raise ValueError(f"crop size must be >= 1, got {size}")
        self.size = int(size)

    def purify(self, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        n, _, h, w = images.shape
        s = min(self.size, h, w)
        tops = randint(h - s + 1, (n,), generator, torch.device("cpu")).tolist()
        lefts = randint(w - s + 1, (n,), generator, torch.device("cpu")).tolist()
        pairs = enumerate(zip(tops, lefts, strict=True))
        crops = torch.stack([images[i, :, t : t + s, left : left + s] for i, (t, left) in pairs])
        return F.interpolate(crops, size=(h, w), mode="bilinear", align_corners=False).clamp(0, 1)

    def extra_repr(self) -> str:
        return f"size={self.size}"
