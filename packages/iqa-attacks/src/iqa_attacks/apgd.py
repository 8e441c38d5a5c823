"""APGD (Croce & Hein, 2020), Linf: step-size schedule with checkpoints and momentum 0.75.

The step size starts at ``2 * eps`` and is halved per image at the checkpoints
``w_j = ceil(p_j * n_iter)`` (``p_0 = 0``, ``p_1 = 0.22``,
``p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)``) when

1. fewer than ``rho = 0.75`` of the steps since the last checkpoint increased the loss, or
2. neither the step size nor the best loss changed since the last checkpoint;

a halving restarts that image from its best point. Iterates use the momentum update
``x <- P(x + alpha (z - x) + (1 - alpha)(x - x_prev))``, ``z = P(x + eta sign(grad))``,
``alpha = 0.75``. The best point seen is returned (per image). ``n_iter`` counts the gradient
steps; adversarial training (benchmark A.3.5) uses ``n_iter=2``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor

from iqa_core import Budget, Metric

from .base import WhiteBoxAttack, check_count, check_positive, per_image, project_linf, rand
from .calibration_spec import CalibrationSpec
from .loss import Direction


def checkpoints(n_iter: int) -> list[int]:
    """The iterations at which APGD may halve its step (Croce & Hein 2020, section 3.2)."""
    p = [0.0, 0.22]
    while p[-1] < 1:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    points = sorted({math.ceil(q * n_iter - 1e-9) for q in p[1:] if math.ceil(q * n_iter - 1e-9) <= n_iter})
    return [w for w in points if w >= 1]


class APGD(WhiteBoxAttack):
    """Auto-PGD on the benchmark loss within an Linf ball (see the module docstring)."""

    name = "apgd"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "weak": {"eps": 2 / 255, "n_iter": 10},
        "medium": {"eps": 4 / 255, "n_iter": 10},
        "strong": {"eps": 8 / 255, "n_iter": 10},
    }
    default_preset = "medium"
    calibration = CalibrationSpec("eps", 1 / 255, 10 / 255, "linf", budget_param="eps")

    def __init__(
        self,
        eps: float = 4 / 255,
        n_iter: int = 10,
        momentum: float = 0.75,
        rho: float = 0.75,
        random_start: bool = False,
        direction: Direction = "up",
    ) -> None:
        super().__init__(Budget("linf", check_positive("eps", eps)), direction)
        self.eps = float(eps)
        self.n_iter = check_count("n_iter", n_iter)
        if not 0 < momentum <= 1:
            raise ValueError(f"momentum must be in (0, 1], got {momentum}")
        if not 0 < rho <= 1:
            raise ValueError(f"rho must be in (0, 1], got {rho}")
        self.momentum = float(momentum)
        self.rho = float(rho)
        self.random_start = bool(random_start)

    def perturb(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        n = images.shape[0]
        x = images.clone()
        if self.random_start:
            x = project_linf(x + self.eps * (2 * rand(tuple(x.shape), generator, x.device) - 1), images, self.eps)
        loss, grad = self.loss_and_grad(metric, x)
        x_best, loss_best, grad_best = x.clone(), loss.clone(), grad.clone()
        eta = torch.full((n,), 2 * self.eps, device=x.device)
        x_prev = x
        successes = torch.zeros(n, device=x.device)
        marks = checkpoints(self.n_iter)
        last_mark, eta_at_mark, best_at_mark = 0, eta.clone(), loss_best.clone()
        for k in range(self.n_iter):
            z = project_linf(x + per_image(eta, x) * grad.sign(), images, self.eps)
            if k == 0:
                x_new = z
            else:
                a = self.momentum
                x_new = project_linf(x + a * (z - x) + (1 - a) * (x - x_prev), images, self.eps)
            loss_new, grad_new = self.loss_and_grad(metric, x_new)
            successes += (loss_new > loss).float()
            improved = loss_new > loss_best
            x_best = torch.where(per_image(improved, x), x_new, x_best)
            grad_best = torch.where(per_image(improved, x), grad_new, grad_best)
            loss_best = torch.where(improved, loss_new, loss_best)
            x_prev, x, loss, grad = x, x_new, loss_new, grad_new
            step = k + 1
            if step in marks and step < self.n_iter:
                too_few = successes < self.rho * (step - last_mark)
                stalled = (eta_at_mark == eta) & (best_at_mark == loss_best)
                halve = too_few | stalled
                eta = torch.where(halve, eta / 2, eta)
                x = torch.where(per_image(halve, x), x_best, x)
                grad = torch.where(per_image(halve, x), grad_best, grad)
                loss = torch.where(halve, loss_best, loss)
                successes.zero_()
                last_mark, eta_at_mark, best_at_mark = step, eta.clone(), loss_best.clone()
        return x_best
