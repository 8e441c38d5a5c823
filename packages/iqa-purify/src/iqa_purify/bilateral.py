"""Bilateral filter (edge-preserving smoothing), as in Korhonen & You (2022) and the purification paper."""

from __future__ import annotations

import torch
from torch import Tensor

from ._common import check_odd_kernel
from .base import PurificationDefence


class Bilateral(PurificationDefence):
    """Bilateral filter: ``kernel_size`` 9, ``sigma_color`` 75/255, ``sigma_space`` 75 (no presets).

    The papers give no parameters; these are the values of OpenCV's canonical call
    ``cv2.bilateralFilter(img, 9, 75, 75)`` on 8-bit images, rescaled to [0, 1] for the range
    sigma. kornia's ``bilateral_blur`` with the L1 colour distance (OpenCV's for colour images)
    and reflect-101 borders; unlike OpenCV the spatial window is the full square, not the
    inscribed disc. Differentiable (the range weights depend on the image and carry gradient).
    """

    name = "bilateral"
    differentiable = True
    randomized = False

    def __init__(self, kernel_size: int = 9, sigma_color: float = 75 / 255, sigma_space: float = 75.0) -> None:
        super().__init__()
        self.kernel_size = check_odd_kernel(kernel_size, "bilateral")
        if sigma_color <= 0 or sigma_space <= 0:
            raise ValueError(f"sigmas must be > 0, got sigma_color={sigma_color}, sigma_space={sigma_space}")
        self.sigma_color = float(sigma_color)
        self.sigma_space = float(sigma_space)

    def purify(self, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        from kornia.filters import bilateral_blur

        k = self.kernel_size
        out = bilateral_blur(
            images,
            (k, k),
            self.sigma_color,
            (self.sigma_space, self.sigma_space),
            border_type="reflect",
            color_distance_type="l1",
        )
        return out.clamp(0, 1)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, sigma_color={self.sigma_color:.4g}, sigma_space={self.sigma_space:g}"
