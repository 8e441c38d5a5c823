"""SPAQ baseline (Fang et al., CVPR 2020), ported from h4nwei/SPAQ ``BL_demo.py``.

Architecture: torchvision ResNet-50 whose ``fc`` is replaced by ``Linear(2048, 1)``, held as
``backbone`` (checkpoint keys ``backbone.*``; the released ``BL_release.pt`` stores them under
``"state_dict"``). No input normalisation (``ToTensor`` only).

Input transform (official ``Image_load(size=512, stride=224)``): resize so that the shorter side is
512 (bilinear, aspect ratio kept), cut 224 x 224 patches with stride 112 along each axis plus one
patch flush with the bottom / right border when the stride does not reach it, score every patch,
average. Fixed here:

* the official code crashes on images whose shorter side is below 512 (it skips the resize and then
  treats the PIL image as a tensor); this port resizes them up to 512 like the others;
* the official demo and the benchmark's wrapper score one image at a time (the wrapper averages
  over the whole batch); this port scores every image of a batch separately, all patches of the
  batch in one pass (``(N,)`` scores);
* the official ``Resize(512)`` resizes the uint8 PIL image (PIL bilinear, rounded to uint8); this
  port resizes the float tensor (bilinear, antialiased when shrinking), so resized scores differ
  slightly (about 1e-4 relative on random weights; images whose shorter side is 512 are identical).

``resize=None`` keeps the input size (at least 224 px a side); that is what the benchmark's wrapper
(``MetricModel``) does: it patches the frame at its own size without the official resize.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from iqa_core.types import Bounds

from ._base import PortedMetric, resize
from ._checkpoint import PathLike
from .specs import SPAQ

SHORT_SIDE = 512
PATCH = 224
STRIDE = 112


def patch_starts(length: int, patch: int = PATCH, stride: int = STRIDE) -> list[int]:
    """Start offsets of the official patch grid along one axis (last patch flush with the border)."""
    if length < patch:
        raise ValueError(f"SPAQ needs at least {patch} px a side, got {length}")
    starts = list(range(0, length - patch + 1, stride))
    if starts[-1] != length - patch:
        starts.append(length - patch)
    return starts


def shorter_side_to(images: Tensor, side: int) -> Tensor:
    """Resize so that the shorter side is ``side`` (torchvision ``Resize(int)`` rounding)."""
    h, w = images.shape[-2:]
    if min(h, w) == side:
        return images
    if h <= w:
        size = (side, int(side * w / h))
    else:
        size = (int(side * h / w), side)
    return resize(images, size)


class SPAQNet(nn.Module):
    """The official ``Baseline``: ``backbone`` = ResNet-50 with a 1-output ``fc``."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import resnet50

        self.backbone = resnet50(weights=None)
        self.backbone.fc = nn.Linear(self.backbone.fc.in_features, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.backbone(x).squeeze(1)


class SPAQBaseline(PortedMetric):
    """SPAQ baseline (ResNet-50), scores on the SPAQ MOS scale (0-100, higher is better).

    ``weights``: ``BL_release.pt`` or another checkpoint of the same layout. ``pretrained=False``:
    random weights (tests). ``resize``: shorter side before patching (official 512) or None.
    """

    name = "spaq"
    official = SPAQ
    default_bounds = Bounds(21.75, 77.75)

    def __init__(
        self,
        weights: PathLike | None = None,
        *,
        pretrained: bool = True,
        resize: int | None = SHORT_SIDE,
        bounds: Bounds | None = None,
    ) -> None:
        super().__init__(bounds)
        self.net = SPAQNet()
        self.short_side = resize
        self._load(weights, pretrained)

    def patches(self, images: Tensor) -> Tensor:
        """``(N, 3, H, W)`` -> ``(N, P, 3, 224, 224)`` in the official row-major order."""
        x = shorter_side_to(images, self.short_side) if self.short_side is not None else images
        rows, cols = patch_starts(x.shape[-2]), patch_starts(x.shape[-1])
        tiles = [x[:, :, r : r + PATCH, c : c + PATCH] for r in rows for c in cols]
        return torch.stack(tiles, dim=1)

    def score(self, images: Tensor) -> Tensor:
        patches = self.patches(images)
        n, p = patches.shape[:2]
        return self.net(patches.flatten(0, 1)).view(n, p).mean(dim=1)
