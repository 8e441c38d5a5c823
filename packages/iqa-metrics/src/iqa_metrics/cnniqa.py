"""CNNIQA: the patch-based NR-IQA network of Kang et al. (CVPR 2014), written from the paper.

The network scores each 32x32 patch: (optional) local contrast normalisation, one 7x7
convolution with 50 filters, a global max and a global min over each feature map (100
values), two fully connected layers of 800 units with ReLU and dropout, one linear output.
The image score is the mean of its patch scores.

Differences from the paper, on purpose:

- the input is RGB (3 channels); the paper used grayscale patches;
- patches tile the image without overlap; the remainder (``H mod 32`` rows, ``W mod 32``
  columns) is cropped evenly from both sides (centre crop), so the score is deterministic;
- local contrast normalisation is applied to the whole centre crop (reflect padding at its
  border) rather than to each patch, and can be switched off (``normalize=False``), in which
  case the input is only centred as ``(x - 0.5) / 0.25``.

Everything is vectorised over the batch and the patches, and differentiable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

PATCH_SIZE = 32


def local_contrast_normalize(images: Tensor, *, radius: int = 3, c: float = 1 / 255) -> Tensor:
    """``(x - mu) / (sigma + c)`` per channel, mu and sigma over a ``(2 radius + 1)^2`` window.

    The paper's local normalisation (window P = Q = 3); ``c`` (one grey level for images in
    [0, 1]) keeps flat regions finite. Reflect padding keeps the shape.
    """
    size = 2 * radius + 1
    padded = F.pad(images, (radius, radius, radius, radius), mode="reflect")
    mean = F.avg_pool2d(padded, size, stride=1)
    mean_sq = F.avg_pool2d(padded * padded, size, stride=1)
    sigma = (mean_sq - mean * mean).clamp_min(0).add(1e-8).sqrt()
    return (images - mean) / (sigma + c)


def centre_crop_to_patches(images: Tensor, patch: int = PATCH_SIZE) -> Tensor:
    """Largest centred crop whose sides are multiples of ``patch``; raises if a side is shorter."""
    h, w = images.shape[-2:]
    if h < patch or w < patch:
        raise ValueError(f"CNNIQA needs images of at least {patch}x{patch} pixels, got {h}x{w}")
    ch, cw = (h // patch) * patch, (w // patch) * patch
    top, left = (h - ch) // 2, (w - cw) // 2
    return images[..., top : top + ch, left : left + cw]


def to_patches(images: Tensor, patch: int = PATCH_SIZE) -> Tensor:
    """``(N, C, h*p, w*p)`` -> ``(N, h*w, C, p, p)`` non-overlapping patches, row-major order."""
    n, c, height, width = images.shape
    h, w = height // patch, width // patch
    tiles = images.reshape(n, c, h, patch, w, patch).permute(0, 2, 4, 1, 3, 5)
    return tiles.reshape(n, h * w, c, patch, patch)


class CNNIQA(nn.Module):
    """Kang et al. (2014) CNN for NR-IQA, RGB variant (see the module docstring).

    Module names (``conv``, ``fc1``, ``fc2``, ``fc3``) are part of the weights format; do not
    rename them.
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        kernels: int = 50,
        kernel_size: int = 7,
        hidden: int = 800,
        dropout: float = 0.5,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        self.normalize = normalize
        self.conv = nn.Conv2d(in_channels, kernels, kernel_size)
        self.fc1 = nn.Linear(2 * kernels, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, 1)
        self.dropout = nn.Dropout(dropout)

    def prepare(self, images: Tensor) -> Tensor:
        """Centre crop to whole patches, then normalise (LCN or centring)."""
        images = centre_crop_to_patches(images)
        if self.normalize:
            return local_contrast_normalize(images)
        return (images - 0.5) / 0.25

    def score_patches(self, patches: Tensor) -> Tensor:
        """``(B, C, 32, 32)`` prepared patches -> ``(B,)`` patch scores."""
        features = self.conv(patches).flatten(2)
        # max/min with indices: their backward scatters into one position, much faster than amax/amin's
        pooled = torch.cat([features.max(dim=2).values, features.min(dim=2).values], dim=1)
        hidden = self.dropout(F.relu(self.fc1(pooled)))
        hidden = self.dropout(F.relu(self.fc2(hidden)))
        return self.fc3(hidden).squeeze(1)

    def patch_scores(self, images: Tensor) -> Tensor:
        """``(N, C, H, W)`` images -> ``(N, P)`` scores of their ``P`` patches (row-major)."""
        patches = to_patches(self.prepare(images))
        n, p = patches.shape[:2]
        return self.score_patches(patches.flatten(0, 1)).view(n, p)

    def forward(self, images: Tensor) -> Tensor:
        """``(N, C, H, W)`` -> ``(N,)``: the mean of the patch scores."""
        return self.patch_scores(images).mean(dim=1)
