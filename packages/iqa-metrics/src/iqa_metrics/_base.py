"""Common shell of the ported metrics: Metric attributes, weights loading, input checks."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from iqa_core.types import Bounds
from iqa_core.validation import check_images

from ._checkpoint import PathLike, extract_state_dict, load_into, read_checkpoint, resolve_weights
from .specs import OfficialWeights

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalise(images: Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> Tensor:
    """``(x - mean) / std`` per channel, differentiable."""
    m = torch.tensor(mean, device=images.device, dtype=images.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, device=images.device, dtype=images.dtype).view(1, -1, 1, 1)
    return (images - m) / s


def resize(images: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize to ``(height, width)``, antialiased when shrinking (as PIL's bilinear resize)."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    shrink = images.shape[-2] > size[0] or images.shape[-1] > size[1]
    return nn.functional.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=shrink)


class PortedMetric(nn.Module, abc.ABC):
    """A no-reference metric ported from its official code; ``self.net`` has the official key layout.

    Subclasses set ``name``, ``official`` (where the checkpoint comes from), ``default_bounds``
    and build ``self.net`` before calling :meth:`_load`. ``pretrained=False`` keeps random weights
    (tests, training from scratch); otherwise ``weights=PATH`` or the cached official file is loaded
    with ``weights_only=True`` after an exact key-layout check. The module is left in eval mode
    and never disables autograd.
    """

    name: ClassVar[str]
    official: ClassVar[OfficialWeights]
    default_bounds: ClassVar[Bounds]
    higher_is_better = True
    differentiable = True
    net: nn.Module

    def __init__(self, bounds: Bounds | None = None) -> None:
        super().__init__()
        self.bounds = bounds if bounds is not None else self.default_bounds

    def _load(self, weights: PathLike | None, pretrained: bool) -> None:
        if pretrained or weights is not None:
            path = resolve_weights(self.official, weights)
            checkpoint = read_checkpoint(path)
            self.load_official(checkpoint, path)
        self.eval()

    def load_official(self, checkpoint: Any, path: PathLike) -> None:
        """Load an official checkpoint object (plain state_dict or ``{"state_dict": ...}``) into ``self.net``."""
        state = extract_state_dict(checkpoint, path)
        load_into(self.net, state, what=f"checkpoint {path} for {self.name!r}")

    @abc.abstractmethod
    def score(self, images: Tensor) -> Tensor:
        """``(N, 3, H, W)`` RGB in [0, 1] (already checked, in the network's dtype) -> ``(N,)`` scores."""

    def forward(self, images: Tensor) -> Tensor:
        check_images(images)  # finite, in [0, 1] (randomized smoothing relaxes the range: noisy_inputs)
        dtype = next(self.net.parameters()).dtype
        return self.score(images.to(dtype=dtype))

    def extra_repr(self) -> str:
        return f"name={self.name!r}, bounds=({self.bounds.lower}, {self.bounds.upper})"
