"""A differentiable no-reference "metric": the mean Laplacian energy of the luminance."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iqa_core import Bounds, check_images

_LUMA = (0.299, 0.587, 0.114)


class Sharpness(nn.Module):
    """Sharpness: mean |4-neighbour Laplacian| of the luma, divided by 4 (so scores lie in [0, 1]).

    Not a perceptual quality model: a transparent stand-in that shows what a plugin metric
    provides (``name``, ``higher_is_better``, ``bounds``, ``differentiable``, ``(N,)`` scores with
    autograd left on). Blur lowers it, noise and adversarial perturbations raise it.
    """

    name = "example-sharpness"
    higher_is_better = True
    bounds = Bounds(0.0, 1.0)
    differentiable = True

    def __init__(self) -> None:
        super().__init__()
        kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
        self.register_buffer("kernel", kernel.view(1, 1, 3, 3), persistent=False)
        self.register_buffer("luma", torch.tensor(_LUMA).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: Tensor) -> Tensor:
        check_images(images)
        y = (images * self.luma).sum(dim=1, keepdim=True)
        lap = F.conv2d(F.pad(y, (1, 1, 1, 1), mode="replicate"), self.kernel)
        return lap.abs().mean(dim=(1, 2, 3)) / 4.0
