"""MADC (Wang & Simoncelli, 2008) as an attack: metric-gradient steps orthogonal to the MSE gradient.

As the benchmark's reference code (``methods/madc/run.py``, Antsiferova et al., 2024): the first
step is a signed step of the metric's gradient, ``x <- x + alpha * sign(g)``; every further step
removes the gradient's component along the gradient of the RMSE to the source,
``g_perp = g - (g . m / |m|^2) m`` (``m = grad RMSE(x', x)``, proportional to ``x' - x``), and
takes ``x <- x + alpha * sign(g_perp)``; while the RMSE exceeds ``rmse_bound`` (10/255 in the
reference) the image is pulled back towards the source by signed steps of ``shrink_step``
(0.0005), each clipped to [0, 1]; every step ends clipped to [0, 1]. ``alpha`` is the reference's
``lr`` (the preset parameter), 8 iterations.

Restriction: the reference picks lr so that the Linf is 2 / 4 / 8 per 255 (8 signed steps of lr);
here each step also ends with the Linf projection onto ``eps`` (the presets' 2 / 4 / 8 per 255,
which 8 steps of the preset alpha stay within), so the budget holds exactly.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from iqa_core import Budget, Metric

from .base import WhiteBoxAttack, check_count, check_positive, per_image, project_linf
from .calibration_spec import CalibrationSpec
from .loss import Direction


def _dot(a: Tensor, b: Tensor) -> Tensor:
    return (a * b).flatten(1).sum(1)


class MADC(WhiteBoxAttack):
    """Signed metric-gradient steps orthogonal to the RMSE gradient (see the module docstring)."""

    name = "madc"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "weak": {"eps": 2 / 255, "alpha": 9.8e-4, "iterations": 8},
        "medium": {"eps": 4 / 255, "alpha": 1.96e-3, "iterations": 8},
        "strong": {"eps": 8 / 255, "alpha": 3.92e-3, "iterations": 8},
    }
    default_preset = "medium"
    calibration = CalibrationSpec(
        "alpha", 2e-4, 5e-3, "linf", fixed={"eps": 10 / 255, "iterations": 8}, budget_param="eps"
    )

    def __init__(
        self,
        eps: float = 4 / 255,
        alpha: float | None = None,
        iterations: int = 8,
        rmse_bound: float = 10 / 255,
        shrink_step: float = 5e-4,
        direction: Direction = "up",
    ) -> None:
        super().__init__(Budget("linf", check_positive("eps", eps)), direction)
        self.eps = float(eps)
        self.iterations = check_count("iterations", iterations)
        self.alpha = check_positive("alpha", alpha) if alpha is not None else self.eps / self.iterations
        self.rmse_bound = check_positive("rmse_bound", rmse_bound)
        self.shrink_step = check_positive("shrink_step", shrink_step)

    def perturb(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        adv = images.clone()
        for i in range(self.iterations):
            _, grad = self.loss_and_grad(metric, adv)
            if i > 0:
                m = adv - images  # the RMSE gradient's direction
                coef = _dot(grad, m) / _dot(m, m).clamp_min(1e-30)
                grad = grad - per_image(coef, grad) * m
            adv = adv + self.alpha * grad.sign()
            adv = self._within_rmse(adv, images)
            adv = project_linf(adv, images, self.eps)
        return adv

    def _within_rmse(self, adv: Tensor, images: Tensor) -> Tensor:
        """Signed steps back to the source while the RMSE exceeds the bound (the reference's while loop)."""
        limit = int(2 / self.shrink_step) + 1  # enough to undo any change in [0, 1]
        for _ in range(limit):
            rmse = (adv - images).pow(2).flatten(1).mean(1).sqrt()
            over = rmse > self.rmse_bound
            if not bool(over.any()):
                break
            stepped = (adv - self.shrink_step * (adv - images).sign()).clamp(0, 1)
            adv = torch.where(per_image(over, adv), stepped, adv)
        return adv.clamp(0, 1)
