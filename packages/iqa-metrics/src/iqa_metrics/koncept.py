"""KonCept512 (Hosu et al., TIP 2020), the PyTorch reproduction of ZhengyuZhao/koniq-PyTorch.

Architecture: the InceptionResNetV2 trunk of Cadene's ``pretrainedmodels`` as
``base = nn.Sequential(*children[:-1])`` (``base.0`` ... ``base.14`` hold parameters, ``base.15`` is
the final ``AvgPool2d(8, count_include_pad=False)``), then the head
``fc = Linear(1536, 2048) ReLU BN Dropout(.25) Linear(2048, 1024) ReLU BN Dropout(.25)
Linear(1024, 256) ReLU BN Dropout(.5) Linear(256, 1)``. Input normalisation ``(x - 0.5) / 0.5``.

The 8 x 8 pooling quirk: the official model pools with a fixed 8 x 8 window (stride 8), not a
global average. The official notebook feeds 384 x 512 (height x width) KonIQ images, whose
feature map is 10 x 14, so only its top-left 8 x 8 window is pooled; from 555 px a side on (feature
map 16 or more) there is more than one window and the official head crashes on the flattened
features (``Linear(1536, ...)``): the official model accepts 299 to 554 px a side. This port keeps
the trained behaviour and makes it total:

* by default every input is resized (bilinear, antialiased when shrinking) to 384 x 512, the size
  the checkpoint was trained on, so the score is the official one for KonIQ-sized images and
  defined for any size and batch;
* the pooled window is always the top-left 8 x 8 window of the feature map (``pooling="official"``),
  which is what the official model computes at 384 x 512 and what it would compute without crashing
  on larger maps; ``pooling="global"`` averages the whole map instead (not what the weights were
  trained with; offered for experiments). With ``resize=None`` the input must be at least 299 px a
  side (feature map >= 8 x 8) for the official pooling.

The benchmark's reference wrapper feeds 512 high x 384 wide (transposed); this port follows the
official notebook (384 x 512).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from iqa_core.types import Bounds

from ._base import PortedMetric, normalise, resize
from ._checkpoint import PathLike
from .specs import KONCEPT512

OFFICIAL_SIZE = (384, 512)
POOL = 8


class BasicConv2d(nn.Module):
    """Conv (no bias) + BatchNorm (eps 1e-3) + ReLU, the unit of Cadene's InceptionResNetV2."""

    def __init__(
        self, cin: int, cout: int, kernel: int | tuple[int, int], stride: int = 1, padding: int | tuple[int, int] = 0
    ):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size=kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001, momentum=0.1)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.bn(self.conv(x)))


class Mixed5b(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.branch0 = BasicConv2d(192, 96, 1)
        self.branch1 = nn.Sequential(BasicConv2d(192, 48, 1), BasicConv2d(48, 64, 5, padding=2))
        self.branch2 = nn.Sequential(
            BasicConv2d(192, 64, 1), BasicConv2d(64, 96, 3, padding=1), BasicConv2d(96, 96, 3, padding=1)
        )
        self.branch3 = nn.Sequential(
            nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False), BasicConv2d(192, 64, 1)
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class Block35(nn.Module):
    def __init__(self, scale: float = 0.17) -> None:
        super().__init__()
        self.scale = scale
        self.branch0 = BasicConv2d(320, 32, 1)
        self.branch1 = nn.Sequential(BasicConv2d(320, 32, 1), BasicConv2d(32, 32, 3, padding=1))
        self.branch2 = nn.Sequential(
            BasicConv2d(320, 32, 1), BasicConv2d(32, 48, 3, padding=1), BasicConv2d(48, 64, 3, padding=1)
        )
        self.conv2d = nn.Conv2d(128, 320, 1)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2d(torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1))
        return self.relu(out * self.scale + x)


class Mixed6a(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.branch0 = BasicConv2d(320, 384, 3, stride=2)
        self.branch1 = nn.Sequential(
            BasicConv2d(320, 256, 1), BasicConv2d(256, 256, 3, padding=1), BasicConv2d(256, 384, 3, stride=2)
        )
        self.branch2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x)], 1)


class Block17(nn.Module):
    def __init__(self, scale: float = 0.10) -> None:
        super().__init__()
        self.scale = scale
        self.branch0 = BasicConv2d(1088, 192, 1)
        self.branch1 = nn.Sequential(
            BasicConv2d(1088, 128, 1),
            BasicConv2d(128, 160, (1, 7), padding=(0, 3)),
            BasicConv2d(160, 192, (7, 1), padding=(3, 0)),
        )
        self.conv2d = nn.Conv2d(384, 1088, 1)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2d(torch.cat([self.branch0(x), self.branch1(x)], 1))
        return self.relu(out * self.scale + x)


