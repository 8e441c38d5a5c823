"""Base of the trainable attacks (Optimised-UAP, FACPA): ``fit`` on a set, then apply; saved as files."""

from __future__ import annotations

import abc
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from iqa_core import Budget, Metric, check_images

from .base import WhiteBoxAttack
from .loss import Direction


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
