"""Zhang et al. (2022): attack an NR metric while a full-reference measure keeps the image close.

The objective is ``L(x') - lambda * D(x, x')`` with ``D`` a distance from a full-reference
measure: ``1 - SSIM`` (built in, :func:`iqa_core.measures.ssim`), LPIPS or DISTS (created through
the registry as ``metric`` components, provided by iqa-metrics) or any
:class:`~iqa_core.FullReferenceMetric` passed as ``fr``.

As the benchmark's reference code (``metrics/methods/zhang-et-al-dists/run.py``): the image is
optimised with Adam (lr ``alpha``, the preset parameter; default betas and eps) for 10
iterations on ``lambda * D(x, x') - s * f(x') / diam(f)`` (``lambda = fr_weight = 1``), clipped to
[0, 1] after each step. Each step here also ends with the Linf projection onto ``eps`` (the
presets' 2 / 4 / 8 per 255, the Linf of the reference's picked presets; 10 Adam steps of about
the preset lr stay within it); the reference has none.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from iqa_core import Budget, FullReferenceMetric, Metric, measures

from .base import WhiteBoxAttack, check_count, check_positive, project_linf
from .calibration_spec import CalibrationSpec
from .loss import Direction, attack_loss


class SSIMMeasure:
    """SSIM of :mod:`iqa_core.measures` as a :class:`~iqa_core.FullReferenceMetric`."""

    name = "ssim"
    higher_is_better = True

    def __call__(self, reference: Tensor, distorted: Tensor) -> Tensor:
        return measures.ssim(reference, distorted)


def create_fr(name: str) -> FullReferenceMetric:
    """A full-reference measure by name: ``ssim`` built in, others from the registry (iqa-metrics)."""
    if name == "ssim":
        return SSIMMeasure()
    from iqa_core import ComponentNotFoundError, create

    try:
        fr = create("measure", name)
    except ComponentNotFoundError as error:
        raise ComponentNotFoundError(
            f"the Zhang et al. attack needs the full-reference measure {name!r}, which comes from the package "
            f"iqa-metrics (`pip install iqa-metrics`), or pass fr=<a FullReferenceMetric>. Registry said: {error}"
        ) from error
    if isinstance(fr, torch.nn.Module):
        fr.eval()
    return fr


class Zhang(WhiteBoxAttack):
    """Linf signed-gradient attack on ``L(x') - lambda * D(x, x')`` (see the module docstring)."""

    name = "zhang"
    fr_name: ClassVar[str] = "ssim"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "weak": {"eps": 2 / 255, "alpha": 7.7e-4, "iterations": 10},
        "medium": {"eps": 4 / 255, "alpha": 1.55e-3, "iterations": 10},
        "strong": {"eps": 8 / 255, "alpha": 3.15e-3, "iterations": 10},
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
        fr_weight: float = 1.0,
        fr: FullReferenceMetric | str | None = None,
        direction: Direction = "up",
    ) -> None:
        super().__init__(Budget("linf", check_positive("eps", eps)), direction)
        self.eps = float(eps)
        self.iterations = check_count("iterations", iterations)
        self.alpha = check_positive("alpha", alpha) if alpha is not None else self.eps / self.iterations
        if fr_weight < 0:
            raise ValueError(f"fr_weight must be >= 0, got {fr_weight}")
        self.fr_weight = float(fr_weight)
        self._fr_spec: FullReferenceMetric | str = self.fr_name if fr is None else fr
        self._fr: FullReferenceMetric | None = None if isinstance(self._fr_spec, str) else self._fr_spec

    @property
    def fr(self) -> FullReferenceMetric:
        """The full-reference measure, created on first use."""
        if self._fr is None:
            assert isinstance(self._fr_spec, str)
            self._fr = create_fr(self._fr_spec)
        return self._fr

    def distance(self, reference: Tensor, distorted: Tensor) -> Tensor:
        value = self.fr(reference, distorted)
        return (1 - value) if self.fr.higher_is_better else value

    def perturb(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        if isinstance(self.fr, torch.nn.Module):
            self.fr.to(images.device)
        adv = images.clone().requires_grad_(True)
        optimiser = torch.optim.Adam([adv], lr=self.alpha)
        for _ in range(self.iterations):
            with torch.enable_grad():
                objective = self.fr_weight * self.distance(images, adv) - attack_loss(
                    metric, metric(adv), self.direction
                )
                (grad,) = torch.autograd.grad(objective.sum(), adv)
            adv.grad = torch.nan_to_num(grad)
            optimiser.step()
            with torch.no_grad():
                adv.copy_(project_linf(adv, images, self.eps))
        return adv.detach()


class ZhangSSIM(Zhang):
    """Zhang et al. with SSIM (``1 - SSIM`` as the distance), built in."""

    name = "zhang-ssim"
    fr_name = "ssim"


class ZhangLPIPS(Zhang):
    """Zhang et al. with LPIPS (registry metric ``lpips`` from iqa-metrics)."""

    name = "zhang-lpips"
    fr_name = "lpips"


class ZhangDISTS(Zhang):
    """Zhang et al. with DISTS (registry metric ``dists`` from iqa-metrics)."""

    name = "zhang-dists"
    fr_name = "dists"
