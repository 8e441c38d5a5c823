"""The one image loader of every CLI and dataset: any file Pillow reads -> (3, H, W) float32 RGB in [0, 1].

Handles EXIF orientation, grayscale (replicated), palette, RGBA/LA (composited on white),
16-bit (``I;16`` / ``I``, scaled by 65535, not saturated) and CMYK. Corrupt files raise
:class:`ImageDecodeError` naming the file; a folder reader (:func:`load_folder`) returns every
image and the error of every file it could not read, so one bad file never aborts a run.
Pillow is imported lazily: iqa-core itself depends only on torch and NumPy.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .errors import UserError

__all__ = ["IMAGE_SUFFIXES", "ImageDecodeError", "image_files", "load_folder", "load_image"]

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class ImageDecodeError(UserError, ValueError):
    """A file could not be decoded as an image."""


def _pil() -> Any:
    try:
        from PIL import Image, ImageOps, UnidentifiedImageError
    except ImportError as error:  # pragma: no cover - Pillow ships with every package that reads files
        raise UserError("reading image files needs Pillow: `pip install pillow`") from error
    return Image, ImageOps, UnidentifiedImageError


def _to_rgb_array(img: Any) -> np.ndarray:
    """RGB float array in [0, 1] of any PIL image (16-bit, alpha, palette, CMYK...)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") or array.max() > 255 else 255.0
        gray = np.clip(array / peak, 0, 1)
        return np.repeat(gray[..., None], 3, axis=2).astype(np.float32)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        image_module = _pil()[0]
        background = image_module.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = image_module.alpha_composite(background, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def load_image(path: str | Path) -> Tensor:
    """Read ``path`` as ``(3, H, W)`` float32 RGB in [0, 1] (see the module docstring)."""
    path = Path(path)
    image_module, image_ops, unidentified = _pil()
    try:
        with image_module.open(path) as opened:
            opened.load()
            array = _to_rgb_array(image_ops.exif_transpose(opened))
    except FileNotFoundError:
        raise
    except (unidentified, OSError, SyntaxError, ValueError) as error:
        raise ImageDecodeError(f"cannot decode image {path}: {error}") from error
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).contiguous()


def image_files(folder: str | Path, suffixes: Sequence[str] = IMAGE_SUFFIXES) -> list[Path]:
    """Image files of ``folder`` (by suffix, sorted by name); a clear error when there are none."""
    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"{root} is not a folder of images")
    files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if not files:
        raise UserError(f"{root} holds no image files ({', '.join(suffixes)})")
    return files


def load_folder(
    folder: str | Path, limit: int | None = None
) -> tuple[list[tuple[Path, Tensor]], list[tuple[Path, str]]]:
    """``(loaded, failed)``: ``(path, (3, H, W) image)`` for every readable file, ``(path, error)`` for the rest."""
    loaded: list[tuple[Path, Tensor]] = []
    failed: list[tuple[Path, str]] = []
    files = image_files(folder)
    for path in files[:limit] if limit is not None else files:
        try:
            loaded.append((path, load_image(path)))
        except ImageDecodeError as error:
            failed.append((path, str(error)))
    return loaded, failed
