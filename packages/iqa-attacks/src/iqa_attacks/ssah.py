"""SSAH (Luo et al., 2022), adapted to IQA: a high-frequency perturbation via a low-frequency constraint.

As the benchmark's reference code (``metrics/methods/ssah/run.py``): Adam (lr, the preset
parameter; 10 iterations) on the image under two terms: the attack term (the benchmark loss
instead of the semantic-similarity loss of the classification setting) and a low-frequency
constraint ``lambda_lf * SmoothL1_sum(low(x'), low(x))`` (``lambda_lf = 0.1``), with ``low`` the
one-level Haar DWT's low-low band transformed back (``IDWT(DWT_LL)``: each 2x2 block replaced by
its mean; odd sizes zero-padded, as the reference), so that the change lives in high frequencies.
Each Adam step is followed by the Linf projection onto ``eps`` and [0, 1]; the reference only
clips to [0, 1] and picks lr so that the Linf is 2 / 4 / 8 per 255, the presets' ``eps`` (at the
preset lr, 10 Adam steps of about lr stay within it).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from iqa_core import Budget, Metric

from .base import WhiteBoxAttack, check_count, check_positive, optimiser_step, project_linf
from .calibration_spec import CalibrationSpec
from .loss import Direction, attack_loss


def _haar_analysis(n: int, like: Tensor) -> Tensor:
    """``(n/2, n)`` Haar low-pass analysis matrix: ``1/sqrt(2)`` on each pair of columns."""
    matrix = torch.zeros(n // 2, n, dtype=like.dtype, device=like.device)
    rows = torch.arange(n // 2, device=like.device)
    matrix[rows, 2 * rows] = 1 / math.sqrt(2)
    matrix[rows, 2 * rows + 1] = 1 / math.sqrt(2)
    return matrix


def haar_low(images: Tensor) -> Tensor:
    """Low-pass of a one-level Haar DWT, transformed back (``L^T L x L^T L``): 2x2 block means.

    Computed with the analysis matrices in the images' dtype, as the reference does (its results
    depend on that rounding where the metric's gradient and the constraint's nearly cancel); odd
    sizes are zero-padded and cropped back, as in the reference.
    """
    h, w = images.shape[-2:]
    padded = F.pad(images, (0, w % 2, 0, h % 2))
    rows, cols = _haar_analysis(padded.shape[-2], padded), _haar_analysis(padded.shape[-1], padded)
    low = rows.t() @ ((rows @ padded @ cols.t()) @ cols)
    return low[..., :h, :w]


class SSAH(WhiteBoxAttack):
    """Adam on the image; loss ``-L(x') + lambda_lf * SmoothL1_sum(low(x'), low(x))``; Linf-projected."""

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
                constraint = F.smooth_l1_loss(haar_low(adv), low, reduction="none").flatten(1).sum(1)
                loss = (-gain + self.lambda_lf * constraint).sum()
                optimiser_step(optimiser, loss)
                with torch.no_grad():
                    delta.copy_(project_linf(images + delta, images, self.eps) - images)
        return project_linf(images + delta.detach(), images, self.eps)
