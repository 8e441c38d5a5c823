"""FGSM (Goodfellow et al., 2015): one signed-gradient step of size ``eps``."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from iqa_core import Budget, Metric

from .base import WhiteBoxAttack, check_positive, project_linf
from .calibration_spec import CalibrationSpec
from .loss import Direction


class FGSM(WhiteBoxAttack):
    """Fast gradient sign method on the benchmark loss: ``x' = clip(x + eps * sign(grad L(x)))``."""

    name = "fgsm"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "weak": {"eps": 2 / 255},
        "medium": {"eps": 4 / 255},
        "strong": {"eps": 8 / 255},
    }
    default_preset = "medium"
    calibration = CalibrationSpec("eps", 1 / 255, 10 / 255, "linf", budget_param="eps")

    def __init__(self, eps: float = 4 / 255, direction: Direction = "up") -> None:
        super().__init__(Budget("linf", check_positive("eps", eps)), direction)
        self.eps = float(eps)

    def perturb(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        _, grad = self.loss_and_grad(metric, images)
        return project_linf(images + self.eps * grad.sign(), images, self.eps)
