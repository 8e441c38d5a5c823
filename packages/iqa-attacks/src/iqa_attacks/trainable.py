"""Base of the trainable attacks (Optimised-UAP, FACPA): ``fit`` on a set, then apply; saved as files.

Both follow the training schedule of the benchmark's reference ``train.py`` (Adam, 5 epochs,
batch 8; every step draws a fresh random batch, as ``next(iter(DataLoader(shuffle=True)))`` does,
and an epoch has ``ceil(N / batch)`` steps). The reference trained on COCO_train_9999 (9,999
images) and VOC2012; fitting on far fewer images gives far fewer optimiser steps, and ``fit``
warns about it. Each epoch's mean training loss and the Linf the fitted attack applies are
logged (logger ``iqa_attacks.<name>``) and kept in ``history``.
"""

from __future__ import annotations

import abc
import logging
import math
import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from iqa_core import Budget, Metric, check_images

from .base import WhiteBoxAttack
from .loss import Direction

REFERENCE_TRAIN_IMAGES = 9999
"""Images of the smaller reference training set (COCO_train_9999; the other, VOC2012, is larger)."""

FEW_IMAGES_FRACTION = 0.1
"""``fit`` warns when given fewer than this fraction of :data:`REFERENCE_TRAIN_IMAGES`."""


def iterate_batches(images: Tensor | Iterable[Tensor], batch_size: int) -> Iterator[Tensor]:
    """Batches of a ``(N, 3, H, W)`` tensor (``batch_size`` at a time) or of an iterable of batches/images."""
    if isinstance(images, Tensor):
        check_images(images)
        for start in range(0, images.shape[0], batch_size):
            yield images[start : start + batch_size]
        return
    for item in images:
        batch = item.unsqueeze(0) if item.ndim == 3 else item
        yield check_images(batch, what="training batch")


def straight_through_clamp(x: Tensor) -> Tensor:
    """``x`` clamped to [0, 1] in value, with the identity's gradient (the reference's ``res.data.clamp_``)."""
    return x + (x.clamp(0, 1) - x).detach()


class BatchSampler:
    """Random training batches as the reference draws them: each step a fresh shuffle's first batch.

    ``images`` (a ``(N, 3, H, W)`` tensor, or an iterable of batches / images) of one size are
    pooled and each step takes ``batch_size`` distinct random images; batches of different sizes
    are kept as they are and each step takes one of them at random. ``steps_per_epoch`` is
    ``ceil(N / batch_size)`` (the DataLoader's length) or the number of batches.
    """

    def __init__(self, images: Tensor | Iterable[Tensor], batch_size: int) -> None:
        batches = list(iterate_batches(images, batch_size))
        if not batches:
            raise ValueError("fit needs at least one training image")
        self.batch_size = batch_size
        self.device = batches[0].device
        self.n_images = sum(int(b.shape[0]) for b in batches)
        if len({tuple(b.shape[1:]) for b in batches}) == 1:
            self.pool: Tensor | None = torch.cat([b.detach() for b in batches])
            self.batches: list[Tensor] = []
            self.steps_per_epoch = math.ceil(self.n_images / batch_size)
        else:
            self.pool = None
            self.batches = [b.detach() for b in batches]
            self.steps_per_epoch = len(self.batches)

    def draw(self, generator: torch.Generator | None) -> Tensor:
        if self.pool is not None:
            order = torch.randperm(self.n_images, generator=generator)
            return self.pool[order[: self.batch_size].to(self.pool.device)]
        index = int(torch.randint(len(self.batches), (1,), generator=generator))
        return self.batches[index]


def cpu_generator(generator: torch.Generator | None) -> torch.Generator | None:
    """``generator`` when it is a CPU generator (batch draws happen on the CPU), else None."""
    return generator if generator is None or generator.device.type == "cpu" else None


class TrainableAttackBase(WhiteBoxAttack):
    """A white-box attack fitted once on a training set (:class:`iqa_core.TrainableAttack`).

    ``fit(metric, images)`` trains; ``save(path)`` / ``load(path)`` (or the constructor's
    ``weights=PATH``) store and restore the trained state with ``torch.save`` /
    ``torch.load(weights_only=True)``. Applying an unfitted attack raises with what to do.
    """

    file_kind: str = "trainable-attack"

    def __init__(self, budget: Budget, direction: Direction = "up") -> None:
        super().__init__(budget, direction)
        self.fitted = False
        self.history: list[dict[str, float]] = []
        """Per epoch of the last ``fit``: ``epoch``, mean training ``loss``, applied ``linf``."""

    @property
    def logger(self) -> logging.Logger:
        return logging.getLogger(f"iqa_attacks.{self.name}")

    def warn_if_few_images(self, n_images: int, steps: int, epochs: int, batch_size: int) -> None:
        """Warn when fitting on far fewer images than the reference did (so far fewer steps)."""
        if n_images >= FEW_IMAGES_FRACTION * REFERENCE_TRAIN_IMAGES:
            return
        reference_steps = epochs * math.ceil(REFERENCE_TRAIN_IMAGES / batch_size)
        warnings.warn(
            f"{self.name}: fitting on {n_images} images; the reference trained on {REFERENCE_TRAIN_IMAGES} "
            f"(COCO_train_9999) or more (VOC2012), i.e. {reference_steps} Adam steps at {epochs} epochs of "
            f"batch {batch_size}, and this fit takes {steps}. The attack may be under-trained: fit on more "
            "images or raise epochs.",
            UserWarning,
            stacklevel=3,
        )

    def log_epoch(self, epoch: int, loss: float, linf: float) -> None:
        """Record and log one epoch's mean training loss and the Linf the attack applies."""
        self.history.append({"epoch": float(epoch), "loss": loss, "linf": linf})
        self.logger.info(
            "%s epoch %d: training loss %.6g, applied Linf %.6g (%.3f / 255; budget %.3f / 255)",
            self.name,
            epoch,
            loss,
            linf,
            linf * 255,
            self.budget.value * 255,
        )

    @abc.abstractmethod
    def fit(
        self, metric: Metric, images: Tensor | Iterable[Tensor], *, generator: torch.Generator | None = None
    ) -> None:
        """Train on ``images`` (a batch tensor or an iterable of batches) against ``metric``."""

    @abc.abstractmethod
    def state(self) -> dict[str, Any]:
        """The tensors and settings to save."""

    @abc.abstractmethod
    def restore(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state`'s output."""

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the trained state to ``path`` (a ``.pt`` file)."""
        self._require_fitted()
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"kind": self.file_kind, **self.state()}, target)
        return target

    def load(self, path: str | os.PathLike[str]) -> None:
        """Read a state written by :meth:`save` (``torch.load(weights_only=True)``)."""
        from iqa_core.weights import load_checkpoint

        state = load_checkpoint(path)
        if not isinstance(state, dict) or state.get("kind") != self.file_kind:
            found = state.get("kind") if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"{path} is not a saved {self.name} attack (found {found!r}); save one with .save(path)")
        self.restore(state)
        self.fitted = True

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError(
                f"{self.name} is a trainable attack and has not been fitted: call .fit(metric, images) "
                f"or load a saved one with weights=PATH / .load(PATH)"
            )
