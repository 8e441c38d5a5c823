"""Parity of the gradient attacks with the benchmarks' official attack code (goldens written by
``tools/parity/attacks_gradient.py``): the same seeded stand-in metric, the same seeded images,
the reference's parameters (eps 10/255 and its step sizes, not our 2/4/8-per-255 presets: the
presets' budgets are checked in ``test_budget_presets.py``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from iqa_attacks import AMIFGSM, FGSM, IFGSM, MADC, MIFGSM, SSAH, UAP, Korhonen
from iqa_attacks.korhonen import spatial_activity
from iqa_attacks.stadv import warp
from iqa_attacks.zhang import Zhang
from iqa_core import Bounds
from iqa_core.testing.parity import assert_matches_golden, load_golden, seeded_images, seeded_weights_

GOLDENS = Path(__file__).parent / "goldens"
MSU = load_golden(GOLDENS / "attacks_msu.json")
GUARDIANS = load_golden(GOLDENS / "attacks_guardians.json")
EPS = 10 / 255  # the reference's eps
ATOL = 1e-6  # float32 rounding of the images (goldens rounded to 1e-7)


class StandIn(nn.Module):
    """The generator's seeded stand-in metric (same layers, same seeded weights), as an iqa Metric."""

    name = "parity-stand-in"
    higher_is_better = True
    bounds = Bounds(0.0, 100.0)  # the reference's metric_range 100
    differentiable = True

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2),
            nn.Softplus(),
            nn.Conv2d(8, 8, 3),
            nn.Softplus(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(8, 1),
        )
        seeded_weights_(self.net, seed=13, scale=2.0)
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 50 + 50 * torch.tanh(self.net(x).squeeze(-1))


@pytest.fixture(scope="module")
def metric() -> StandIn:
    return StandIn()


def image(inputs: dict) -> torch.Tensor:
    x = seeded_images(inputs["seed"], (1, 3, inputs["size"], inputs["size"]))
    return 0.2 + 0.6 * x if inputs["image"] == "mid" else x


def png(seed: int, size: int) -> torch.Tensor:
    """A seeded image as the reference's loaders read it back from an 8-bit PNG."""
    return (seeded_images(seed, (3, size, size)) * 255).round() / 255


MSU_ATTACKS = {
    "std-fgsm-mid": lambda: FGSM(eps=EPS),
    "ifgsm-mid": lambda: IFGSM(eps=EPS, alpha=1 / 255, iterations=10),
    "mifgsm-mid": lambda: MIFGSM(eps=EPS, alpha=1 / 255, iterations=10, decay=1.0),
    "mifgsm-full": lambda: MIFGSM(eps=EPS, alpha=1 / 255, iterations=10, decay=1.0),
    # the reference's AMI-FGSM has no naturalness limit: lift ours
    "amifgsm-mid": lambda: AMIFGSM(eps=EPS, iterations=10, max_degradation=1e9),
    "madc-mid": lambda: MADC(eps=EPS, alpha=1e-3, iterations=8),
    # the reference has no Linf projection (10 Adam steps of lr 0.005 reach 0.05 > 10/255): lift ours
    "korhonen-et-al-mid": lambda: Korhonen(eps=1.0, alpha=5e-3, iterations=10),
}


@pytest.mark.parametrize("case", list(MSU_ATTACKS))
def test_msu_benchmark_attacks(case, metric):
    golden = MSU.case(case)
    x = image(golden["inputs"])
    adv = MSU_ATTACKS[case]()(metric, x)
    what = f"{case} vs {MSU.origin}"
    assert_matches_golden(adv, golden["outputs"]["adv"], rtol=0, atol=ATOL, what=what)
    assert_matches_golden(float(metric(adv).detach()), golden["outputs"]["score"], rtol=0, atol=1e-4, what=what)


def test_korhonen_activity_map(metric):
    golden = MSU.case("korhonen-et-al-mid")
    ours = spatial_activity(image(golden["inputs"]))[0, 0]
    assert_matches_golden(ours, golden["outputs"]["activity_map"], rtol=0, atol=1e-7, what="korhonen activity map")


def test_ifgsm_at_the_image_range_differs_only_where_the_reference_lets_p_leave_it(metric):
    """Deliberate deviation: the reference keeps ``p`` in [-eps, eps] but not ``x + p`` in [0, 1]; a
    pixel pushed past 0 or 1 keeps an overshoot that later steps must undo. Ours projects the
    iterate onto [0, 1]. On the golden's full-range 12x12 image no pixel differs; on a 16x16 one,
    1 pixel of 768 did, by 2/255: the bound below allows 1 %."""
    golden = MSU.case("ifgsm-full")
    x = image(golden["inputs"])
    adv = IFGSM(eps=EPS, alpha=1 / 255, iterations=10)(metric, x)
    diff = (adv - torch.tensor(golden["outputs"]["adv"], dtype=torch.float32)).abs()
    assert float((diff > ATOL).float().mean()) <= 0.01
    assert float(diff.max()) <= 2 / 255 + ATOL


