"""Naturalness checks for AMI-FGSM: a registry metric (NIQE) or a built-in MSCN-statistics distance.

NIQE (Mittal et al., 2013) scores an image by the distance between a multivariate Gaussian fitted
to MSCN-based features of its patches and one fitted on pristine images; the pristine model is a
fitted parameter file of the official code, which this package does not ship. The built-in
:class:`MSCNNaturalness` keeps NIQE's features (MSCN coefficients and their pairwise products at
two scales, summarised by moments) but measures the distance to the *source image's own*
features: it answers "how much less natural did the attack make this image", which is what the
AMI-FGSM limit needs, without a pristine model. Pass ``naturalness="niqe"`` (iqa-metrics) for the
paper's measure.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from iqa_core import Metric


def _gaussian_kernel(size: int = 7, sigma: float = 7 / 6) -> Tensor:
    coords = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).view(1, 1, size, size)


def mscn(gray: Tensor, kernel: Tensor, c: float = 1 / 255) -> Tensor:
    """Mean-subtracted contrast-normalised coefficients of ``(N, 1, H, W)`` luminance in [0, 1]."""
    pad = kernel.shape[-1] // 2
    padded = F.pad(gray, (pad, pad, pad, pad), mode="replicate")
    mu = F.conv2d(padded, kernel)
    var = F.conv2d(padded * padded, kernel) - mu * mu
    return (gray - mu) / (var.clamp_min(0).sqrt() + c)


def _moments(values: Tensor) -> Tensor:
    flat = values.flatten(1)
    var = flat.var(1, unbiased=False)
    kurt = (flat - flat.mean(1, keepdim=True)).pow(4).mean(1) / var.clamp_min(1e-12).pow(2)
    return torch.stack([flat.mean(1), var, flat.abs().mean(1), kurt.log1p()], 1)


def mscn_features(images: Tensor) -> Tensor:
    """NIQE/BRISQUE-style features: moments of MSCN coefficients and of their 4 neighbour products, 2 scales."""
    kernel = _gaussian_kernel().to(images.device, images.dtype)
    gray = (0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2]).unsqueeze(1)
    feats = []
    for _ in range(2):
        m = mscn(gray, kernel)
        feats.append(_moments(m))
        for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
            shifted = torch.roll(m, shifts=(dy, dx), dims=(2, 3))
            feats.append(_moments((m * shifted)[..., 1:-1, 1:-1]))
        if min(gray.shape[-2:]) < 16:
            break
        gray = F.avg_pool2d(gray, 2)
    return torch.cat(feats, 1)


class MSCNNaturalness:
    """Per-image loss of naturalness: ``|features(x') - features(x)|_2`` over MSCN statistics (0 = unchanged)."""

    name = "mscn-naturalness"

    @torch.no_grad()
    def reference_state(self, reference: Tensor) -> Tensor:
        """What :meth:`degradation_from` needs of the references, computed once per attack."""
        return mscn_features(reference)

    @torch.no_grad()
    def degradation_from(self, state: Tensor, distorted: Tensor) -> Tensor:
        return (mscn_features(distorted) - state).norm(dim=1)

    def degradation(self, reference: Tensor, distorted: Tensor) -> Tensor:
        return self.degradation_from(self.reference_state(reference), distorted)


class MetricNaturalness:
    """Naturalness loss from an NR metric (NIQE, BRISQUE, ...): how much worse ``x'`` scores than ``x``."""

    def __init__(self, metric: Metric) -> None:
        self.metric = metric
        self.name = metric.name

    @torch.no_grad()
    def reference_state(self, reference: Tensor) -> Tensor:
        """The references' scores, computed once per attack."""
        return self.metric(reference)

    @torch.no_grad()
    def degradation_from(self, state: Tensor, distorted: Tensor) -> Tensor:
        worse = -1.0 if self.metric.higher_is_better else 1.0
        return worse * (self.metric(distorted) - state.to(distorted.device))

    def degradation(self, reference: Tensor, distorted: Tensor) -> Tensor:
        return self.degradation_from(self.reference_state(reference), distorted)
