"""KADID-10k-style graded distortions for the offline demo dataset.

Every distortion maps a batch ``(N, 3, H, W)`` float32 RGB in ``[0, 1]`` and a level in 1..5
(1 = mildest) to a batch of the same shape, clamped to ``[0, 1]``. They are written in torch;
PIL is used only for the JPEG codec. Randomness (white noise) comes from an explicit
``torch.Generator``; nothing touches the global RNG.

The parameter of each level is in :data:`LEVEL_PARAMETERS` (pixel units refer to the image as
given, so a blur of sigma 2 is stronger on a small image than on a large one).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)

#: The parameter that each level sets, per distortion (index 0 = level 1).
LEVEL_PARAMETERS: dict[str, tuple[float, ...]] = {
    "gaussian_blur": (0.6, 1.0, 1.6, 2.4, 3.6),  # sigma in pixels
    "white_noise": (0.02, 0.04, 0.06, 0.09, 0.13),  # noise std, images in [0, 1]
    "jpeg": (45, 30, 18, 10, 5),  # JPEG quality (PIL, 4:2:0 chroma subsampling)
    "contrast_decrease": (0.75, 0.6, 0.45, 0.32, 0.2),  # factor on the deviation from the mean grey
    "saturation_decrease": (0.6, 0.4, 0.2, 0.1, 0.0),  # factor on the deviation from the luma
    "pixelate": (2, 3, 4, 6, 8),  # block size in pixels
    "brighten": (1.25, 1.5, 1.8, 2.2, 2.7),  # gamma: x -> x ** (1 / gamma)
    "darken": (1.25, 1.5, 1.8, 2.2, 2.7),  # gamma: x -> x ** gamma
}

#: Rec. 601 luma weights, used for the mean grey and for desaturation.
_LUMA = (0.299, 0.587, 0.114)


def _parameter(distortion: str, level: int) -> float:
    if level not in LEVELS:
        raise ValueError(f"distortion level must be one of {LEVELS} (1 = mildest), got {level!r}")
    return LEVEL_PARAMETERS[distortion][level - 1]


def _luma(images: Tensor) -> Tensor:
    weights = torch.tensor(_LUMA, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images * weights).sum(1, keepdim=True)


def gaussian_blur(images: Tensor, level: int, *, generator: torch.Generator | None = None) -> Tensor:
    """Separable Gaussian blur, kernel radius ``ceil(3 sigma)``, reflect padding."""
    sigma = _parameter("gaussian_blur", level)
    radius = max(1, math.ceil(3 * sigma))
    radius = min(radius, images.shape[-2] - 1, images.shape[-1] - 1)
    coords = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-(coords**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    c = images.shape[1]
    padded = F.pad(images, (radius, radius, radius, radius), mode="reflect")
    out = F.conv2d(padded, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    out = F.conv2d(out, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return out.clamp(0, 1)


def white_noise(images: Tensor, level: int, *, generator: torch.Generator | None = None) -> Tensor:
    """Additive white Gaussian noise, independent per pixel and channel, then clamped.

    ``generator`` fixes the draw; without one a fresh generator seeded with 0 is used, so the
    result is still deterministic.
    """
    std = _parameter("white_noise", level)
    if generator is None:
        generator = torch.Generator(device=images.device).manual_seed(0)
    noise = torch.randn(images.shape, generator=generator, dtype=images.dtype, device=images.device)
    return (images + std * noise).clamp(0, 1)


def jpeg(images: Tensor, level: int, *, generator: torch.Generator | None = None) -> Tensor:
    """JPEG compression round trip through PIL (baseline, 4:2:0, no optimisation)."""
    from PIL import Image

    quality = int(_parameter("jpeg", level))
    arrays = (images.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    decoded = []
    for array in arrays:
        buffer = io.BytesIO()
        Image.fromarray(array, mode="RGB").save(buffer, format="JPEG", quality=quality, subsampling=2)
        buffer.seek(0)
        with Image.open(buffer) as compressed:
            decoded.append(np.asarray(compressed.convert("RGB"), dtype=np.uint8))
    out = torch.from_numpy(np.stack(decoded)).permute(0, 3, 1, 2).to(images.device, images.dtype) / 255
    return out


def contrast_decrease(images: Tensor, level: int, *, generator: torch.Generator | None = None) -> Tensor:
    """Blend towards the image's mean grey (mean luma): ``m + a (x - m)`` with ``a < 1``."""
    factor = _parameter("contrast_decrease", level)
    mean = _luma(images).mean(dim=(1, 2, 3), keepdim=True)
    return (mean + factor * (images - mean)).clamp(0, 1)


def saturation_decrease(images: Tensor, level: int, *, generator: torch.Generator | None = None) -> Tensor:
    """Blend each pixel towards its luma: ``y + s (x - y)``; level 5 gives a grey image."""
    factor = _parameter("saturation_decrease", level)
    luma = _luma(images)
    return (luma + factor * (images - luma)).clamp(0, 1)


def pixelate(images: Tensor, level: int, *, generator: torch.Generator | None = None) -> Tensor:
    """Average over blocks of ``b x b`` pixels (grid anchored at the top-left corner), nearest upsampling."""
    block = int(_parameter("pixelate", level))
    h, w = images.shape[-2:]
    small = F.adaptive_avg_pool2d(images, (math.ceil(h / block), math.ceil(w / block)))
    return F.interpolate(small, size=(h, w), mode="nearest").clamp(0, 1)


def brighten(images: Tensor, level: int, *, generator: torch.Generator | None = None) -> Tensor:
    """Gamma curve ``x ** (1 / g)``, ``g > 1``: lifts dark and mid tones, keeps 0 and 1."""
    gamma = _parameter("brighten", level)
    return images.clamp(0, 1).pow(1 / gamma)


def darken(images: Tensor, level: int, *, generator: torch.Generator | None = None) -> Tensor:
    """Gamma curve ``x ** g``, ``g > 1``: lowers dark and mid tones, keeps 0 and 1."""
    gamma = _parameter("darken", level)
    return images.clamp(0, 1).pow(gamma)


Distortion = Callable[..., Tensor]

#: Registry of the demo distortions by name (the order is the order of the full dataset).
DISTORTIONS: dict[str, Distortion] = {
    "gaussian_blur": gaussian_blur,
    "white_noise": white_noise,
    "jpeg": jpeg,
    "contrast_decrease": contrast_decrease,
    "saturation_decrease": saturation_decrease,
    "pixelate": pixelate,
    "brighten": brighten,
    "darken": darken,
}


def distort(images: Tensor, distortion: str, level: int, *, generator: torch.Generator | None = None) -> Tensor:
    """Apply the named distortion at ``level`` (1..5) to an ``(N, 3, H, W)`` batch."""
    if distortion not in DISTORTIONS:
        raise ValueError(f"unknown demo distortion {distortion!r}; use one of {', '.join(DISTORTIONS)}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected an (N, 3, H, W) batch, got shape {tuple(images.shape)}")
    return DISTORTIONS[distortion](images, level, generator=generator)
