"""Every attack that runs offline raises the demo metric's score on demo images (issue: attacks)."""

from __future__ import annotations

import pytest
import torch

from iqa_bench.demo import demo_dataset, stack_images
from iqa_core import create

WHITE_BOX = ["fgsm", "ifgsm", "mifgsm", "amifgsm", "apgd", "korhonen", "zhang-ssim", "madc", "ssah", "stadv", "advcf"]
BLACK_BOX = ["nes", "square", "parsimonious", "onepixel", "patch-rs"]
TRAINABLE = ["uap", "facpa"]
# Trainable attacks fit on the 4 test images for more epochs than the preset's default 5.
# The demo metric is trained to penalise white noise, and a full-size signed step (FGSM) is such
# noise (MADC now starts, as the benchmark's reference code, with a signed step of its small lr):
# measured on these images, FGSM raises the mean score at eps <= 1/255 (0.5/255: 87.2 -> 94.2)
# and lowers it from 2/255 on (8/255: 87.2 -> 47.3).
# Single-step attacks therefore run inside the metric's linear regime here (documented in the
# iqa-attacks README); the iterative attacks run at the strong preset.
PARAMS = {"uap": {"epochs": 40}, "facpa": {"epochs": 40}, "fgsm": {"eps": 0.5 / 255}}


@pytest.fixture(scope="module")
def setting():
    torch.set_num_threads(2)
    records = demo_dataset(references=["astronaut", "coffee"], distortions=["gaussian_blur", "jpeg"], levels=[2])
    return create("metric", "demo-cnniqa"), stack_images(records)


@pytest.mark.parametrize("name", WHITE_BOX + BLACK_BOX + TRAINABLE)
def test_attack_raises_the_demo_metric(setting, name):
    metric, images = setting
    if name in BLACK_BOX:  # full preset query budgets, on one image at a quarter of the pixels (CPU time)
        images = torch.nn.functional.interpolate(images[:1], size=(64, 80), mode="area")
    attack = create("attack", name, preset="strong", **PARAMS.get(name, {}))
    if hasattr(attack, "fit"):
        attack.fit(metric, list(images))
    adv = attack(metric, images, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        before, after = metric(images), metric(adv)
    assert float(after.mean()) > float(before.mean()), f"{name}: {before.tolist()} -> {after.tolist()}"


def test_a_full_size_fgsm_step_overshoots_the_noise_sensitive_demo_metric(setting):
    """The documented failure of single-step attacks on the demo metric, and why iterations matter."""
    metric, images = setting
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        before = float(metric(images).mean())
        fgsm = float(metric(create("attack", "fgsm", preset="strong")(metric, images)).mean())
        ifgsm = float(metric(create("attack", "ifgsm", preset="strong")(metric, images, generator=gen)).mean())
    assert fgsm < before < ifgsm
