"""FACPA (Shumitskaya et al., 2023): a U-Net generates the perturbation in one forward pass.

As in the benchmark's reference code (``methods/cnn-attack/train.py`` and
``utils/cnn_evaluate.py``): the generator's output ``tanh(G(x))`` is scaled by ``10/255`` in
training (``normalize_and_scale``) and by ``10/255 * amplitude * 10`` when applied:
``x' = clip(x + amplitude * (100/255) * tanh(G(x)))``. Restriction: Linf = ``amplitude * 100/255``
(declared as the budget; ``tanh`` approaches it where the generator saturates); presets
k = 0.02 / 0.04 / 0.08, the reference's amplitudes, i.e. Linf 2 / 4 / 8 per 255.
``fit`` follows the reference schedule: Adam (lr 1e-3), 5 epochs of ``ceil(N / 8)`` steps, each on
a fresh random batch of 8, minimising ``1 - s * mean f(clip(x + (10/255) tanh(G(x)))) / diam(f)``
(the clip passes the gradient through unchanged, as the reference's ``res.data.clamp_``). It
warns when given far fewer images than the reference's training set (COCO_train_9999 / VOC2012)
and logs each epoch's training loss and the applied Linf (``history``).

Deliberate deviation: ``G`` is a small U-Net (two down/up levels with skip connections, widths
``width``, ``2 width``, ``4 width``) that takes any input size; the reference uses pix2pix's
8-level U-Net (ngf 64, instance norm, dropout), which needs inputs of at least 256x256 and applies
to 256-aligned crops whose output it tiles over the image. The generator is saved and loaded as a
``state_dict`` file.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iqa_core import Budget, Metric

from .base import check_count, check_positive
from .calibration_spec import CalibrationSpec
from .loss import Direction, attack_loss
from .trainable import BatchSampler, TrainableAttackBase, cpu_generator, straight_through_clamp

TRAIN_SCALE = 10 / 255
"""The reference's ``normalize_and_scale``: ``tanh(G(x)) * 10/255`` in training."""

LINF_PER_AMPLITUDE = 100 / 255
"""Applied: ``tanh(G(x)) * (10/255) * amplitude * 10``, so Linf = ``amplitude * 100/255``."""


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
        amplitude = check_positive("amplitude", amplitude)
        super().__init__(Budget("linf", LINF_PER_AMPLITUDE * amplitude), direction)
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
        sampler = BatchSampler(images, self.batch_size)
        self.warn_if_few_images(sampler.n_images, self.epochs * sampler.steps_per_epoch, self.epochs, self.batch_size)
        draw_generator = cpu_generator(generator)
        net = self._build(draw_generator).to(sampler.device).train()
        optimiser = torch.optim.Adam(net.parameters(), lr=self.lr)
        params = list(net.parameters())
        self.history = []
        with torch.enable_grad():
            for epoch in range(1, self.epochs + 1):
                losses, peak = [], 0.0
                for _ in range(sampler.steps_per_epoch):
                    x = sampler.draw(draw_generator)
                    out = torch.tanh(net(x))
                    adv = straight_through_clamp(x + TRAIN_SCALE * out)
                    loss = -attack_loss(metric, metric(adv), self.direction).mean()
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward(inputs=params)
                    for p in params:
                        if p.grad is not None:
                            p.grad = torch.nan_to_num(p.grad)
                    optimiser.step()
                    losses.append(1 + float(loss.detach()))
                    peak = max(peak, float(out.detach().abs().max()))
                self.log_epoch(epoch, sum(losses) / len(losses), self.amplitude * LINF_PER_AMPLITUDE * peak)
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
            return (images + self.amplitude * LINF_PER_AMPLITUDE * torch.tanh(net(images))).clamp(0, 1)
