"""Random rotation by an angle drawn uniformly in [-limit, limit] degrees."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from ._common import rand
from .base import PurificationDefence


class RandomRotate(PurificationDefence):
    """Rotate each image about its centre by U(-limit, limit) degrees: presets 10, 15 (default), 20, 30, 50.

    As torchvision's ``RandomRotation`` in the benchmark's code (``metrics/defences/random-rotate``):
    nearest-neighbour sampling, the same canvas (no expansion), corners filled with 0; bit-exact
    with it in the parity test. The angle is ``(2 u - 1) limit`` with ``u`` the first
    ``torch.rand`` draw of ``generator``, the draw torchvision makes from the global RNG, so a
    generator seeded like the benchmark's ``torch.manual_seed`` gives the same angle for a batch
    of one (the benchmark's batch size). Deliberate deviation: one angle per image, where
    torchvision draws one angle for the whole batch. Randomized; differentiable with respect to
    the pixels (``mode="bilinear"`` gives smoother gradients). Weakest preset = smallest limit.
    """

    name = "random-rotate"
    differentiable = True
    randomized = True
    presets: ClassVar[dict[str, dict[str, Any]]] = {f"angle{a}": {"angle_limit": a} for a in (10, 15, 20, 30, 50)}
    default_preset = "angle15"

    def __init__(self, angle_limit: float = 15, mode: str = "nearest") -> None:
        super().__init__()
        if not 0 <= float(angle_limit) <= 180:
            raise ValueError(f"angle_limit must be in [0, 180] degrees, got {angle_limit}")
        if mode not in ("nearest", "bilinear"):
            raise ValueError(f"mode must be 'nearest' or 'bilinear', got {mode!r}")
        self.angle_limit = float(angle_limit)
        self.mode = mode

    def purify(self, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        from kornia.geometry.transform import rotate

        n = images.shape[0]
        angles = (rand((n,), generator, images.device) * 2 - 1) * self.angle_limit
        return rotate(images, angles.to(images.dtype), mode=self.mode, padding_mode="zeros", align_corners=False)

    def extra_repr(self) -> str:
        return f"angle_limit={self.angle_limit:g}, mode={self.mode!r}"
