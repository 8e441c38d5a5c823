"""APGD (Croce & Hein, 2020), Linf: step-size schedule with checkpoints and momentum 0.75.

Follows the authors' code (fra31/auto-attack, ``APGDAttack.attack_single_run``, Linf). The step
size starts at ``2 * eps`` and may be halved per image at checkpoints spaced
``k_0 = max(int(0.22 n), 1)`` iterations apart, each next spacing
``k_{j+1} = max(k_j - max(int(0.03 n), 1), max(int(0.06 n), 1))`` (for ``n = 100`` these are the
paper's ``w_j = ceil(p_j n)``: 22, 41, 57, ...; for small ``n`` the code's integer floors apply,
e.g. ``n = 10`` checks after 2, 3, 4, ... iterations). At a checkpoint an image halves its step when

1. at most ``rho = 0.75`` of the last ``k_j`` steps increased the loss over the previous iterate
   (``t <= rho * k_j``, as in the code; the paper writes ``<``), or
2. its step was **not** halved at the previous checkpoint and its best loss did not improve since
   then (never at the first checkpoint);

a halving restarts that image from its best point. Iterates use the momentum update
``x <- P(x + alpha (z - x) + (1 - alpha)(x - x_prev))``, ``z = P(x + eta sign(grad))``,
``alpha = 0.75``. The best point seen is returned (per image); ``last_step_sizes`` holds the step
size each image used at each iteration. ``n_iter`` counts the gradient steps; adversarial training
(benchmark A.3.5) uses ``n_iter=2``.

Deliberate deviation from the code: the first step of the first window counts as an increase when
it beats the starting loss (the paper's definition); the code compares it with an unfilled (zero)
buffer entry, i.e. with 0, which for its always-positive cross-entropy means "always", and for the
benchmark's signed loss would depend on the sign of the score.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from iqa_core import Budget, Metric

from .base import WhiteBoxAttack, check_count, check_positive, per_image, project_linf, rand
from .calibration_spec import CalibrationSpec
from .loss import Direction


def checkpoints(n_iter: int) -> list[int]:
    """The iterations (1-based, at most ``n_iter``) at which APGD checks its step size.

    The spacing of fra31/auto-attack's ``APGDAttack``: ``max(int(0.22 n), 1)``, then shrinking by
    ``max(int(0.03 n), 1)`` down to ``max(int(0.06 n), 1)`` (Croce & Hein 2020, section 3.2).
    """
    first = max(int(0.22 * n_iter), 1)
    shrink = max(int(0.03 * n_iter), 1)
    floor = max(int(0.06 * n_iter), 1)
    points, at, k = [], 0, first
    while at + k <= n_iter:
        at += k
        points.append(at)
        k = max(k - shrink, floor)
    return points


def halve_at_checkpoint(
    increases: Tensor,
    window: int,
    rho: float,
    *,
    halved_last: Tensor,
    best_last: Tensor,
    best_now: Tensor,
) -> Tensor:
    """Which images halve their step at a checkpoint (fra31/auto-attack's two conditions).

    ``increases``: per image, how many of the last ``window`` steps raised the loss;
    ``halved_last``: whether the image halved at the previous checkpoint (True before the first,
    so condition 2 never fires there); ``best_last``/``best_now``: the best loss at the previous
    checkpoint and now.
    """
    oscillating = increases <= rho * window
    stalled = ~halved_last & (best_last >= best_now)
    return oscillating | stalled


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
        self.last_step_sizes: Tensor | None = None

    def perturb(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        n = images.shape[0]
        x = images.clone()
        if self.random_start:
            x = project_linf(x + self.eps * (2 * rand(tuple(x.shape), generator, x.device) - 1), images, self.eps)
        project = _Projection(images, self.eps)
        loss, grad = self.loss_and_grad(metric, x)
        x_best, loss_best, grad_best = x.clone(), loss.clone(), grad.clone()
        eta = torch.full((n,), 2 * self.eps, device=x.device, dtype=x.dtype)
        x_prev = x
        increases = torch.zeros(n, device=x.device)
        marks = checkpoints(self.n_iter)
        last_mark = 0
        halved_last = torch.ones(n, dtype=torch.bool, device=x.device)
        best_at_mark = loss_best.clone()
        steps = []
        a = self.momentum
        for k in range(self.n_iter):
            steps.append(eta.clone())
            # z = P(x + eta sign(grad)); eta * sign is exact, so addcmul rounds once, as x + eta * sign does
            z = project(torch.addcmul(x, per_image(eta, x), grad.sign()))
            if k == 0:
                x_new = z
            else:
                # x + a (z - x) + (1 - a)(x - x_prev), the same roundings in the same order, in place
                x_new = z.sub_(x).mul_(a).add_(x).add_(torch.sub(x, x_prev).mul_(1 - a))
                x_new = project(x_new)
            loss_new, grad_new = self.loss_and_grad(metric, x_new)
            # an increase over the previous *iterate* (not over a restart point), as in the code
            increases += (loss_new > loss).float()
            improved = loss_new > loss_best
            _copy_where(x_best, improved, x_new)
            _copy_where(grad_best, improved, grad_new)
            loss_best = torch.where(improved, loss_new, loss_best)
            x_prev, x, loss, grad = x, x_new, loss_new, grad_new
            step = k + 1
            if step in marks and step < self.n_iter:
                halve = halve_at_checkpoint(
                    increases,
                    step - last_mark,
                    self.rho,
                    halved_last=halved_last,
                    best_last=best_at_mark,
                    best_now=loss_best,
                )
                eta = torch.where(halve, eta / 2, eta)
                _copy_where(x, halve, x_best)
                _copy_where(grad, halve, grad_best)
                increases.zero_()
                last_mark, halved_last, best_at_mark = step, halve, loss_best.clone()
        self.last_step_sizes = torch.stack(steps).cpu()
        return x_best


class _Projection:
    """``project_linf(x, images, eps)`` as one in-place clamp to precomputed bounds.

    ``min(max(x, images - eps), images + eps)`` clamped to [0, 1] is ``x`` clamped to
    ``[max(images - eps, 0), min(images + eps, 1)]`` whenever that interval is not empty (images
    within ``eps`` of [0, 1]); otherwise the two clamps are applied in turn, as there.
    """

    def __init__(self, images: Tensor, eps: float) -> None:
        self.lower, self.upper = images - eps, images + eps
        merged_lower, merged_upper = self.lower.clamp(min=0), self.upper.clamp(max=1)
        self.merged = bool((merged_lower <= merged_upper).all())
        if self.merged:
            self.lower, self.upper = merged_lower, merged_upper

    def __call__(self, x: Tensor) -> Tensor:
        """Project ``x`` (a temporary: it is overwritten)."""
        x = torch.clamp(x, min=self.lower, max=self.upper, out=x)
        return x if self.merged else x.clamp_(0, 1)


def _copy_where(target: Tensor, mask: Tensor, source: Tensor) -> None:
    """``target = torch.where(per_image(mask), source, target)`` in place, copying only the masked images."""
    if target.device.type != "cpu":  # no host sync for the mask's count
        torch.where(per_image(mask, target), source, target, out=target)
    elif bool(mask.all()):
        target.copy_(source)
    elif bool(mask.any()):
        target[mask] = source[mask]
