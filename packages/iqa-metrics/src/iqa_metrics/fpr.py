"""FPR (Chen et al., ACM MM 2022, "No-reference image quality assessment by hallucinating pristine
features"), the no-reference model ``FPR_NI`` of Baoliang93/FPR, ported for inference.

The official ``IQANet`` trains a full-reference branch (``fl*``, ``cl*``, ``rl*``, ``wl*``), an
invertible network (``InvRescaleNet``) that hallucinates pristine features, and the no-reference
branch (``sfl*``, ``scl*``, ``srl*``, ``swl*``). At test time it returns only the no-reference score
``NS``, which depends on the no-reference branch alone. This port keeps every module (so the
official checkpoint loads unchanged, key for key) and computes ``NS``:

``sfl1 .. sfl3`` (VGG-like double convolutions, LeakyReLU 0.2) -> ``scl1`` (conv + pool) ->
``scl2`` (3x3 conv, no padding) -> 256 features per 64 x 64 patch -> ``srl1``/``srl2`` patch score,
and a GRU (``swl1``, ``swl2``) over the sequence of patches gives each a weight
``relu(w) + 1e-8``; the image score is the weighted mean of its patch scores.

Input transform (official ``dataset.py``): non-overlapping 64 x 64 patches from the top-left corner
(the remainder at the bottom and right is dropped), values in [0, 1], no normalisation. Fixed here:

* patch order: the GRU makes the score depend on it, and the official test code shuffles the
  patches at random (and keeps at most ``n_ptchs`` = 1024). This port uses the official extraction
  order without shuffling - column by column, top to bottom within a column (``np.split`` along
  height, then width) - so scores are deterministic; ``max_patches`` keeps the first ones;
* the official GRU initial state is created on CUDA device 0; here it is zeros on the input's device;
* any batch size (the official test loader and the benchmark's wrapper use batch 1; the wrapper's
  "RGB" patches are three neighbouring patches of one colour channel - not reproduced).

The invertible network (official ``Inv_arch.py``: ``InvRescaleNet`` of three ``InvBlockExp`` with
``Use1x1=True``, clamp 1) uses the subnet ``DenseBlock1X1`` of the official ``Subnet_constructor.py``
(Python source in the repository; an older densely connected 1 x 1 variant is commented out there).
Despite its name it is a plain chain, not a dense block: four 1 x 1 convolutions ``channel_in ->
2 channel_in -> 2 channel_in -> 2 channel_in -> channel_in`` (256 -> 512 -> 512 -> 512 -> 256 here;
the output width is ``channel_in``, the ``channel_out`` argument and ``gc`` are unused) with
LeakyReLU(0.2) after each of the first three and none after the last. ``Subnet1x1`` below computes
the same. The invertible network does not contribute to the no-reference score ``NS``; it is kept
for the checkpoint layout and for ``InvRescaleNet.forward``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from iqa_core.types import Bounds

from ._base import PortedMetric
from ._checkpoint import PathLike
from .specs import FPR

PATCH = 64


class Conv3x3(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(0.2))

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class DoubleConv(nn.Module):
    def __init__(self, cin: int, cout: int, pool: bool = True) -> None:
        super().__init__()
        self.conv1 = Conv3x3(cin, cout)
        self.conv2 = Conv3x3(cout, cout)
        self.pool = nn.MaxPool2d(2) if pool else None

    def forward(self, x: Tensor) -> Tensor:
        y = self.conv2(self.conv1(x))
        return self.pool(y) if self.pool is not None else y


class SingleConv(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = Conv3x3(cin, cout)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.conv(x))


class Subnet1x1(nn.Module):
    """The official ``DenseBlock1X1``: a chain of four 1 x 1 convolutions, LeakyReLU(0.2) between them."""

    def __init__(self, cin: int, cout: int, hidden: int = 512) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, hidden, 1)
        self.conv2 = nn.Conv2d(hidden, hidden, 1)
        self.conv3 = nn.Conv2d(hidden, hidden, 1)
        self.conv4 = nn.Conv2d(hidden, cout, 1)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: Tensor) -> Tensor:
        x = self.act(self.conv1(x))
        x = self.act(self.conv2(x))
        x = self.act(self.conv3(x))
        return self.conv4(x)


class InvBlock(nn.Module):
    """Affine coupling block (``InvBlockExp``) with clamp 1."""

    def __init__(self, channels: int = 256) -> None:
        super().__init__()
        self.F = Subnet1x1(channels, channels)
        self.G = Subnet1x1(channels, channels)
        self.H = Subnet1x1(channels, channels)

    def forward(self, x1: Tensor, x2: Tensor, rev: bool = False) -> tuple[Tensor, Tensor]:
        if not rev:
            y1 = x1 + self.F(x2)
            s = torch.sigmoid(self.H(y1)) * 2 - 1
            return y1, x2 * torch.exp(s) + self.G(y1)
        s = torch.sigmoid(self.H(x1)) * 2 - 1
        y2 = (x2 - self.G(x1)) / torch.exp(s)
        return x1 - self.F(y2), y2


class InvRescaleNet(nn.Module):
    def __init__(self, channels: int = 256, blocks: int = 3) -> None:
        super().__init__()
        self.operations = nn.ModuleList(InvBlock(channels) for _ in range(blocks))

    def forward(self, x1: Tensor, x2: Tensor, rev: bool = False) -> tuple[Tensor, Tensor]:
        ops = reversed(self.operations) if rev else self.operations
        for op in ops:
            x1, x2 = op(x1, x2, rev)
        return x1, x2


class FPRNet(nn.Module):
    """The official ``IQANet(weighted=True)`` module tree; ``forward`` computes the no-reference score."""

    def __init__(self) -> None:
        super().__init__()
        # full-reference branch (training only; kept for the checkpoint layout)
        self.fl1 = DoubleConv(3, 64)
        self.fl2 = DoubleConv(64, 128)
        self.fl3 = DoubleConv(128, 256)
        # no-reference branch
        self.sfl1 = DoubleConv(3, 128)
        self.sfl21 = DoubleConv(128, 256, pool=False)
        self.sfl22 = DoubleConv(256, 256)
        self.sfl23 = DoubleConv(256, 256, pool=False)
        self.sfl3 = DoubleConv(256, 512)
        self.InvRescaleNet = InvRescaleNet(256, 3)
        self.cl1 = SingleConv(512, 128)
        self.cl2 = nn.Conv2d(128, 64, 3)
        self.rl1 = nn.Linear(256, 32)
        self.rl2 = nn.Linear(32, 1)
        self.scl1 = SingleConv(512, 128)
        self.scl2 = nn.Conv2d(128, 64, 3)
        self.srl1 = nn.Linear(256, 32)
        self.srl2 = nn.Linear(32, 1)
        self.gn = nn.GroupNorm(num_groups=64, num_channels=256)
        self.wl1 = nn.GRU(256, 32, batch_first=True)
        self.wl2 = nn.Linear(32, 1)
        self.swl1 = nn.GRU(256, 32, batch_first=True)
        self.swl2 = nn.Linear(32, 1)

    def nr_features(self, patches: Tensor) -> Tensor:
        """``(B, 3, 64, 64)`` -> ``(B, 256)`` no-reference patch features."""
        y = self.sfl3(self.sfl23(self.sfl22(self.sfl21(self.sfl1(patches)))))
        y = self.scl2(self.scl1(y))
        return y.flatten(1)

    def forward(self, patches: Tensor) -> Tensor:
        """``(N, P, 3, 64, 64)`` patches in order -> ``(N,)`` no-reference scores ``NS``."""
        n, p = patches.shape[:2]
        feats = self.nr_features(patches.flatten(0, 1))
        scores = self.srl2(self.srl1(feats)).view(n, p)
        h0 = torch.zeros(1, n, self.swl1.hidden_size, device=patches.device, dtype=feats.dtype)
        hidden, _ = self.swl1(feats.view(n, p, -1), h0)
        weights = torch.relu(self.swl2(hidden)).view(n, p) + 1e-8
        return (scores * weights).sum(dim=1) / weights.sum(dim=1)


def fpr_patches(images: Tensor, max_patches: int | None = None) -> Tensor:
    """Official patches: ``(N, 3, H, W)`` -> ``(N, P, 3, 64, 64)``, column-major order, no shuffle."""
    n, c, h, w = images.shape
    nh, nw = h // PATCH, w // PATCH
    if nh == 0 or nw == 0:
        raise ValueError(f"FPR needs images of at least {PATCH}x{PATCH} pixels, got {h}x{w}")
    x = images[:, :, : nh * PATCH, : nw * PATCH].reshape(n, c, nh, PATCH, nw, PATCH)
    tiles = x.permute(0, 4, 2, 1, 3, 5).reshape(n, nw * nh, c, PATCH, PATCH)  # index = col * nh + row
    return tiles[:, :max_patches] if max_patches is not None else tiles


class FPRMetric(PortedMetric):
    """FPR no-reference model (``FPR_NI``), deterministic patch order, any batch size.

    ``weights``: the official checkpoint (``{"state_dict": ...}`` or a plain state_dict).
    ``pretrained=False``: random weights (tests). ``max_patches``: keep the first patches only
    (official test: up to 1024). ``higher_is_better`` is True as in the benchmark's catalogue and its
    wrapper (``lower_better = False``); note that the official ``KADIDDataset`` trains on
    ``(5 - s) / 5 * 100`` where ``s`` is KADID-10k's 1-5 opinion score (5 = best) and pristine
    references get 0, a distortion-like scale - check the direction on your checkpoint
    (``iqa-metrics bounds``).
    """

    name = "fpr"
    official = FPR
    default_bounds = Bounds(47.22, 77.05)
    min_size = (PATCH, PATCH)  # one 64x64 patch at least

    def __init__(
        self,
        weights: PathLike | None = None,
        *,
        pretrained: bool = True,
        max_patches: int | None = 1024,
        bounds: Bounds | None = None,
    ) -> None:
        super().__init__(bounds)
        self.net = FPRNet()
        self.max_patches = max_patches
        self._load(weights, pretrained)

    def score(self, images: Tensor) -> Tensor:
        return self.net(fpr_patches(images, self.max_patches))
