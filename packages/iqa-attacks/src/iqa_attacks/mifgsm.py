"""MI-FGSM (Dong et al., 2018): I-FGSM with a momentum of gradients.

The benchmark's reference code (MSU_Metrics_Robustness_Benchmark ``methods/mifgsm/run.py``)
accumulates the raw gradients, ``g <- mu * g + grad``, where Dong et al. accumulate L1-normalised
ones: the default follows the reference (``normalise=False``); ``normalise=True`` gives the
paper's variant. The sign of the momentum differs between the two where the gradient's
magnitude changes between iterations.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from iqa_core import Budget, Metric

from .base import WhiteBoxAttack, check_count, check_positive, per_image, project_linf
from .calibration_spec import CalibrationSpec
from .loss import Direction


def l1_normalise(grad: Tensor) -> Tensor:
    """``grad / mean|grad|`` per image (Dong et al. divide by the L1 norm; the mean only rescales mu)."""
    return grad / per_image(grad.abs().flatten(1).mean(1).clamp_min(1e-12), grad)


class MIFGSM(WhiteBoxAttack):
    """Momentum iterative FGSM: ``g <- mu * g + grad``; ``x <- clip(x + alpha * sign(g))``.

    With ``normalise=True`` the momentum accumulates ``grad / |grad|_1`` (Dong et al.).

    Presets: 10 iterations, ``mu = 1`` (Dong et al.), the I-FGSM step sizes of the benchmark's
    reference code and the catalogue's Linf targets 2/4/8 per 255 as ``eps``.
    """

    name = "mifgsm"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "weak": {"eps": 2 / 255, "alpha": 7.84e-4, "iterations": 10},
        "medium": {"eps": 4 / 255, "alpha": 1.57e-3, "iterations": 10},
        "strong": {"eps": 8 / 255, "alpha": 3.26e-3, "iterations": 10},
    }
    default_preset = "medium"
    calibration = CalibrationSpec(
        "alpha", 2e-4, 4e-3, "linf", fixed={"eps": 10 / 255, "iterations": 10}, budget_param="eps"
    )

    def __init__(
        self,
        eps: float = 4 / 255,
        alpha: float | None = None,
        iterations: int = 10,
        decay: float = 1.0,
        normalise: bool = False,
        direction: Direction = "up",
    ) -> None:
        super().__init__(Budget("linf", check_positive("eps", eps)), direction)
        self.eps = float(eps)
        self.iterations = check_count("iterations", iterations)
        self.alpha = check_positive("alpha", alpha) if alpha is not None else self.eps / self.iterations
        if decay < 0:
            raise ValueError(f"decay must be >= 0, got {decay}")
        self.decay = float(decay)
        self.normalise = bool(normalise)

    def perturb(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        adv, momentum = images.clone(), torch.zeros_like(images)
        for _ in range(self.iterations):
            _, grad = self.loss_and_grad(metric, adv)
            momentum = self.decay * momentum + (l1_normalise(grad) if self.normalise else grad)
            adv = project_linf(adv + self.alpha * momentum.sign(), images, self.eps)
        return adv
