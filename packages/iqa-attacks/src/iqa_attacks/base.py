"""Shared machinery of the white-box attacks: input checks, gradients of the loss, projection."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import torch
from torch import Tensor

from iqa_core import Budget, Metric, Threat, check_images

from .loss import Direction, attack_loss


class WhiteBoxAttack(abc.ABC):
    """Base of gradient attacks. Subclasses implement :meth:`perturb` on a validated batch."""

    name: ClassVar[str] = "white-box"
    threat = Threat.WHITE_BOX
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    default_preset: ClassVar[str | None] = None

    def __init__(self, budget: Budget, direction: Direction = "up") -> None:
        self.budget = budget
        self.direction: Direction = direction

    def __call__(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        check_images(images)
        if not getattr(metric, "differentiable", True):
            raise ValueError(
                f"{self.name} needs gradients but metric {metric.name!r} is not differentiable; "
                "use a black-box attack (nes, square, ...) instead"
            )
        adv = self.perturb(metric, images.detach(), generator=generator)
        return adv.detach().clamp_(0, 1)

    @abc.abstractmethod
    def perturb(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        """Return the adversarial batch for a validated, detached ``images``."""

    def loss_and_grad(self, metric: Metric, x: Tensor) -> tuple[Tensor, Tensor]:
        """Per-image loss (detached) and its gradient w.r.t. ``x`` (not the metric's parameters)."""
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            loss = attack_loss(metric, metric(x), self.direction)
            (grad,) = torch.autograd.grad(loss.sum(), x)
        return loss.detach(), grad

    def __repr__(self) -> str:
        return f"{type(self).__name__}(budget={self.budget}, direction={self.direction!r})"


def project_linf(x: Tensor, reference: Tensor, eps: float) -> Tensor:
    """Project onto the Linf ball of radius ``eps`` around ``reference`` and onto [0, 1]."""
    return torch.min(torch.max(x, reference - eps), reference + eps).clamp_(0, 1)
