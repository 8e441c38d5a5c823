"""Korhonen & You (2022): Adam steps on the image with the gradient weighted by a spatial-activity map.

As the benchmark's reference code (``methods/korhonen-et-al/run.py``): the map is computed once
from the source: the luma ``Y = 0.299 R + 0.587 G + 0.114 B``, its Sobel response along the image
width (``scipy.ndimage.sobel``'s default axis: the signed horizontal derivative, smoothed
vertically), zero on the one-pixel border, divided by its maximum (signed: where the response
is negative, so is the map, and the step there goes against the gradient, as in the reference),
grey-dilated with the reference's 5x5 disc (a 5x5 square without its corners) and divided by 255.
The image itself is optimised with Adam (lr ``alpha``, the reference's preset parameter; default
betas and eps) for 10 iterations on the benchmark loss, the gradient multiplied by the map before
each step, the image clipped to [0, 1] after it. The map's scale matters only through Adam's eps.

Restriction: the reference picks lr so that the Linf is 2 / 4 / 8 per 255; here each step also
ends with the Linf projection onto ``eps`` (the presets' 2 / 4 / 8 per 255), so the budget holds
exactly.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from iqa_core import Budget, Metric

from .base import WhiteBoxAttack, check_count, check_positive, per_image, project_linf
from .calibration_spec import CalibrationSpec
from .loss import Direction

_DISC = torch.tensor(
    [[0, 1, 1, 1, 0], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [0, 1, 1, 1, 0]], dtype=torch.bool
)


def spatial_activity(images: Tensor) -> Tensor:
    """``(N, 1, H, W)`` activity map of the reference (see the module docstring), per image."""
    luma = (0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2]).unsqueeze(1) * 255
    sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=images.dtype)
    response = F.conv2d(luma, sobel.to(images.device).view(1, 1, 3, 3))  # the interior, (H-2) x (W-2)
    response = F.pad(response, (1, 1, 1, 1))  # zero border
    peak = response.flatten(1).amax(1)
    flat = peak == 0
    response = torch.where(per_image(flat, response), torch.ones_like(response), response)
    response = response / per_image(torch.where(flat, torch.ones_like(peak), peak), response)
    h, w = response.shape[-2:]
    padded = F.pad(response, (2, 2, 2, 2), value=float("-inf"))
    dilated = torch.full_like(response, float("-inf"))
    for dy, dx in _DISC.nonzero().tolist():
        dilated = torch.maximum(dilated, padded[..., dy : dy + h, dx : dx + w])
    return dilated / 255


class Korhonen(WhiteBoxAttack):
    """Adam on the image with an activity-weighted gradient (see the module docstring).

    Presets: the reference's picked lr (~7.9e-4, ~1.6e-3, ~3.2e-3) as ``alpha`` with 10 iterations
    and the Linf the reference reaches there, 2/4/8 per 255, as ``eps``.
    """

    name = "korhonen"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "weak": {"eps": 2 / 255, "alpha": 7.9e-4, "iterations": 10},
        "medium": {"eps": 4 / 255, "alpha": 1.6e-3, "iterations": 10},
        "strong": {"eps": 8 / 255, "alpha": 3.2e-3, "iterations": 10},
    }
    default_preset = "medium"
    calibration = CalibrationSpec(
        "alpha", 2e-4, 4e-3, "linf", fixed={"eps": 10 / 255, "iterations": 10}, budget_param="eps"
    )

    def __init__(
        self, eps: float = 4 / 255, alpha: float | None = None, iterations: int = 10, direction: Direction = "up"
    ) -> None:
        super().__init__(Budget("linf", check_positive("eps", eps)), direction)
        self.eps = float(eps)
        self.iterations = check_count("iterations", iterations)
        self.alpha = check_positive("alpha", alpha) if alpha is not None else self.eps / self.iterations

    def perturb(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        mask = spatial_activity(images)
        adv = images.clone()
        optimiser = torch.optim.Adam([adv], lr=self.alpha)
        for _ in range(self.iterations):
            _, grad = self.loss_and_grad(metric, adv)
            adv.grad = torch.nan_to_num(-grad * mask)  # Adam minimises: the loss's negative gradient
            optimiser.step()
            with torch.no_grad():
                adv.copy_(project_linf(adv, images, self.eps))
        return adv.detach()
