"""Shared base of purification defences: input checks and the contract's attributes."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from iqa_core import check_images


class PurificationDefence(nn.Module, abc.ABC):
    """Base class: validates the batch, calls :meth:`purify`, checks the size is kept.

    Subclasses set ``name``, ``differentiable``, ``randomized`` (class attributes), ``presets``
    (weak -> strong) and ``default_preset`` (the paper's default).
    """

    name: ClassVar[str] = "defence"
    differentiable: ClassVar[bool] = True
    randomized: ClassVar[bool] = False
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    default_preset: ClassVar[str | None] = None

    def forward(self, images: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        check_images(images)  # one min/max reduction: NaN, Inf and 0-255 inputs fail here, never silently
        out = self.purify(images, generator=generator)
        if out.shape != images.shape:
            raise RuntimeError(
                f"defence {self.name!r} changed the image size: {tuple(images.shape)} -> {tuple(out.shape)}"
            )
        return out

    @abc.abstractmethod
    def purify(self, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        """Return the purified batch (same shape, [0, 1])."""
