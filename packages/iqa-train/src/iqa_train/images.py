"""Decoding images at the edge: any file PIL reads -> ``(3, H, W)`` float32 RGB in ``[0, 1]``.

EXIF orientation is applied (phone photos in KonIQ-10k / LIVE Challenge style collections carry it),
grayscale is replicated to three channels, alpha is composited on white, 16-bit images are scaled
by their peak. Corrupt files raise :class:`ImageDecodeError` naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class ImageDecodeError(ValueError):
    """A file could not be decoded as an image."""


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") or array.max() > 255 else 255.0
        gray = np.clip(array / peak, 0, 1)
        return np.repeat(gray[..., None], 3, axis=2).astype(np.float32)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def load_image(path: str | Path) -> Tensor:
    """Read ``path`` as ``(3, H, W)`` float32 RGB in ``[0, 1]`` with its EXIF rotation applied."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {path} not found")
    try:
        with Image.open(path) as opened:
            opened.load()
            array = _to_rgb_array(ImageOps.exif_transpose(opened))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ImageDecodeError(f"cannot decode image {path}: {error}") from error
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).contiguous()


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
