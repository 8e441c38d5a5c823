"""FACPA (Shumitskaya et al., 2023): a U-Net generates the perturbation in one forward pass.

``x' = clip(x + amplitude * tanh(G(x)))`` with ``G`` a small U-Net (two down/up levels with skip
connections, widths ``width``, ``2 width``, ``4 width``), trained (``fit``) with Adam on a
training set to maximise the benchmark loss; applying it costs one generator pass and no metric
gradient. Restriction: Linf = ``amplitude`` exactly; presets 0.02 / 0.04 / 0.08 (reference code).
The generator is saved and loaded as a ``state_dict`` file.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iqa_core import Budget, Metric

from .base import check_count, check_positive, optimiser_step
from .calibration_spec import CalibrationSpec
from .loss import Direction, attack_loss
from .trainable import TrainableAttackBase, iterate_batches


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.LeakyReLU(0.2),
    )


class UNet(nn.Module):
    """Small U-Net: image (3 channels) -> unbounded perturbation logits (3 channels), any input size."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.enc1 = _block(3, width)
        self.enc2 = _block(width, 2 * width)
        self.mid = _block(2 * width, 4 * width)
        self.dec2 = _block(4 * width + 2 * width, 2 * width)
        self.dec1 = _block(2 * width + width, width)
        self.out = nn.Conv2d(width, 3, 1)

    def forward(self, x: Tensor) -> Tensor:
        e1 = self.enc1(x * 2 - 1)
        e2 = self.enc2(F.avg_pool2d(e1, 2, ceil_mode=True))
        m = self.mid(F.avg_pool2d(e2, 2, ceil_mode=True))
        d2 = self.dec2(torch.cat([F.interpolate(m, size=e2.shape[-2:], mode="bilinear", align_corners=False), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, size=e1.shape[-2:], mode="bilinear", align_corners=False), e1], 1))
        return self.out(d1)


class FACPA(TrainableAttackBase):
    """U-Net perturbation generator, trained on a set (see the module docstring)."""

    name = "facpa"
    file_kind = "iqa-attacks/facpa"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "weak": {"amplitude": 0.02},
        "medium": {"amplitude": 0.04},
        "strong": {"amplitude": 0.08},
    }
    default_preset = "medium"
    calibration = CalibrationSpec("amplitude", 0.005, 0.1, "linf", budget_param="amplitude")

    def __init__(
        self,
        amplitude: float = 0.04,
        width: int = 16,
        epochs: int = 5,
        lr: float = 1e-3,
        batch_size: int = 8,
        weights: str | None = None,
        direction: Direction = "up",
    ) -> None:
        super().__init__(Budget("linf", check_positive("amplitude", amplitude)), direction)
        self.amplitude = float(amplitude)
        self.width = check_count("width", width)
        self.epochs = check_count("epochs", epochs)
        self.lr = check_positive("lr", lr)
        self.batch_size = check_count("batch_size", batch_size)
        self.generator_net: UNet | None = None
        if weights is not None:
            self.load(weights)

    def _build(self, generator: torch.Generator | None) -> UNet:
        with torch.random.fork_rng(devices=[]):
            seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator)) if generator is not None else None
            if seed is not None:
                torch.manual_seed(seed)
            net = UNet(self.width)
        return net

    def fit(
        self, metric: Metric, images: Tensor | Iterable[Tensor], *, generator: torch.Generator | None = None
    ) -> None:
        batches = list(iterate_batches(images, self.batch_size))
        if not batches:
            raise ValueError("fit needs at least one training image")
        cpu_generator = generator if generator is None or generator.device.type == "cpu" else None
        net = self._build(cpu_generator).to(batches[0].device).train()
        optimiser = torch.optim.Adam(net.parameters(), lr=self.lr)
        with torch.enable_grad():
            for _ in range(self.epochs):
                for batch in batches:
                    x = batch.detach()
                    adv = (x + self.amplitude * torch.tanh(net(x))).clamp(0, 1)
                    loss = -attack_loss(metric, metric(adv), self.direction).mean()
                    optimiser_step(optimiser, loss)
        self.generator_net = net.eval()
        self.fitted = True

    def state(self) -> dict[str, Any]:
        assert self.generator_net is not None
        return {"width": self.width, "state_dict": {k: v.cpu() for k, v in self.generator_net.state_dict().items()}}

    def restore(self, state: dict[str, Any]) -> None:
        self.width = int(state["width"])
        net = UNet(self.width)
        net.load_state_dict(state["state_dict"])
        self.generator_net = net.eval()

    def perturb(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        self._require_fitted()
        assert self.generator_net is not None
        net = self.generator_net.to(images.device)
        with torch.no_grad():
            return (images + self.amplitude * torch.tanh(net(images))).clamp(0, 1)
