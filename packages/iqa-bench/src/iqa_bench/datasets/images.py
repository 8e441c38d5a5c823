"""Decoding images at the edge: any file PIL reads -> (3, H, W) float32 RGB in [0, 1].

Handles EXIF orientation, grayscale (replicated), palette, RGBA/LA (composited on white),
16-bit (``I;16`` / ``I``) and CMYK. Corrupt files raise :class:`ImageDecodeError` naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor


class ImageDecodeError(ValueError):
    """A file could not be decoded as an image."""


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    """RGB float array in [0, 1] of any PIL image (16-bit, alpha, palette, CMYK...)."""
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
    """Read ``path`` as ``(3, H, W)`` float32 RGB in [0, 1] (see the module docstring)."""
    path = Path(path)
    try:
        with Image.open(path) as opened:
            opened.load()
            array = _to_rgb_array(ImageOps.exif_transpose(opened))
    except FileNotFoundError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ImageDecodeError(f"cannot decode image {path}: {error}") from error
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).contiguous()
