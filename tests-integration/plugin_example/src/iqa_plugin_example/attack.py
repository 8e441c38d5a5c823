"""A white-box attack: R+FGSM (Tramèr et al., ICLR 2018), an FGSM step from a random start."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from iqa_core import Budget, Metric, Threat, check_images


class RFGSM:
    """R+FGSM: ``x0 = x + alpha * sign(N(0, I))``, then one signed-gradient step of ``eps - alpha``.

    The loss is the toolkit's ``s * f(x') / diam(f)`` (``s = +1`` when higher is better: the attack
    pushes predicted quality up). The result stays within Linf ``eps`` of the input and in [0, 1];
    the random start comes from ``generator`` only. Works on ``iqa_core.defended(metric, defence)``
    unchanged (adaptive mode), as it only calls ``metric(x)``.
    """

    name = "example-rfgsm"
    threat = Threat.WHITE_BOX
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "weak": {"eps": 2 / 255},
        "medium": {"eps": 4 / 255},
        "strong": {"eps": 8 / 255},
    }
    default_preset = "medium"

    def __init__(self, eps: float = 4 / 255, alpha: float | None = None) -> None:
        alpha = eps / 2 if alpha is None else alpha
        if eps <= 0 or not 0 <= alpha < eps:
            raise ValueError(f"need eps > 0 and 0 <= alpha < eps, got eps={eps}, alpha={alpha}")
        self.eps = eps
        self.alpha = alpha
        self.budget = Budget("linf", eps)

    def __call__(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        check_images(images)
        x = images.detach()
        noise = torch.randn(x.shape, generator=generator, device=x.device if generator is None else generator.device)
        start = (x + self.alpha * noise.to(x.device).sign()).clamp(0.0, 1.0)
        start.requires_grad_(True)
        sign = 1.0 if metric.higher_is_better else -1.0
        with torch.enable_grad():
            loss = sign * metric(start).sum() / metric.bounds.diam
            (grad,) = torch.autograd.grad(loss, start)
        step = start.detach() + (self.eps - self.alpha) * grad.sign()
        return torch.min(torch.max(step, x - self.eps), x + self.eps).clamp(0.0, 1.0).detach()
