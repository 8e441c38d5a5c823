"""``defended(metric, defence)``: the metric an adaptive attack attacks and evaluation scores.

This is the single place where gradients through a defence are defined:

* a differentiable defence is differentiated as it is;
* a non-differentiable one uses BPDA (Athalye et al., 2018): the forward pass is the real
  defence, the backward pass goes through ``defence.bpda_surrogate`` when the defence has one,
  through the identity otherwise;
* a randomized defence is averaged over ``eot_samples`` independent draws (EOT), forward and
  backward; evaluation uses one draw, as the benchmark does.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .adapters import require_metric
from .protocols import Defence, Metric
from .types import Bounds


def purify_for_gradients(defence: Defence, images: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
    """Apply ``defence``; when it is not differentiable, wire the gradient through BPDA."""
    if getattr(defence, "differentiable", False) or not (torch.is_grad_enabled() and images.requires_grad):
        return defence(images, generator=generator)
    with torch.no_grad():
        purified = defence(images.detach(), generator=generator)
    surrogate = getattr(defence, "bpda_surrogate", None)
    approx = surrogate(images) if callable(surrogate) else images
    if approx.shape != purified.shape:
        raise ValueError(
            f"BPDA surrogate of defence {defence.name!r} returned shape {tuple(approx.shape)}, "
            f"the defence returned {tuple(purified.shape)}; they must match"
        )
    # Forward value of the real defence, gradient of the surrogate.
    return approx + (purified.to(approx.dtype) - approx).detach()


class DefendedMetric(nn.Module):
    """A :class:`~iqa_core.protocols.Metric` computing ``metric(defence(images))``."""

    def __init__(
        self,
        metric: Metric,
        defence: Defence,
        eot_samples: int = 1,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if eot_samples < 1:
            raise ValueError(f"eot_samples must be >= 1, got {eot_samples}")
        require_metric(metric, where="defended()")
        if not callable(defence) or not hasattr(defence, "name"):
            raise TypeError(
                f"defended() needs a Defence, got {type(defence).__name__}: wrap an images -> images function "
                "with iqa_core.as_defence(function, differentiable=..., randomized=...)"
            )
        self.metric = metric
        self.defence = defence
        self.eot_samples = int(eot_samples)
        self.generator = generator
        self.name = f"{metric.name}+{defence.name}"
        self.higher_is_better: bool = metric.higher_is_better
        self.bounds: Bounds = metric.bounds
        self.differentiable: bool = metric.differentiable

    @property
    def draws(self) -> int:
        """Number of defence draws averaged per score (1 for deterministic defences)."""
        return self.eot_samples if getattr(self.defence, "randomized", False) else 1

    def forward(self, images: Tensor) -> Tensor:
        draws = self.draws
        batch = images if draws == 1 else images.repeat(draws, 1, 1, 1)
        purified = purify_for_gradients(self.defence, batch, generator=self.generator)
        scores = self.metric(purified)
        if draws == 1:
            return scores
        return scores.view(draws, images.shape[0]).mean(dim=0)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, eot_samples={self.eot_samples}"


def defended(
    metric: Metric, defence: Defence, eot_samples: int = 1, *, generator: torch.Generator | None = None, **_: Any
) -> DefendedMetric:
    """Compose ``metric`` after ``defence`` (BPDA for non-differentiable, EOT for randomized defences).

    ``eot_samples`` is the number of defence draws averaged per call when the defence is
    randomized (1 = what evaluation uses; adaptive attacks use more). ``generator`` drives the
    defence's randomness.
    """
    return DefendedMetric(metric, defence, eot_samples=eot_samples, generator=generator)
