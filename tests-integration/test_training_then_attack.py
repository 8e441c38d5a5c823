"""Adversarial and NT fine-tuning of the demo metric for one epoch, then attack the result."""

from __future__ import annotations

import pytest
import torch

from iqa_bench.demo import demo_dataset, write_demo_folder
from iqa_core import create
from iqa_train.api import train_adversarial, train_nt
from iqa_train.datasets import IQAItem
from iqa_train.trainer import TrainSettings


@pytest.fixture(scope="module")
def items(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    records = demo_dataset(
        references=["astronaut", "coffee"], distortions=["gaussian_blur", "white_noise"], levels=[1, 3, 5]
    )
    write_demo_folder(records, folder)
    all_items = [IQAItem(r.name, r.mos, folder / f"{r.name}.png") for r in records]
    return all_items[:8], all_items[8:]


SETTINGS = TrainSettings(epochs=1, batch_size=4, lr=1e-4, device="cpu", progress=False, amp=False)


@pytest.mark.parametrize("method", ["adversarial", "nt"])
def test_one_epoch_then_attack(items, tmp_path, method):
    torch.set_num_threads(2)
    train, val = items
    metric = create("metric", "demo-cnniqa")
    before = {k: v.clone() for k, v in metric.state_dict().items()}
    if method == "adversarial":
        result = train_adversarial(metric, train, val, tmp_path, settings=SETTINGS, measure="ssim")
    else:
        result = train_nt(metric, train, val, tmp_path, settings=SETTINGS)
    assert result.checkpoint.is_file() and len(result.log) == 1
    assert any(not torch.equal(before[k], v) for k, v in metric.state_dict().items())  # it trained
    metric.eval()
    x = torch.stack([item.load() for item in val])
    adv = create("attack", "ifgsm", preset="strong")(metric, x)
    with torch.no_grad():
        assert float(metric(adv).mean()) > float(metric(x).mean())  # one epoch does not make it immune
    assert float((adv - x).abs().max()) <= 8 / 255 + 1e-6
