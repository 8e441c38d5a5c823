"""Small full-reference measures every package needs to hold or report a budget.

Pure torch, differentiable, batched: ``(N,3,H,W) x (N,3,H,W) -> (N,)``. Richer measures
(LPIPS, DISTS) live in iqa-metrics and are reached through the registry.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def _check_pair(reference: Tensor, distorted: Tensor) -> None:
    if reference.shape != distorted.shape:
        raise ValueError(
            f"reference and distorted images must have the same shape, got {tuple(reference.shape)} "
            f"and {tuple(distorted.shape)}"
        )
    if reference.ndim != 4:
        raise ValueError(f"expected (N, C, H, W) batches, got shape {tuple(reference.shape)}")


def mse(reference: Tensor, distorted: Tensor) -> Tensor:
    """Mean squared error per image (images in [0, 1])."""
    _check_pair(reference, distorted)
    return (reference - distorted).pow(2).flatten(1).mean(1)


def psnr(reference: Tensor, distorted: Tensor, *, data_range: float = 1.0, max_db: float = 100.0) -> Tensor:
    """PSNR in dB per image; identical images give ``max_db`` instead of infinity."""
    err = mse(reference, distorted)
    value = 10 * torch.log10(data_range**2 / err.clamp_min(1e-20))
    return value.clamp(max=max_db)


def linf(reference: Tensor, distorted: Tensor) -> Tensor:
    """Largest absolute pixel change per image."""
    _check_pair(reference, distorted)
    return (reference - distorted).abs().flatten(1).amax(1)


def l2(reference: Tensor, distorted: Tensor) -> Tensor:
    """Euclidean norm of the change per image."""
    _check_pair(reference, distorted)
    return (reference - distorted).flatten(1).norm(dim=1)


def l0(reference: Tensor, distorted: Tensor, *, tol: float = 1e-6) -> Tensor:
    """Number of pixels (spatial positions) where any channel changed by more than ``tol``."""
    _check_pair(reference, distorted)
    return ((reference - distorted).abs().amax(1) > tol).flatten(1).sum(1).to(reference.dtype)


def _gaussian_window(size: int, sigma: float, device: torch.device, dtype: torch.dtype) -> Tensor:
    coords = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(
    reference: Tensor,
    distorted: Tensor,
    *,
    data_range: float = 1.0,
    window: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> Tensor:
    """SSIM (Wang et al., 2004) per image: 11x11 Gaussian window, sigma 1.5, no padding.

    Computed on each RGB channel and averaged over channels and positions. Images smaller than
    the window use a window of their smaller side.
    """
    _check_pair(reference, distorted)
    _, c, h, w = reference.shape
    size = min(window, h, w)
    g = _gaussian_window(size, sigma, reference.device, reference.dtype)
    kernel_h = g.view(1, 1, size, 1).expand(c, 1, size, 1)
    kernel_w = g.view(1, 1, 1, size).expand(c, 1, 1, size)

    def blur(x: Tensor) -> Tensor:
        return F.conv2d(F.conv2d(x, kernel_h, groups=c), kernel_w, groups=c)

    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    mu_x, mu_y = blur(reference), blur(distorted)
    sxx = blur(reference * reference) - mu_x**2
    syy = blur(distorted * distorted) - mu_y**2
    sxy = blur(reference * distorted) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * sxy + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2)
    return (num / den).flatten(1).mean(1)


def budget_value(kind: str, reference: Tensor, distorted: Tensor) -> Tensor:
    """The restriction measure of a budget kind, per image (see :class:`iqa_core.Budget`)."""
    if kind == "linf":
        return linf(reference, distorted)
    if kind == "l2":
        return l2(reference, distorted)
    if kind == "l0":
        return l0(reference, distorted)
    if kind == "psnr":
        return psnr(reference, distorted)
    if kind == "ssim":
        return ssim(reference, distorted)
    raise ValueError(f"budget kind {kind!r} has no measure")


def within_budget(kind: str, value: float, reference: Tensor, distorted: Tensor, *, tol: float = 1e-5) -> Tensor:
    """Per-image bool: does ``distorted`` keep to the budget ``(kind, value)`` around ``reference``?"""
    if kind == "unrestricted":
        return torch.ones(reference.shape[0], dtype=torch.bool, device=reference.device)
    measured = budget_value(kind, reference, distorted)
    if kind in ("psnr", "ssim"):  # minimum quality
        return measured >= value - tol * max(1.0, abs(value))
    if math.isinf(value):
        return torch.ones_like(measured, dtype=torch.bool)
    return measured <= value + tol * max(1.0, abs(value))
