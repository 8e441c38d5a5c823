"""cAdv (Bhattad et al., 2020): adversarial recolourisation in LAB with a colourisation network.

The image's lightness L is kept; its chroma (a, b) is produced by the user-guided colourisation
network of Zhang et al. (2017, "SIGGRAPH17"), given L and colour hints of the source image at
``hints`` random pixels. The network's weights are fine-tuned per image with Adam to maximise the
benchmark loss of the recoloured image (each image gets its own copy of the network, so results do
not depend on the batch). The benchmark restricts cAdv by SSIM and varies its learning rate: the
chroma change is scaled down per image by bisection until SSIM >= ``min_ssim`` holds exactly
(presets 0.9 / 0.85 / 0.75, the SSIM of the reference's picked presets,
``utils/picked_presets_v1.csv``), and the best-scoring of the chroma changes scaled
by ``{0, 1/4, ..., 1} * t_max`` is returned (0 is the source itself: never worse than the source).

Weights: the official SIGGRAPH17 checkpoint
(``https://colorizers.s3.us-east-2.amazonaws.com/siggraph17-df00044c.pth``; the official loader
checks it with ``check_hash=True``, i.e. its sha256 starts with ``df00044c``), fetched through
:mod:`iqa_core.weights` on first use, or ``weights=PATH``. ``pretrained=False`` builds the same
architecture with random weights (seeded by the attack's generator): the offline test path;
``width`` < 1 shrinks the channels of that random network for fast tests (official weights need 1).

Deviations from the benchmark's reference code (``metrics/methods/cadv/run.py``): the reference
keeps the network's weights fixed and optimises its *inputs*, the hint colours and the hint mask,
with Adam (lr the preset parameter, betas (0.9, 0.999)) for 10 iterations; its 50 hints are drawn
at random among the pixels of the 4 lowest-entropy of 8 K-means colour clusters, and it crops the
image to a multiple of 4 (pasting the result back into the uncropped source). Here the network's
weights are fine-tuned and the hints are drawn at uniformly random pixels.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iqa_core import Budget, Metric
from iqa_core.weights import WeightSpec, fetch, load_checkpoint

from .base import WhiteBoxAttack, best_on_path, check_count, check_positive, optimiser_step, per_image, rand, ssim_limit
from .calibration_spec import CalibrationSpec
from .loss import Direction, attack_loss

SIGGRAPH17 = WeightSpec(
    name="cadv-siggraph17",
    url="https://colorizers.s3.us-east-2.amazonaws.com/siggraph17-df00044c.pth",
    sha256="df00044c",
    filename="siggraph17-df00044c.pth",
    cli="iqa-attacks",
)


def _convs(channels: list[int], dilation: int = 1, *, relu_first: bool = False, norm: bool = True) -> nn.Sequential:
    """Conv-ReLU stacks in the official layout (``[ReLU,] Conv, ReLU, Conv, ReLU, ..., BatchNorm``)."""
    layers: list[nn.Module] = [nn.ReLU(True)] if relu_first else []
    for cin, cout in itertools.pairwise(channels):
        layers += [nn.Conv2d(cin, cout, 3, stride=1, padding=dilation, dilation=dilation, bias=True), nn.ReLU(True)]
    if norm:
        layers.append(nn.BatchNorm2d(channels[-1]))
    return nn.Sequential(*layers)


class ColorizationNet(nn.Module):
    """The SIGGRAPH17 user-guided colourisation network, with the official state_dict keys.

    ``forward(l, ab_hint, mask)``: L in [0, 100], hint chroma in LAB units, a 0/1 hint mask; returns
    chroma (a, b) in LAB units at the input size (which must be a multiple of 8).
    """

    l_cent, l_norm, ab_norm = 50.0, 100.0, 110.0

    def __init__(self, width: float = 1.0, classes: int = 529) -> None:
        super().__init__()
        c = [max(1, round(v * width)) for v in (64, 128, 256, 512)]
        c64, c128, c256, c512 = c
        self.model1 = _convs([4, c64, c64])
        self.model2 = _convs([c64, c128, c128])
        self.model3 = _convs([c128, c256, c256, c256])
        self.model4 = _convs([c256, c512, c512, c512])
        self.model5 = _convs([c512, c512, c512, c512], dilation=2)
        self.model6 = _convs([c512, c512, c512, c512], dilation=2)
        self.model7 = _convs([c512, c512, c512, c512])
        self.model8up = nn.Sequential(nn.ConvTranspose2d(c512, c256, 4, stride=2, padding=1, bias=True))
        self.model8 = _convs([c256, c256, c256], relu_first=True)
        self.model9up = nn.Sequential(nn.ConvTranspose2d(c256, c128, 4, stride=2, padding=1, bias=True))
        self.model9 = _convs([c128, c128], relu_first=True)
        self.model10up = nn.Sequential(nn.ConvTranspose2d(c128, c128, 4, stride=2, padding=1, bias=True))
        self.model10 = nn.Sequential(nn.ReLU(True), nn.Conv2d(c128, c128, 3, padding=1, bias=True), nn.LeakyReLU(0.2))
        self.model3short8 = nn.Sequential(nn.Conv2d(c256, c256, 3, padding=1, bias=True))
        self.model2short9 = nn.Sequential(nn.Conv2d(c128, c128, 3, padding=1, bias=True))
        self.model1short10 = nn.Sequential(nn.Conv2d(c64, c128, 3, padding=1, bias=True))
        self.model_class = nn.Sequential(nn.Conv2d(c256, classes, 1, bias=True))  # unused head, kept for the keys
        self.model_out = nn.Sequential(nn.Conv2d(c128, 2, 1, bias=True), nn.Tanh())

    def forward(self, l: Tensor, ab_hint: Tensor, mask: Tensor) -> Tensor:  # noqa: E741
        x = torch.cat([(l - self.l_cent) / self.l_norm, ab_hint / self.ab_norm, mask], 1)
        conv1 = self.model1(x)
        conv2 = self.model2(conv1[:, :, ::2, ::2])
        conv3 = self.model3(conv2[:, :, ::2, ::2])
        conv7 = self.model7(self.model6(self.model5(self.model4(conv3[:, :, ::2, ::2]))))
        conv8 = self.model8(self.model8up(conv7) + self.model3short8(conv3))
        conv9 = self.model9(self.model9up(conv8) + self.model2short9(conv2))
        conv10 = self.model10(self.model10up(conv9) + self.model1short10(conv1))
        return self.model_out(conv10) * self.ab_norm


class CAdv(WhiteBoxAttack):
    """Adversarial recolourisation through a colourisation network (see the module docstring)."""

    name = "cadv"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "weak": {"min_ssim": 0.9, "lr": 1e-4, "iterations": 10},
        "medium": {"min_ssim": 0.85, "lr": 2e-4, "iterations": 10},
        "strong": {"min_ssim": 0.75, "lr": 4e-4, "iterations": 10},
    }
    default_preset = "medium"
    calibration = CalibrationSpec(
        "lr", 2e-5, 1e-3, "ssim", fixed={"min_ssim": 0.0, "iterations": 10}, budget_param="min_ssim"
    )

    def __init__(
        self,
        min_ssim: float = 0.8,
        lr: float = 2e-4,
        iterations: int = 10,
        hints: int = 50,
        size: int = 256,
        weights: str | None = None,
        pretrained: bool = True,
        check_weights: bool = True,
        width: float = 1.0,
        direction: Direction = "up",
    ) -> None:
        if not 0 <= min_ssim <= 1:
            raise ValueError(f"min_ssim must be in [0, 1], got {min_ssim}")
        super().__init__(Budget("ssim", float(min_ssim)), direction)
        self.min_ssim = float(min_ssim)
        self.lr = check_positive("lr", lr)
        self.iterations = check_count("iterations", iterations)
        self.hints = check_count("hints", hints, 0)
        self.size = check_count("size", size, 8)
        if self.size % 8:
            raise ValueError(f"size must be a multiple of 8 (three subsamplings in the network), got {size}")
        if pretrained and width != 1.0:
            raise ValueError("the official SIGGRAPH17 weights need width=1.0; use width < 1 only with pretrained=False")
        if not 0 < width <= 1:
            raise ValueError(f"width must be in (0, 1], got {width}")
        self.weights = weights
        self.pretrained = bool(pretrained)
        self.check_weights = bool(check_weights)
        self.width = float(width)
        self._network: ColorizationNet | None = None

    def colorizer(self, generator: torch.Generator | None = None) -> ColorizationNet:
        """The colourisation network: official weights (fetched/verified once) or seeded random ones."""
        if self._network is not None:
            return self._network
        if self.pretrained:
            net = ColorizationNet(1.0)
            path = fetch(SIGGRAPH17, path=self.weights, check=self.check_weights)
            state = load_checkpoint(path)
            try:
                net.load_state_dict(state)
            except RuntimeError as error:
                raise ValueError(f"{path} is not a SIGGRAPH17 colourisation checkpoint: {error}") from error
            self._network = net.eval()
            return self._network
        with torch.random.fork_rng(devices=[]):
            if generator is not None:
                cpu = generator if generator.device.type == "cpu" else None
                seed = int(torch.randint(0, 2**31 - 1, (1,), generator=cpu)) if cpu is not None else 0
                torch.manual_seed(seed)
            net = ColorizationNet(self.width)
        return net.eval()  # random weights are drawn per call (seeded), not cached

    def perturb(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        from kornia.color import lab_to_rgb, rgb_to_lab

        base = self.colorizer(generator).to(images.device)
        n, _, h, w = images.shape
        lab = rgb_to_lab(images)
        small = F.interpolate(lab, size=(self.size, self.size), mode="bilinear", align_corners=False)
        flat = rand((n, self.size * self.size), generator, images.device).argsort(1)[:, : self.hints]
        mask = torch.zeros(n, 1, self.size * self.size, device=images.device)
        mask.scatter_(2, flat.unsqueeze(1), 1.0)
        mask = mask.view(n, 1, self.size, self.size)
        hint_ab = small[:, 1:] * mask
        results = []
        for i in range(n):
            net = copy.deepcopy(base)
            for p in net.parameters():
                p.requires_grad_(True)
            optimiser = torch.optim.Adam(net.parameters(), lr=self.lr)
            with torch.enable_grad():
                for _ in range(self.iterations):
                    ab = F.interpolate(
                        net(small[i : i + 1, :1], hint_ab[i : i + 1], mask[i : i + 1]),
                        size=(h, w),
                        mode="bilinear",
                        align_corners=False,
                    )
                    rgb = lab_to_rgb(torch.cat([lab[i : i + 1, :1], ab], 1)).clamp(0, 1)
                    loss = -attack_loss(metric, metric(rgb), self.direction).sum()
                    optimiser_step(optimiser, loss)
            with torch.no_grad():
                out = net(small[i : i + 1, :1], hint_ab[i : i + 1], mask[i : i + 1])
                results.append(F.interpolate(out, size=(h, w), mode="bilinear", align_corners=False))
        adv_ab = torch.cat(results)

        def render(t: Tensor) -> Tensor:
            ab = lab[:, 1:] + per_image(t, adv_ab) * (adv_ab - lab[:, 1:])
            rgb = lab_to_rgb(torch.cat([lab[:, :1], ab], 1)).clamp(0, 1)
            # t = 0 is the source exactly (no LAB round-trip error)
            return torch.where(per_image(t == 0, rgb), images, rgb)

        t_max = ssim_limit(images, render, self.min_ssim)
        return best_on_path(metric, self.direction, render, t_max)
