"""Early, explicit checks of the tensor contract, with errors that say how to fix the input."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch
from torch import Tensor

_STATE = threading.local()


@contextmanager
def noisy_inputs() -> Iterator[None]:
    """Inside this block, image checks accept finite values outside [0, 1].

    Randomized smoothing scores Gaussian-noise samples ``x + N(0, sigma^2)`` that are not clipped
    (the benchmark's unclipped variants); the certifier opens this block around those calls, so
    every other caller keeps the strict [0, 1] check. NaN and infinities are refused even here.
    """
    previous = getattr(_STATE, "noisy", False)
    _STATE.noisy = True
    try:
        yield
    finally:
        _STATE.noisy = previous


class ImageContractError(ValueError):
    """An image batch does not follow the (N, 3, H, W) float RGB [0, 1] contract."""


def check_images(images: object, *, what: str = "images", check_range: bool | Literal["finite"] = True) -> Tensor:
    """Return ``images`` unchanged if it is a valid batch, else raise :class:`ImageContractError`.

    ``check_range=True`` (default): finite values in [0, 1] (within :func:`noisy_inputs`, finite
    only). ``"finite"``: finite values of any range (denoisers, which take noisy images).
    ``False``: shape and dtype only, for inner loops whose values were checked at the boundary.
    The value check costs one min/max reduction over the batch.
    """
    if not isinstance(images, Tensor):
        raise ImageContractError(
            f"{what} must be a torch.Tensor of shape (N, 3, H, W), got {type(images).__name__}; "
            "convert with torchvision.transforms.functional.to_tensor or iqa_core.io helpers"
        )
    if images.ndim == 3 and images.shape[0] == 3:
        raise ImageContractError(
            f"{what} has shape {tuple(images.shape)}: a single image needs a batch axis; use images.unsqueeze(0)"
        )
    if images.ndim != 4 or images.shape[1] != 3:
        hint = ""
        if images.ndim == 4 and images.shape[-1] == 3:
            hint = "; it looks channels-last (N, H, W, 3): use images.permute(0, 3, 1, 2)"
        elif images.ndim == 4 and images.shape[1] in (1, 4):
            hint = "; convert grayscale with images.expand(-1, 3, -1, -1) or drop alpha with images[:, :3]"
        raise ImageContractError(f"{what} must have shape (N, 3, H, W), got {tuple(images.shape)}{hint}")
    if not images.is_floating_point():
        raise ImageContractError(
            f"{what} must be a float tensor in [0, 1], got dtype {images.dtype}; "
            "for uint8 images use images.float() / 255"
        )
    if images.shape[0] == 0:
        raise ImageContractError(f"{what} is an empty batch (N = 0)")
    if check_range:
        with torch.no_grad():
            low, high = torch.aminmax(images.detach())
            lo, hi = float(low), float(high)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            bad = int((~torch.isfinite(images.detach())).sum())
            raise ImageContractError(
                f"{what} contains {bad} NaN or infinite value(s); images must be finite values in [0, 1] "
                "(check the decoding or the previous processing step)"
            )
        if check_range == "finite" or getattr(_STATE, "noisy", False):
            return images
        if not (lo >= -1e-6 and hi <= 1 + 1e-6):
            hint = " (it looks like 0-255 values: divide by 255)" if hi > 1.5 else ""
            raise ImageContractError(f"{what} must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}]{hint}")
    return images
