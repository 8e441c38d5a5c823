"""Tiny, dependency-free components that follow the contracts: test doubles for every package.

They are real implementations (not mocks): differentiable where they say so, deterministic
under a generator, so tests of attacks, defences, certifiers and the benchmark can run in
milliseconds on the CPU.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..types import Bounds, Budget, Threat


class ToyMetric(nn.Module):
    """Sharpness-and-brightness score: ``100 * (0.5 * mean|Laplacian| * 4 + 0.5 * mean luminance)``.

    Differentiable and sensitive to high-frequency changes (as learned metrics are), so
    gradient attacks raise it and smoothing defences lower it.
    """

    name = "toy-metric"
    higher_is_better = True
    bounds = Bounds(0.0, 100.0)
    differentiable = True
    kernel: Tensor

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
        self.register_buffer("kernel", kernel.view(1, 1, 3, 3))
        self.scale = scale

    def forward(self, images: Tensor) -> Tensor:
        gray = images.mean(1, keepdim=True)
        lap = F.conv2d(gray, self.kernel.to(gray.dtype)).abs().flatten(1).mean(1)
        return self.scale * 100 * (0.5 * (lap * 4).clamp(max=1) + 0.5 * gray.flatten(1).mean(1))


class ToyLinearMetric(nn.Module):
    """``score = w . x + b`` with a fixed unit-norm ``w``: its Gaussian smoothing is known in closed form."""

    name = "toy-linear"
    higher_is_better = True
    differentiable = True
    weight: Tensor

    def __init__(self, shape: tuple[int, int, int] = (3, 8, 8), seed: int = 0, bias: float = 0.0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        w = torch.randn(shape, generator=g)
        self.register_buffer("weight", w / w.norm())
        self.bias = bias
        half = float(w.abs().sum() / w.norm())
        self.bounds = Bounds(bias - half, bias + half)

    def forward(self, images: Tensor) -> Tensor:
        return (images * self.weight).flatten(1).sum(1) + self.bias


class ToyBlurDefence(nn.Module):
    """3x3 box blur with reflect padding: deterministic and differentiable."""

    name = "toy-blur"
    differentiable = True
    randomized = False
    presets: ClassVar[dict[str, dict[str, Any]]] = {"k3": {"kernel": 3}, "k5": {"kernel": 5}}
    default_preset = "k3"

    def __init__(self, kernel: int = 3) -> None:
        super().__init__()
        self.kernel = kernel

    def forward(self, images: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        pad = self.kernel // 2
        padded = F.pad(images, (pad, pad, pad, pad), mode="reflect")
        return F.avg_pool2d(padded, self.kernel, stride=1)


class ToyQuantizeDefence(nn.Module):
    """Rounds to ``levels`` grey levels: deterministic, not differentiable (zero gradient)."""

    name = "toy-quantize"
    differentiable = False
    randomized = False

    def __init__(self, levels: int = 8) -> None:
        super().__init__()
        self.levels = levels

    def forward(self, images: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        return torch.round(images * (self.levels - 1)) / (self.levels - 1)


class ToyNoiseDefence(nn.Module):
    """Adds clipped Gaussian noise: randomized and differentiable."""

    name = "toy-noise"
    differentiable = True
    randomized = True

    def __init__(self, sigma: float = 0.05) -> None:
        super().__init__()
        self.sigma = sigma

    def forward(self, images: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        noise = torch.randn(
            images.shape, generator=generator, device=images.device if generator is None else generator.device
        )
        return (images + self.sigma * noise.to(images.device, images.dtype)).clamp(0, 1)


class ToySignAttack:
    """One signed-gradient step of size ``eps`` that raises the metric (FGSM without frills)."""

    name = "toy-sign"
    threat = Threat.WHITE_BOX
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "weak": {"eps": 2 / 255},
        "medium": {"eps": 4 / 255},
        "strong": {"eps": 8 / 255},
    }
    default_preset = "medium"

    def __init__(self, eps: float = 4 / 255) -> None:
        self.eps = eps
        self.budget = Budget("linf", eps)

    def __call__(self, metric: Any, images: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        x = images.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            score = metric(x)
            sign = 1.0 if metric.higher_is_better else -1.0
            (grad,) = torch.autograd.grad((sign * score).sum(), x)
        return (images + self.eps * grad.sign()).clamp(0, 1).detach()


class ToyDenoiser(nn.Module):
    """Box-blur "denoiser" whose strength grows with sigma."""

    name = "toy-denoiser"

    def forward(self, noisy: Tensor, sigma: float, *, generator: torch.Generator | None = None) -> Tensor:
        k = 3 if sigma < 0.2 else 5
        padded = F.pad(noisy, (k // 2,) * 4, mode="reflect")
        return F.avg_pool2d(padded, k, stride=1).clamp(0, 1)


def toy_images(n: int = 2, size: tuple[int, int] = (32, 48), seed: int = 0) -> Tensor:
    """Smooth random images (gradients + blobs) in [0, 1], deterministic."""
    g = torch.Generator().manual_seed(seed)
    h, w = size
    low = torch.rand(n, 3, max(2, h // 8), max(2, w // 8), generator=g)
    images = F.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)
    return (0.8 * images + 0.2 * torch.rand(n, 3, h, w, generator=g) * 0.25).clamp(0, 1)
