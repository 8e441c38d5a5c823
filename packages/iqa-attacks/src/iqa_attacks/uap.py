"""Optimised-UAP (Shumitskaya et al., 2022): one universal perturbation for every image.

Training (``fit``): a pattern ``p = tanh(w) / max|tanh(w)|`` (``3 x size x size``, Linf norm 1) is optimised
with Adam over the training set to maximise the mean loss of ``clip(x + amplitude * tile(p))``;
applying it needs no gradient: ``x' = clip(x + amplitude * tile(p))``, the pattern tiled over
(and cropped to) the image. Restriction: Linf = ``amplitude`` exactly; presets 0.078 / 0.157 /
0.314 (the reference amplitudes, 20/40/80 per 255). The reference trains at 256x256 on COCO/VOC.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import Tensor

from iqa_core import Budget, Metric

from .base import check_count, check_positive, optimiser_step, randn
from .calibration_spec import CalibrationSpec
from .loss import Direction, attack_loss
from .trainable import TrainableAttackBase, iterate_batches


def unit_linf(pattern: Tensor) -> Tensor:
    """Scale a pattern to a maximum absolute value of exactly 1."""
    return pattern / pattern.abs().amax().clamp_min(1e-12)


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
        lr: float = 1e-2,
        batch_size: int = 8,
        weights: str | None = None,
        direction: Direction = "up",
    ) -> None:
        super().__init__(Budget("linf", check_positive("amplitude", amplitude)), direction)
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
        batches = list(iterate_batches(images, self.batch_size))
        if not batches:
            raise ValueError("fit needs at least one training image")
        device = batches[0].device
        raw = (0.5 * randn((3, self.size, self.size), generator, device)).requires_grad_(True)
        optimiser = torch.optim.Adam([raw], lr=self.lr)
        with torch.enable_grad():
            for _ in range(self.epochs):
                for batch in batches:
                    x = batch.detach()
                    adv = (x + self.amplitude * tile_to(unit_linf(torch.tanh(raw)), *x.shape[-2:])).clamp(0, 1)
                    loss = -attack_loss(metric, metric(adv), self.direction).mean()
                    optimiser_step(optimiser, loss)
        self.pattern = unit_linf(torch.tanh(raw.detach()))
        self.fitted = True

    def state(self) -> dict[str, Any]:
        assert self.pattern is not None
        return {"pattern": self.pattern.cpu(), "size": self.size}

    def restore(self, state: dict[str, Any]) -> None:
        pattern = state["pattern"]
        if not isinstance(pattern, Tensor) or pattern.ndim != 3 or pattern.shape[0] != 3:
            raise ValueError("a saved UAP needs a (3, H, W) 'pattern' tensor")
        self.pattern = unit_linf(pattern.float())
        self.size = int(pattern.shape[-1])

    def perturb(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        self._require_fitted()
        assert self.pattern is not None
        pattern = tile_to(self.pattern.to(images.device, images.dtype), *images.shape[-2:])
        return (images + self.amplitude * pattern).clamp(0, 1)
