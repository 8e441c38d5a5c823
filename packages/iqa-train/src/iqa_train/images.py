"""Images at the edge: decoding is iqa-core's shared loader (:mod:`iqa_core.images`); saving is here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from torch import Tensor

# one loader for every package (EXIF, 8/16-bit, grayscale, palette, alpha, CMYK): iqa-core's
from iqa_core.images import IMAGE_SUFFIXES, ImageDecodeError, load_image

__all__ = ["IMAGE_SUFFIXES", "ImageDecodeError", "load_image", "save_image"]


def save_image(image: Tensor, path: str | Path) -> None:
    """Write a ``(3, H, W)`` (or ``(1, 3, H, W)``) tensor in ``[0, 1]`` as an 8-bit image (PNG: lossless)."""
    if image.ndim == 4:
        if image.shape[0] != 1:
            raise ValueError(f"save_image takes one image, got a batch of {image.shape[0]}")
        image = image[0]
    array = (image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255.0).round().astype(np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
