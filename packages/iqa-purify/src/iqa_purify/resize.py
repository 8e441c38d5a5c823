"""Resize (Guo et al., 2018): shrink, then return to the input size."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import PurificationDefence

SCALES = (0.9, 0.75, 0.5, 0.25, 0.1)


def down_size(h: int, w: int, scale: float) -> tuple[int, int]:
    """The shrunken size, as the benchmark computes it: ``int(size * scale)`` in float32, i.e. truncated
    (``metrics/defences/resize/run.py``: ``int(torch.tensor(image.shape[-2:]) * scale)``), at least 1."""
    small_h, small_w = (torch.tensor([h, w]) * float(scale)).tolist()
    return max(1, int(small_h)), max(1, int(small_w))


def shrink(images: Tensor, scale: float) -> Tensor:
    """The benchmark's resize defence itself: antialiased bilinear to :func:`down_size`
    (torchvision's ``Resize`` on tensors: bilinear, ``antialias=True``, half-pixel centres)."""
    h, w = images.shape[-2:]
    return F.interpolate(images, size=down_size(h, w, scale), mode="bilinear", align_corners=False, antialias=True)


class Resize(PurificationDefence):
    """Shrink by ``scale`` (antialiased bilinear), then back to the input size: presets 0.9 ... 0.1 (0.5 default).

    The shrink is the benchmark's (:func:`shrink`; the small size is truncated, ``int(h * scale)``,
    as in ``metrics/defences/resize/run.py``; until 0.2 it was rounded, one pixel more at scale 0.9
    on 384x512 images). Deliberate deviation: the reference returns the shrunken image and lets
    the metric see it at the smaller size; every defence here keeps the input size, so the image
    is resized back with ``mode`` (bicubic by default, clamped to [0, 1];
    :class:`~iqa_purify.upscale.BilinearUpscale` is the bilinear variant, which is what the
    benchmark's upscale defence does). Differentiable. Weakest preset = largest scale.
    """

    name = "resize"
    differentiable = True
    randomized = False
    presets: ClassVar[dict[str, dict[str, Any]]] = {f"scale{s:g}": {"scale": s} for s in SCALES}
    default_preset = "scale0.5"
    up_mode: ClassVar[str] = "bicubic"

    def __init__(self, scale: float = 0.5, mode: str | None = None) -> None:
        super().__init__()
        if not 0 < float(scale) <= 1:
            raise ValueError(f"{self.name} scale must be in (0, 1], got {scale}")
        self.scale = float(scale)
        self.mode = mode or self.up_mode
        if self.mode not in ("nearest", "bilinear", "bicubic", "area"):
            raise ValueError(f"unknown interpolation mode {self.mode!r}; use nearest, bilinear, bicubic or area")

    def purify(self, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        h, w = images.shape[-2:]
        small = shrink(images, self.scale)
        kwargs: dict[str, Any] = {} if self.mode in ("nearest", "area") else {"align_corners": False}
        return F.interpolate(small, size=(h, w), mode=self.mode, **kwargs).clamp(0, 1)

    def extra_repr(self) -> str:
        return f"scale={self.scale:g}, mode={self.mode!r}"
