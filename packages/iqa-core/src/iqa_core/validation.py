"""Early, explicit checks of the tensor contract, with errors that say how to fix the input."""

from __future__ import annotations

import torch
from torch import Tensor


class ImageContractError(ValueError):
    """An image batch does not follow the (N, 3, H, W) float RGB [0, 1] contract."""


def check_images(images: object, *, what: str = "images", check_range: bool = True) -> Tensor:
    """Return ``images`` unchanged if it is a valid batch, else raise :class:`ImageContractError`.

    The range check costs one reduction over the batch; pass ``check_range=False`` on hot paths
    where the values are known to be valid.
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
            lo, hi = float(images.min()), float(images.max())
        if not (lo >= -1e-6 and hi <= 1 + 1e-6):
            hint = " (it looks like 0-255 values: divide by 255)" if hi > 1.5 else ""
            raise ImageContractError(f"{what} must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}]{hint}")
    return images
