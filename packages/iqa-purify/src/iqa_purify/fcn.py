"""FCN filter (Gushchin et al., 2024): a 3-layer fully convolutional filter against colour attacks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iqa_core.weights import WeightSpec

from ._common import PathLike, freeze, load_state, resolve_weights
from .base import PurificationDefence

# The authors publish the checkpoint (fcn_mse.pth) in a Google Drive folder; the benchmark's
# metrics/defences/fcn/dfsrc/setup.sh fetches it from https://titan.gml-team.ru:5003/fsdownload/vbKqFGe3o/fcn_mse.pth.
# Neither comes with a checksum, so no verified download here.
FCN_WEIGHTS = WeightSpec(
    name="fcn-filter",
    url="https://drive.google.com/drive/folders/1c6hC5cSfeNfi5-jMHwsyZqoH_QXURmB_",
    sha256="",
    filename="fcn_mse.pth",
    cli="iqa-purify",
)


class FCNNet(nn.Module):
    """The network of the reference code, module names unchanged (the benchmark's
    ``metrics/defences/fcn/run.py``: ``FCN(3, 3, 64, norm_type='instance', act_type='relu')``; its
    unused SELU/dropout and the ``InstanceNorm2d(8)`` declared for 16 channels do not matter, the
    norm has no parameters). Forward and input gradient match it on seeded weights (parity test).

    ``conv1`` (3->64) -> LeakyReLU(0.2) -> ``conv2`` (64->``hidden``) -> instance norm -> LeakyReLU(0.2)
    -> ``conv3`` (``hidden``->3) -> tanh; all 3x3, padding 1. The purification paper says 64, 16, 3
    filters (the released code and the benchmark's code, default here); the benchmark's text says
    64, 32, 3 (``hidden=32``).
    The instance norm has no parameters (affine=False), so the checkpoint holds the three convs only.
    """

    def __init__(self, hidden: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1)
        self.conv2 = nn.Conv2d(64, hidden, 3, 1, 1)
        self.conv3 = nn.Conv2d(hidden, 3, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        e1 = self.conv1(x)
        e2 = F.instance_norm(self.conv2(F.leaky_relu(e1, 0.2)))
        return torch.tanh(self.conv3(F.leaky_relu(e2, 0.2)))


class FCNFilter(PurificationDefence):
    """FCN filter defence: ``clamp(FCNNet(x), 0, 1)`` (the benchmark's fcn ``Defence``); no presets.

    Weights: the authors' ``fcn_mse.pth`` (``{"model": state_dict, "epoch": ...}``, Google Drive only,
    so ``weights=PATH`` is required) or a checkpoint trained by ``iqa-train`` (same layout; a bare
    state dict also loads). ``hidden`` is read from the checkpoint. Differentiable.
    """

    name = "fcn-filter"
    differentiable = True
    randomized = False

    def __init__(self, weights: PathLike | None = None, *, check_hash: bool = True) -> None:
        super().__init__()
        state = load_state(resolve_weights(FCN_WEIGHTS, weights, check_hash=check_hash), keys=("model", "state_dict"))
        if "conv2.weight" not in state:
            raise ValueError(f"{weights}: not an FCN-filter checkpoint (keys: {sorted(state)[:6]} ...)")
        self.net = FCNNet(hidden=int(state["conv2.weight"].shape[0]))
        self.net.load_state_dict(state)
        freeze(self.net)

    def purify(self, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        return self.net(images).clamp(0, 1)
