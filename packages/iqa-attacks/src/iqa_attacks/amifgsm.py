"""AMI-FGSM: MI-FGSM whose magnitude is limited by the naturalness (NIQE) of the result.

The attack of the IQA-robustness literature (purification paper, ref. [3]) adapts the allowed
magnitude per image: MI-FGSM steps are taken while the result stays natural; the step that would
make an image's naturalness measure worse than the source's by more than ``max_degradation`` is
not taken and that image stops (per-image early stop). The measure is NIQE from the registry
(``naturalness="niqe"``, provided by iqa-metrics), any NR :class:`~iqa_core.Metric` (lower-is-better
or higher-is-better, used in its "worse" direction), or, by default, the built-in MSCN-statistics
distance of :mod:`iqa_attacks.naturalness` (no pristine model needed).

The benchmark's reference code (MSU_Metrics_Robustness_Benchmark ``methods/amifgsm/run.py``) is
MI-FGSM on the image with raw-gradient momentum, step ``eps / iterations``, no Linf projection
(10 steps cannot leave the ball) and no naturalness limit: with ``max_degradation`` lifted this
attack reproduces it. As in :class:`~iqa_attacks.mifgsm.MIFGSM`, ``normalise=True`` accumulates
L1-normalised gradients (Dong et al.) instead.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from iqa_core import Budget, Metric

from .base import WhiteBoxAttack, check_count, check_positive, per_image, project_linf
from .calibration_spec import CalibrationSpec
from .loss import Direction
from .mifgsm import l1_normalise
from .naturalness import MetricNaturalness, MSCNNaturalness


class AMIFGSM(WhiteBoxAttack):
    """MI-FGSM with a per-image naturalness limit (see the module docstring)."""

    name = "amifgsm"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "weak": {"eps": 2 / 255, "alpha": 7.84e-4, "iterations": 10},
        "medium": {"eps": 4 / 255, "alpha": 1.57e-3, "iterations": 10},
        "strong": {"eps": 8 / 255, "alpha": 3.26e-3, "iterations": 10},
    }
    default_preset = "medium"
    calibration = CalibrationSpec("eps", 1 / 255, 10 / 255, "linf", budget_param="eps")

    def __init__(
        self,
        eps: float = 4 / 255,
        alpha: float | None = None,
        iterations: int = 10,
        decay: float = 1.0,
        naturalness: Metric | str | None = None,
        max_degradation: float | None = None,
        normalise: bool = False,
        direction: Direction = "up",
    ) -> None:
        super().__init__(Budget("linf", check_positive("eps", eps)), direction)
        self.eps = float(eps)
        self.iterations = check_count("iterations", iterations)
        self.alpha = check_positive("alpha", alpha) if alpha is not None else self.eps / self.iterations
        self.decay = float(decay)
        self.normalise = bool(normalise)
        self._naturalness_spec = naturalness
        self._naturalness: MSCNNaturalness | MetricNaturalness | None = None
        default_limit = 1.0 if naturalness is None else 0.5
        self.max_degradation = check_positive(
            "max_degradation", default_limit if max_degradation is None else max_degradation
        )

    @property
    def naturalness(self) -> MSCNNaturalness | MetricNaturalness:
        """The naturalness measure, created on first use (a registry name is resolved then)."""
        if self._naturalness is None:
            spec = self._naturalness_spec
            if spec is None:
                self._naturalness = MSCNNaturalness()
            elif isinstance(spec, str):
                from iqa_core import create

                self._naturalness = MetricNaturalness(create("metric", spec))
            else:
                self._naturalness = MetricNaturalness(spec)
        return self._naturalness

    def perturb(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        measure = self.naturalness
        adv, momentum = images.clone(), torch.zeros_like(images)
        active = torch.ones(images.shape[0], dtype=torch.bool, device=images.device)
        source_state = measure.reference_state(images)  # the sources' naturalness, once
        for _ in range(self.iterations):
            idx = active.nonzero().flatten()
            if idx.numel() == 0:
                break
            _, grad = self.loss_and_grad(metric, adv[idx])  # stopped images cost nothing more
            moment = self.decay * momentum[idx] + (l1_normalise(grad) if self.normalise else grad)
            candidate = project_linf(adv[idx] + self.alpha * moment.sign(), images[idx], self.eps)
            degradation = measure.degradation_from(source_state[idx.to(source_state.device)], candidate)
            natural = degradation.to(images.device) <= self.max_degradation
            momentum[idx] = moment
            adv[idx] = torch.where(per_image(natural, candidate), candidate, adv[idx])
            active[idx] = natural
        return adv
