"""Optimised-UAP (Shumitskaya et al., 2022): one universal perturbation for every image.

As in the benchmark's reference code (``methods/uap/train.py`` and ``utils/uap_evaluate.py``):
``fit`` trains a ``3 x size x size`` pattern ``p`` (initialised to 1e-4 everywhere) with Adam
(lr 1e-3, 5 epochs of ``ceil(N / 8)`` steps, each on a fresh random batch of 8) to minimise
``1 - s * mean f(clip(x + tile(p))) / diam(f)``, the clip passing the gradient through unchanged
(the reference clamps ``res.data``), and clamps ``p`` to ``[-0.1, 0.1]`` after every step.
Applying it needs no gradient: ``x' = clip(x + amplitude * tile(p))``, the pattern tiled over
(and cropped to) the image. Restriction: Linf = ``0.1 * amplitude`` (declared as the budget;
reached once the trained pattern saturates its clamp somewhere, which the reference schedule
does); presets k = 0.078 / 0.157 / 0.314, the reference's amplitudes, i.e. Linf 2 / 4 / 8 per 255.
The reference trains at 256x256 on COCO_train_9999 / VOC2012: ``fit`` warns when given far
fewer images, and logs each epoch's training loss and the applied Linf (``history``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import Tensor

from iqa_core import Budget, Metric

from .base import check_count, check_positive
from .calibration_spec import CalibrationSpec
from .loss import Direction, attack_loss
from .trainable import BatchSampler, TrainableAttackBase, cpu_generator, straight_through_clamp

PATTERN_LINF = 0.1
"""The reference clamps the trained pattern to +-0.1; ``amplitude`` multiplies it."""

PATTERN_INIT = 1e-4
"""The reference's initial value of every pattern entry."""


def tile_to(pattern: Tensor, h: int, w: int) -> Tensor:
    """Repeat a ``(3, s, s)`` pattern over an ``h x w`` image and crop."""
    s_h, s_w = pattern.shape[-2:]
    reps = (1, -(-h // s_h), -(-w // s_w))
    return pattern.repeat(*reps)[:, :h, :w]


class UAP(TrainableAttackBase):
    """Universal adversarial perturbation, trained on a set (see the module docstring)."""

    name = "uap"
    file_kind = "iqa-attacks/uap"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "weak": {"amplitude": 0.078},
        "medium": {"amplitude": 0.157},
        "strong": {"amplitude": 0.314},
    }
    default_preset = "medium"
    calibration = CalibrationSpec("amplitude", 0.01, 0.4, "linf", budget_param="amplitude")

    def __init__(
        self,
        amplitude: float = 0.157,
        size: int = 256,
        epochs: int = 5,
        lr: float = 1e-3,
        batch_size: int = 8,
        weights: str | None = None,
        direction: Direction = "up",
    ) -> None:
        amplitude = check_positive("amplitude", amplitude)
        super().__init__(Budget("linf", PATTERN_LINF * amplitude), direction)
        self.amplitude = float(amplitude)
        self.size = check_count("size", size)
        self.epochs = check_count("epochs", epochs)
        self.lr = check_positive("lr", lr)
        self.batch_size = check_count("batch_size", batch_size)
        self.pattern: Tensor | None = None
        if weights is not None:
            self.load(weights)

    def fit(
        self, metric: Metric, images: Tensor | Iterable[Tensor], *, generator: torch.Generator | None = None
    ) -> None:
        sampler = BatchSampler(images, self.batch_size)
        self.warn_if_few_images(sampler.n_images, self.epochs * sampler.steps_per_epoch, self.epochs, self.batch_size)
        draw_generator = cpu_generator(generator)
        pattern = torch.full((3, self.size, self.size), PATTERN_INIT, device=sampler.device, requires_grad=True)
        optimiser = torch.optim.Adam([pattern], lr=self.lr)
        self.history = []
        with torch.enable_grad():
            for epoch in range(1, self.epochs + 1):
                losses = []
                for _ in range(sampler.steps_per_epoch):
                    x = sampler.draw(draw_generator)
                    adv = straight_through_clamp(x + tile_to(pattern, *x.shape[-2:]))
                    loss = -attack_loss(metric, metric(adv), self.direction).mean()
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward(inputs=[pattern])
                    assert pattern.grad is not None
                    pattern.grad = torch.nan_to_num(pattern.grad)
                    optimiser.step()
                    with torch.no_grad():
                        pattern.clamp_(-PATTERN_LINF, PATTERN_LINF)
                    losses.append(1 + float(loss.detach()))
                self.log_epoch(epoch, sum(losses) / len(losses), self.amplitude * float(pattern.detach().abs().max()))
        self.pattern = pattern.detach().clone()
        self.fitted = True

    @property
    def applied_linf(self) -> float:
        """The Linf this fitted attack adds (before clipping to [0, 1]): ``amplitude * max|p|``."""
        self._require_fitted()
        assert self.pattern is not None
        return self.amplitude * float(self.pattern.abs().max())

    def state(self) -> dict[str, Any]:
        assert self.pattern is not None
        return {"pattern": self.pattern.cpu(), "size": self.size, "pattern_linf": PATTERN_LINF}

    def restore(self, state: dict[str, Any]) -> None:
        pattern = state["pattern"]
        if not isinstance(pattern, Tensor) or pattern.ndim != 3 or pattern.shape[0] != 3:
            raise ValueError("a saved UAP needs a (3, H, W) 'pattern' tensor")
        pattern = pattern.float()
        if "pattern_linf" not in state:
            # files of versions before the reference convention held a unit-Linf pattern
            pattern = PATTERN_LINF * pattern / pattern.abs().amax().clamp_min(1e-12)
        self.pattern = pattern.clamp(-PATTERN_LINF, PATTERN_LINF)
        self.size = int(pattern.shape[-1])

    def perturb(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        self._require_fitted()
        assert self.pattern is not None
        pattern = tile_to(self.pattern.to(images.device, images.dtype), *images.shape[-2:])
        return (images + self.amplitude * pattern).clamp(0, 1)
