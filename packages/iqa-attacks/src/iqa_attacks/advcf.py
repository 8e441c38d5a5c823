"""AdvCF (Zhao et al., 2022): an adversarial colour filter, optimised as a per-channel tone curve.

The filter is a piecewise-linear, monotone curve per colour channel with ``pieces`` segments
(the curves of photo editors), parameterised by positive segment slopes ``theta`` (softplus of
free parameters), normalised so the curve maps [0, 1] onto [0, 1]; it starts at the identity and
is optimised per image with Adam on the benchmark loss. Only colours change, pixel by pixel, so
the perturbation is large in Lp terms but looks like a photo filter: the attack is unrestricted
(benchmark Table 7). Presets vary the learning rate (weak -> strong).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from iqa_core import Budget, Metric

from .base import WhiteBoxAttack, check_count, check_positive, optimiser_step
from .calibration_spec import CalibrationSpec
from .loss import Direction, attack_loss


def apply_curves(images: Tensor, raw: Tensor) -> Tensor:
    """Apply per-image, per-channel monotone piecewise-linear curves ``(N, 3, K)`` (free parameters)."""
    slopes = F.softplus(raw)
    knots = torch.cat([torch.zeros_like(slopes[..., :1]), slopes.cumsum(-1)], -1)
    knots = knots / knots[..., -1:].clamp_min(1e-12)  # (N, 3, K+1), from 0 to 1
    k = raw.shape[-1]
    pos = images.clamp(0, 1) * k
    idx = pos.floor().clamp(max=k - 1)
    frac = pos - idx
    flat_knots = knots.unsqueeze(-2)  # (N, 3, 1, K+1)
    idx_l = idx.long().flatten(2)
    left = torch.gather(flat_knots.squeeze(-2), 2, idx_l).view_as(images)
    right = torch.gather(flat_knots.squeeze(-2), 2, idx_l + 1).view_as(images)
    return (left + frac * (right - left)).clamp(0, 1)


class AdvCF(WhiteBoxAttack):
    """Adversarial colour filter (see the module docstring)."""

    name = "advcf"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "weak": {"lr": 0.01, "iterations": 20},
        "medium": {"lr": 0.02, "iterations": 20},
        "strong": {"lr": 0.05, "iterations": 20},
    }
    default_preset = "medium"
    calibration = CalibrationSpec("lr", 0.002, 0.1, "ssim", fixed={"iterations": 20})

    def __init__(self, lr: float = 0.02, iterations: int = 20, pieces: int = 64, direction: Direction = "up") -> None:
        super().__init__(Budget("unrestricted", math.inf), direction)
        self.lr = check_positive("lr", lr)
        self.iterations = check_count("iterations", iterations)
        self.pieces = check_count("pieces", pieces, 2)

    def perturb(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        n = images.shape[0]
        identity = math.log(math.e - 1)  # softplus^-1(1): equal slopes = identity curve
        raw = torch.full((n, 3, self.pieces), identity, device=images.device, requires_grad=True)
        optimiser = torch.optim.Adam([raw], lr=self.lr)
        with torch.enable_grad():
            for _ in range(self.iterations):
                loss = -attack_loss(metric, metric(apply_curves(images, raw)), self.direction).sum()
                optimiser_step(optimiser, loss)
        with torch.no_grad():
            return apply_curves(images, raw)
