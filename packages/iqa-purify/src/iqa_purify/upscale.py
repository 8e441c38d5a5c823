"""Bilinear upscale: shrink, then bilinear upsampling back to the input size."""

from __future__ import annotations

from typing import ClassVar

from .resize import Resize


class BilinearUpscale(Resize):
    """Shrink by ``scale`` (antialiased bilinear), then bilinear back: presets 0.9 ... 0.1 (0.5 default).

    The reference code upsamples to a fixed 299x299 (``nn.Upsample(size=(299, 299))``); here the
    output is the input size, as every defence's. Differentiable. Weakest preset = largest scale.
    """

    name = "upscale"
    up_mode: ClassVar[str] = "bilinear"
