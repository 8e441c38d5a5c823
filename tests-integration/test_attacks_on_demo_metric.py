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
PARAMS = {"uap": {"epochs": 40}, "facpa": {"epochs": 40}}


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
