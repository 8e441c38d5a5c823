"""SSAH (Luo et al., 2022), adapted to IQA: a high-frequency perturbation via a low-frequency constraint.

SSAH optimises the perturbation with Adam under two terms: the attack term (here the benchmark
loss instead of the semantic-similarity loss of the classification setting) and a
low-frequency constraint ``lambda_lf * |LL(x') - LL(x)|^2``, with ``LL`` the low-low band of a
one-level Haar DWT, so that the change lives in high frequencies, where it is least visible.
Each Adam step is followed by the Linf projection onto ``eps`` and [0, 1] (the benchmark
restricts SSAH by Linf and varies its learning rate).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from iqa_core import Budget, Metric

from .base import WhiteBoxAttack, check_count, check_positive, optimiser_step, project_linf
from .calibration_spec import CalibrationSpec
from .loss import Direction, attack_loss


def haar_low(images: Tensor) -> Tensor:
    """Low-low band of a one-level orthonormal Haar DWT (odd sizes are edge-padded)."""
    h, w = images.shape[-2:]
    padded = F.pad(images, (0, w % 2, 0, h % 2), mode="replicate")
    return 2 * F.avg_pool2d(padded, 2)


class SSAH(WhiteBoxAttack):
    """Adam on the perturbation; loss ``-L(x') + lambda_lf * |LL(x') - LL(x)|^2``; Linf-projected."""

    name = "ssah"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "weak": {"eps": 2 / 255, "lr": 7.7e-4, "iterations": 10},
        "medium": {"eps": 4 / 255, "lr": 1.57e-3, "iterations": 10},
        "strong": {"eps": 8 / 255, "lr": 3.2e-3, "iterations": 10},
    }
    default_preset = "medium"
    calibration = CalibrationSpec(
        "lr", 2e-4, 4e-3, "linf", fixed={"eps": 10 / 255, "iterations": 10}, budget_param="eps"
    )

    def __init__(
        self,
        eps: float = 4 / 255,
        lr: float = 1.57e-3,
        iterations: int = 10,
        lambda_lf: float = 0.1,
        direction: Direction = "up",
    ) -> None:
        super().__init__(Budget("linf", check_positive("eps", eps)), direction)
        self.eps = float(eps)
        self.lr = check_positive("lr", lr)
        self.iterations = check_count("iterations", iterations)
        if lambda_lf < 0:
            raise ValueError(f"lambda_lf must be >= 0, got {lambda_lf}")
        self.lambda_lf = float(lambda_lf)

    def perturb(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        delta = torch.zeros_like(images, requires_grad=True)
        optimiser = torch.optim.Adam([delta], lr=self.lr)
        low = haar_low(images)
        with torch.enable_grad():
            for _ in range(self.iterations):
                adv = images + delta
                gain = attack_loss(metric, metric(adv), self.direction)
                constraint = (haar_low(adv) - low).pow(2).flatten(1).sum(1)
                loss = (-gain + self.lambda_lf * constraint).sum()
                optimiser_step(optimiser, loss)
                with torch.no_grad():
                    delta.copy_(project_linf(images + delta, images, self.eps) - images)
        return project_linf(images + delta.detach(), images, self.eps)
