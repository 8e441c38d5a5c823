"""DnCNN denoiser (Zhang et al., 2017) for denoised smoothing, with its training loop."""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iqa_core import check_images

from ._common import PathLike, load_state, randn


class DnCNNNet(nn.Module):
    """DnCNN as in Salman et al.'s denoised-smoothing code (``dncnn`` Sequential, residual learning).

    The benchmark's certified code uses the same class (``archs/dncnn.py``) with
    ``image_channels=3, depth=17, n_channels=64``.

    conv(3->C, bias) + ReLU, ``depth - 2`` x [conv(C->C, no bias), BatchNorm(eps=1e-4, momentum=0.95), ReLU],
    conv(C->3, no bias); the network predicts the noise, ``forward`` returns ``x - dncnn(x)``.
    Their ImageNet/CIFAR checkpoints (``{"state_dict": {"module.dncnn.0.weight", ...}}``) load
    unchanged (``module.`` is stripped).
    """

    def __init__(self, depth: int = 17, channels: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, channels, 3, padding=1, bias=True), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [
                nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                nn.BatchNorm2d(channels, eps=1e-4, momentum=0.95),
                nn.ReLU(inplace=True),
            ]
        layers.append(nn.Conv2d(channels, 3, 3, padding=1, bias=False))
        self.dncnn = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x - self.dncnn(x)


class DnCNN(nn.Module):
    """DnCNN denoiser behind the :class:`~iqa_core.Denoiser` contract, trained for one ``sigma``.

    ``weights``: a checkpoint from :func:`train_dncnn` / denoised-smoothing (``state_dict`` key or a
    bare state dict); ``None`` builds an untrained network (train it with :func:`train_dncnn`).
    The sigma passed to ``__call__`` is checked against the training sigma when one is recorded.
    No published DnCNN checkpoint is fetched: denoised smoothing trains one per sigma.
    ``clamp``: clamp the output to [0, 1] (default). The benchmark's certified code passes the raw
    ``x - dncnn(x)`` to the metric; ``clamp=False`` reproduces that.
    """

    name = "dncnn"

    def __init__(
        self,
        weights: PathLike | None = None,
        *,
        sigma: float | None = None,
        depth: int = 17,
        channels: int = 64,
        clamp: bool = True,
    ) -> None:
        super().__init__()
        self.sigma = sigma
        self.clamp = bool(clamp)
        if weights is not None:
            state = load_state(weights, keys=("state_dict", "model"))
            depth = sum(1 for k in state if k.startswith("dncnn.") and k.endswith(".weight") and state[k].ndim == 4)
            channels = int(state["dncnn.0.weight"].shape[0])
            self.net = DnCNNNet(depth, channels)
            self.net.load_state_dict(state)
        else:
            self.net = DnCNNNet(depth, channels)
        self.net.eval()

    def forward(self, noisy: Tensor, sigma: float, *, generator: torch.Generator | None = None) -> Tensor:
        check_images(noisy, what="noisy", check_range=False)
        if self.sigma is not None and abs(float(sigma) - float(self.sigma)) > 1e-6:
            raise ValueError(
                f"this DnCNN was trained for sigma={self.sigma}, called with sigma={sigma}; "
                "train one for that noise level with train_dncnn"
            )
        out = self.net(noisy)
        return out.clamp(0, 1) if self.clamp else out

    def save(self, path: PathLike) -> None:
        """Save ``{"state_dict", "sigma"}`` (loadable with ``DnCNN(weights=path)``)."""
        torch.save({"state_dict": self.net.state_dict(), "sigma": self.sigma}, path)


def train_dncnn(
    denoiser: DnCNN,
    images: Iterable[Tensor],
    sigma: float,
    *,
    epochs: int = 1,
    lr: float = 1e-3,
    generator: torch.Generator | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> list[float]:
    """Train ``denoiser`` to remove N(0, sigma^2) noise from clean ``images`` batches (MSE, Adam).

    As denoised smoothing's "MSE" objective: ``|| D(x + sigma * n) - x ||^2``. ``images`` is
    iterated once per epoch (a list of batches or a re-iterable loader). Returns the loss of each
    step; the network is left in eval mode and records ``sigma``.
    """
    net = denoiser.net
    opt = optimizer or torch.optim.Adam(net.parameters(), lr=lr)
    losses: list[float] = []
    net.train()
    for _ in range(int(epochs)):
        for batch in images:
            noisy = batch + float(sigma) * randn(tuple(batch.shape), generator, batch.device)
            loss = F.mse_loss(net(noisy), batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    net.eval()
    denoiser.sigma = float(sigma)
    return losses
