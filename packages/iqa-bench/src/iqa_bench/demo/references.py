"""Reference photos of the demo: images that ship inside scikit-image, cropped and resized.

Each reference is a named view of a ``skimage.data`` image: an optional box (fractions of the
source image: top, left, height, width), then the largest centred crop with the aspect ratio
of the target size, then an antialiased bilinear resize to the target size, then rounding to
8-bit levels (so that PNG export is lossless). Grayscale sources are replicated to 3 channels.

The references are split once into :data:`DEMO_REFERENCES` (the held-out demo dataset) and
:data:`TRAIN_REFERENCES` (for training the demo metric); the two share no source image.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

#: Default (height, width) of demo images: small enough for CPU quickstarts.
DEFAULT_SIZE: tuple[int, int] = (128, 160)


@dataclass(frozen=True)
class ReferenceSpec:
    """A reference view: ``skimage.data.<source>()`` restricted to ``box`` (fractions)."""

    name: str
    source: str
    box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)


_FULL = (0.0, 0.0, 1.0, 1.0)
_TL, _TR = (0.0, 0.0, 0.5, 0.5), (0.0, 0.5, 0.5, 0.5)
_BL, _BR = (0.5, 0.0, 0.5, 0.5), (0.5, 0.5, 0.5, 0.5)
_CENTRE = (0.25, 0.25, 0.5, 0.5)

_SPECS: tuple[ReferenceSpec, ...] = (
    # held-out demo references: colour photos (retina and rocket ship as JPEG files)
    ReferenceSpec("astronaut", "astronaut"),
    ReferenceSpec("chelsea", "chelsea"),
    ReferenceSpec("coffee", "coffee"),
    ReferenceSpec("rocket", "rocket"),
    ReferenceSpec("retina", "retina"),
    ReferenceSpec("immunohistochemistry", "immunohistochemistry"),
    # training references: other sources, whole images and zoomed crops
    ReferenceSpec("motorcycle_left", "stereo_motorcycle"),
    ReferenceSpec("motorcycle_left_tl", "stereo_motorcycle", _TL),
    ReferenceSpec("motorcycle_left_br", "stereo_motorcycle", _BR),
    ReferenceSpec("motorcycle_right_tr", "motorcycle_right", _TR),
    ReferenceSpec("motorcycle_right_bl", "motorcycle_right", _BL),
    ReferenceSpec("motorcycle_right_centre", "motorcycle_right", _CENTRE),
    ReferenceSpec("colorwheel", "colorwheel"),
    ReferenceSpec("logo", "logo"),
    ReferenceSpec("logo_centre", "logo", _CENTRE),
    ReferenceSpec("camera", "camera"),
    ReferenceSpec("camera_tl", "camera", _TL),
    ReferenceSpec("brick", "brick"),
    ReferenceSpec("brick_br", "brick", _BR),
    ReferenceSpec("grass", "grass"),
    ReferenceSpec("grass_tl", "grass", _TL),
    ReferenceSpec("gravel", "gravel"),
    ReferenceSpec("gravel_br", "gravel", _BR),
    ReferenceSpec("coins", "coins"),
    ReferenceSpec("page", "page"),
    ReferenceSpec("text", "text"),
    ReferenceSpec("moon", "moon"),
    # in neither split: a star field looks like noise to a patch-based metric
    ReferenceSpec("hubble_deep_field", "hubble_deep_field"),
)

REFERENCES: dict[str, ReferenceSpec] = {spec.name: spec for spec in _SPECS}

#: Held-out references: the demo dataset (colour photos).
DEMO_REFERENCES: tuple[str, ...] = ("astronaut", "chelsea", "coffee", "rocket", "retina", "immunohistochemistry")

#: Training references of the demo metric: no source image in common with the demo references.
TRAIN_REFERENCES: tuple[str, ...] = tuple(
    name for name in REFERENCES if name not in DEMO_REFERENCES and name != "hubble_deep_field"
)

#: Training references whose source is grayscale (replicated to 3 channels).
GRAYSCALE_SOURCES: frozenset[str] = frozenset({"camera", "brick", "grass", "gravel", "coins", "page", "text", "moon"})


@functools.lru_cache(maxsize=16)
def _load_source_cached(source: str) -> np.ndarray:
    from skimage import data

    if source in ("stereo_motorcycle", "motorcycle_right"):
        left, right, _ = data.stereo_motorcycle()
        array = left if source == "stereo_motorcycle" else right
    else:
        array = getattr(data, source)()
    array = np.asarray(array)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    array = np.ascontiguousarray(array[..., :3]).astype(np.uint8)  # logo is RGBA with opaque alpha
    array.setflags(write=False)
    return array


def load_source(source: str) -> np.ndarray:
    """``(H, W, 3)`` uint8 array (read-only) of a scikit-image sample; all of them ship inside the wheel.

    ``source`` is a ``skimage.data`` function name, or ``"motorcycle_right"`` for the right view
    of ``stereo_motorcycle`` (``"stereo_motorcycle"`` is the left view).
    """
    return _load_source_cached(source)


def _crop_box(array: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    h, w = array.shape[:2]
    top, left, height, width = box
    r0, c0 = round(top * h), round(left * w)
    return array[r0 : r0 + round(height * h), c0 : c0 + round(width * w)]


def _centre_crop_to_aspect(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = array.shape[:2]
    target = size[0] / size[1]
    if h / w > target:  # too tall
        new_h = round(w * target)
        top = (h - new_h) // 2
        return array[top : top + new_h]
    new_w = round(h / target)
    left = (w - new_w) // 2
    return array[:, left : left + new_w]


@functools.lru_cache(maxsize=128)
def _reference_cached(name: str, size: tuple[int, int]) -> Tensor:
    spec = REFERENCES[name]
    array = _centre_crop_to_aspect(_crop_box(load_source(spec.source), spec.box), size)
    image = torch.from_numpy(np.array(array, copy=True)).permute(2, 0, 1).float().unsqueeze(0) / 255
    if tuple(image.shape[-2:]) != size:
        image = F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False)
    return quantise(image[0])


def quantise(images: Tensor) -> Tensor:
    """Round to the 8-bit levels ``k / 255`` (clamped to [0, 1]), as a PNG file would store them."""
    return (images.clamp(0, 1) * 255).round() / 255


def check_size(size: tuple[int, int]) -> tuple[int, int]:
    size = (int(size[0]), int(size[1]))
    if min(size) < 32:
        raise ValueError(f"demo image size must be at least 32x32 (height, width), got {size}")
    return size


def load_reference(name: str, size: tuple[int, int] = DEFAULT_SIZE) -> Tensor:
    """The reference ``name`` as a ``(3, H, W)`` float32 tensor in [0, 1] on 8-bit levels."""
    if name not in REFERENCES:
        raise ValueError(f"unknown demo reference {name!r}; choose from {', '.join(REFERENCES)}")
    return _reference_cached(name, check_size(size)).clone()


def is_grayscale(name: str) -> bool:
    """Whether the reference comes from a grayscale source (its three channels are equal)."""
    return REFERENCES[name].source in GRAYSCALE_SOURCES
