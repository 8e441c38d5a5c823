"""MADC (Wang & Simoncelli, 2008) as an attack: move along the metric on a sphere of fixed MSE.

As in Antsiferova et al. (2024): a first signed-gradient step of size ``init_step`` (default
``eps``: the FGSM point) sets the MSE level; every further step takes the metric's gradient,
removes its component along the MSE gradient (``g_perp = g - (g . m / |m|^2) m``,
``m = grad MSE(x, x') ~ x' - x``), moves by ``alpha`` along ``g_perp`` (max-normalised), and
rescales the perturbation back to the fixed MSE sphere.
The Linf projection onto ``eps`` and onto [0, 1] comes last; it can only lower the MSE, so the
MSE stays at or below its level and the Linf budget holds exactly.
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
    """Metric-gradient steps projected orthogonally to the MSE gradient, on a fixed-MSE sphere."""

    name = "madc"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "weak": {"eps": 2 / 255, "alpha": 9.8e-4, "iterations": 10},
        "medium": {"eps": 4 / 255, "alpha": 1.96e-3, "iterations": 10},
        "strong": {"eps": 8 / 255, "alpha": 3.92e-3, "iterations": 10},
    }
    default_preset = "medium"
    calibration = CalibrationSpec("eps", 1 / 255, 10 / 255, "linf", budget_param="eps")

    def __init__(
        self,
        eps: float = 4 / 255,
        alpha: float | None = None,
        iterations: int = 10,
        init_step: float | None = None,
        direction: Direction = "up",
    ) -> None:
        super().__init__(Budget("linf", check_positive("eps", eps)), direction)
        self.eps = float(eps)
        self.iterations = check_count("iterations", iterations)
        self.alpha = check_positive("alpha", alpha) if alpha is not None else self.eps / 2
        self.init_step = check_positive("init_step", init_step) if init_step is not None else self.eps

    def perturb(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        _, grad = self.loss_and_grad(metric, images)
        adv = project_linf(images + self.init_step * grad.sign(), images, self.eps)
        radius = (adv - images).flatten(1).norm(dim=1)  # the fixed MSE level, as an L2 radius
        for _ in range(self.iterations - 1):
            _, grad = self.loss_and_grad(metric, adv)
            delta = adv - images
            m = 2 * delta / delta[0].numel()
            coef = _dot(grad, m) / _dot(m, m).clamp_min(1e-30)
            g_perp = grad - per_image(coef, grad) * m
            g_perp = g_perp / per_image(g_perp.abs().flatten(1).amax(1).clamp_min(1e-12), g_perp)
            moved = delta + self.alpha * g_perp
            norm = moved.flatten(1).norm(dim=1).clamp_min(1e-12)
            moved = moved * per_image(radius / norm, moved)
            adv = project_linf(images + moved, images, self.eps)
        return adv