class Mixed7a(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.branch0 = nn.Sequential(BasicConv2d(1088, 256, 1), BasicConv2d(256, 384, 3, stride=2))
        self.branch1 = nn.Sequential(BasicConv2d(1088, 256, 1), BasicConv2d(256, 288, 3, stride=2))
        self.branch2 = nn.Sequential(
            BasicConv2d(1088, 256, 1), BasicConv2d(256, 288, 3, padding=1), BasicConv2d(288, 320, 3, stride=2)
        )
        self.branch3 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class Block8(nn.Module):
    def __init__(self, scale: float = 0.20, relu: bool = True) -> None:
        super().__init__()
        self.scale = scale
        self.branch0 = BasicConv2d(2080, 192, 1)
        self.branch1 = nn.Sequential(
            BasicConv2d(2080, 192, 1),
            BasicConv2d(192, 224, (1, 3), padding=(0, 1)),
            BasicConv2d(224, 256, (3, 1), padding=(1, 0)),
        )
        self.conv2d = nn.Conv2d(448, 2080, 1)
        self.relu = nn.ReLU() if relu else None

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2d(torch.cat([self.branch0(x), self.branch1(x)], 1)) * self.scale + x
        return self.relu(out) if self.relu is not None else out


def inception_resnet_v2_trunk() -> nn.Sequential:
    """Cadene's InceptionResNetV2 children up to ``conv2d_7b`` (indices 0-14, as ``base.N`` in KonCept512)."""
    return nn.Sequential(
        BasicConv2d(3, 32, 3, stride=2),  # 0 conv2d_1a
        BasicConv2d(32, 32, 3),  # 1 conv2d_2a
        BasicConv2d(32, 64, 3, padding=1),  # 2 conv2d_2b
        nn.MaxPool2d(3, stride=2),  # 3 maxpool_3a
        BasicConv2d(64, 80, 1),  # 4 conv2d_3b
        BasicConv2d(80, 192, 3),  # 5 conv2d_4a
        nn.MaxPool2d(3, stride=2),  # 6 maxpool_5a
        Mixed5b(),  # 7 mixed_5b
        nn.Sequential(*[Block35(0.17) for _ in range(10)]),  # 8 repeat
        Mixed6a(),  # 9 mixed_6a
        nn.Sequential(*[Block17(0.10) for _ in range(20)]),  # 10 repeat_1
        Mixed7a(),  # 11 mixed_7a
        nn.Sequential(*[Block8(0.20) for _ in range(9)]),  # 12 repeat_2
        Block8(1.0, relu=False),  # 13 block8
        BasicConv2d(2080, 1536, 1),  # 14 conv2d_7b
    )


class KonCept512Net(nn.Module):
    """``model_qa`` of the official notebook (``base`` trunk, ``fc`` head); pooling chosen by the caller."""

    def __init__(self) -> None:
        super().__init__()
        self.base = inception_resnet_v2_trunk()
        self.fc = nn.Sequential(
            nn.Linear(1536, 2048),
            nn.ReLU(),
            nn.BatchNorm1d(2048),
            nn.Dropout(0.25),
            nn.Linear(2048, 1024),
            nn.ReLU(),
            nn.BatchNorm1d(1024),
            nn.Dropout(0.25),
            nn.Linear(1024, 256),
            nn.ReLU(),
            nn.BatchNorm1d(256),
            nn.Dropout(0.5),
            nn.Linear(256, 1),
        )

    def pool(self, features: Tensor, pooling: str) -> Tensor:
        if pooling == "global":
            return features.mean(dim=(2, 3))
        h, w = features.shape[-2:]
        if h < POOL or w < POOL:
            raise ValueError(
                f"KonCept512's official 8x8 pooling needs a feature map of at least 8x8, got {h}x{w}: "
                "use inputs of at least 299 px a side, resize=(384, 512) (default) or pooling='global'"
            )
        return features[..., :POOL, :POOL].mean(dim=(2, 3))

    def forward(self, x: Tensor, pooling: str = "official") -> Tensor:
        return self.fc(self.pool(self.base(x), pooling)).squeeze(1)


class KonCept512(PortedMetric):
    """KonCept512 (InceptionResNetV2 + MLP head) trained on KonIQ-10k; MOS scale about 1-100.

    ``weights``: the official ``KonCept512.pth`` state_dict or another of the same layout.
    ``pretrained=False``: random weights (tests). ``resize``: input size ``(height, width)``
    (official 384 x 512) or None. ``pooling``: ``"official"`` (top-left 8 x 8 window) or
    ``"global"``; see the module docstring.
    """

    name = "koncept512"
    official = KONCEPT512
    default_bounds = Bounds(26.40, 66.87)

    def __init__(
        self,
        weights: PathLike | None = None,
        *,
        pretrained: bool = True,
        resize: tuple[int, int] | None = OFFICIAL_SIZE,
        pooling: Literal["official", "global"] = "official",
        bounds: Bounds | None = None,
    ) -> None:
        super().__init__(bounds)
        if pooling not in ("official", "global"):
            raise ValueError(f"pooling must be 'official' or 'global', got {pooling!r}")
        self.net = KonCept512Net()
        self.size = tuple(resize) if resize is not None else None
        self.pooling = pooling
        self._load(weights, pretrained)

    def score(self, images: Tensor) -> Tensor:
        x = resize(images, self.size) if self.size is not None else images  # type: ignore[arg-type]
        return self.net(normalise(x, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)), self.pooling)