@pytest.mark.parametrize("alpha", [7.84e-4, 1.57e-3])
def test_guardians_ifgsm(alpha, metric):
    golden = GUARDIANS.case(f"ifgsm-alpha{alpha:g}")
    adv = IFGSM(eps=EPS, alpha=alpha, iterations=10)(metric, image(golden["inputs"]))
    assert_matches_golden(adv, golden["outputs"]["adv"], rtol=0, atol=ATOL, what=f"ifgsm vs {GUARDIANS.origin}")


@pytest.mark.parametrize("lr", [7.7e-4, 1.57e-3])
def test_guardians_ssah(lr, metric):
    golden = GUARDIANS.case(f"ssah-lr{lr:g}")
    adv = SSAH(eps=EPS, lr=lr, iterations=10, lambda_lf=0.1)(metric, image(golden["inputs"]))
    assert_matches_golden(adv, golden["outputs"]["adv"], rtol=0, atol=ATOL, what=f"ssah vs {GUARDIANS.origin}")


class MSEDistance:
    """The generator's stand-in for DISTS: ``100 * mean((x - y)^2)``, lower is better."""

    name = "mse-distance"
    higher_is_better = False

    def __call__(self, reference: torch.Tensor, distorted: torch.Tensor) -> torch.Tensor:
        return 100 * (reference - distorted).pow(2).flatten(1).mean(1)


@pytest.mark.parametrize("lr", [7.7e-4, 3.15e-3])
def test_guardians_zhang(lr, metric):
    """zhang-et-al-dists with DISTS replaced on both sides: Adam on the image, the FR term weighted 1."""
    golden = GUARDIANS.case(f"zhang-lr{lr:g}")
    attack = Zhang(eps=EPS, alpha=lr, iterations=10, fr=MSEDistance(), fr_weight=1.0)
    adv = attack(metric, image(golden["inputs"]))
    assert_matches_golden(adv, golden["outputs"]["adv"], rtol=0, atol=ATOL, what=f"zhang vs {GUARDIANS.origin}")


def test_guardians_stadv_warp():
    """The deterministic part of stAdv: the bilinear warp (the reference's flow is (dy, dx), ours (dx, dy))."""
    golden = GUARDIANS.case("stadv-warp")
    size = golden["inputs"]["size"]
    flow = 2.0 * (seeded_images(6, (1, 2, size, size)) - 0.5)
    warped = warp(image(golden["inputs"]), flow[:, [1, 0]])
    assert_matches_golden(warped, golden["outputs"]["warped"], rtol=0, atol=ATOL, what="stadv warp")


def _uap_training_images() -> torch.Tensor:
    golden = GUARDIANS.case("uap-train")
    return torch.stack([png(seed, golden["inputs"]["size"]) for seed in golden["inputs"]["train_seeds"]])


@pytest.fixture(scope="module")
def fitted_uap(metric) -> UAP:
    attack = UAP(amplitude=0.078)  # the reference schedule: size 256, Adam lr 1e-3, 5 epochs, batch 8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # 4 training images
        attack.fit(metric, _uap_training_images(), generator=torch.Generator().manual_seed(0))
    return attack


def test_guardians_uap_training(fitted_uap):
    """4 images, batch 8: every step of the reference sees all of them, so its shuffling does not matter."""
    out = GUARDIANS.case("uap-train")["outputs"]
    pattern = fitted_uap.pattern
    what = f"uap train.py vs {GUARDIANS.origin}"
    assert_matches_golden(pattern[:, :16, :16], out["pattern_crop"], rtol=0, atol=1e-8, what=what)
    assert_matches_golden(pattern.mean((1, 2)), out["pattern_channel_mean"], rtol=0, atol=1e-8, what=what)
    assert_matches_golden(float(pattern.abs().max()), out["pattern_abs_max"], rtol=0, atol=1e-8, what=what)
    assert_matches_golden(float(pattern.abs().mean()), out["pattern_abs_mean"], rtol=0, atol=1e-8, what=what)


def test_guardians_uap_application(fitted_uap, metric):
    golden = GUARDIANS.case("uap-apply")
    x = png(golden["inputs"]["test_seeds"][0], golden["inputs"]["size"]).unsqueeze(0)
    for row in golden["outputs"]["rows"]:
        attack = UAP(amplitude=row["amplitude"])
        attack.restore(fitted_uap.state())
        attack.fitted = True
        adv = attack(metric, x)
        what = f"uap application k={row['amplitude']} vs {GUARDIANS.origin}"
        assert_matches_golden(float(metric(x)), row["clear"], rtol=0, atol=1e-4, what=what)
        assert_matches_golden(float(metric(adv)), row["attacked"], rtol=0, atol=1e-4, what=what)
        assert_matches_golden(float((adv - x).abs().max()), row["l_inf"], rtol=0, atol=1e-6, what=what)
        assert_matches_golden(float((adv - x).pow(2).mean()), row["mse"], rtol=1e-4, atol=0, what=what)
