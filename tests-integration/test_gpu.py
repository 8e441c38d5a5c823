"""GPU scenarios, run by `nox -s gpu` (which skips, saying why, when no CUDA device is visible)."""

from __future__ import annotations

import pytest
import torch

from iqa_core import Scorer, create, defended
from iqa_core.testing import ToyMetric, toy_images

pytestmark = pytest.mark.gpu


def _metric():
    return create("metric", "demo-cnniqa")


def test_scorer_on_cuda_matches_cpu():
    images = [toy_images(1, size, seed=i)[0] for i, size in enumerate([(96, 128), (64, 64), (96, 128), (128, 96)])]
    cpu = Scorer("cpu", batch_size=2).score(_metric(), images)
    gpu = Scorer("cuda", batch_size=2).score(_metric(), images)
    assert torch.allclose(cpu, gpu, atol=1e-3, rtol=1e-4)


def test_autocast_keeps_scores_within_tolerance():
    x = toy_images(8, (128, 128))
    exact = Scorer("cuda").score(_metric(), x)
    fast = Scorer("cuda", autocast=True, channels_last=True).score(_metric(), x)
    diam = _metric().bounds.diam
    assert float((exact - fast).abs().max()) < 0.01 * diam


def test_real_out_of_memory_backs_off():
    free, _ = torch.cuda.mem_get_info()
    per_image = free // 3  # a batch of 4 needs more than the card has, a batch of 2 does not

    def hungry(images):
        block = torch.empty(int(per_image * images.shape[0]), dtype=torch.uint8, device="cuda")
        del block
        return images.mean(dim=(1, 2, 3))

    scorer = Scorer("cuda", batch_size=8)
    scores = scorer.score(hungry, toy_images(6, (16, 16)))
    assert scores.shape == (6,) and scorer.batch_size <= 2


def test_attack_and_defended_metric_on_cuda():
    metric = ToyMetric().cuda()
    x = toy_images(4, (64, 64)).cuda()
    attack = create("attack", "ifgsm", preset="strong")
    adv = attack(defended(metric, create("defence", "jpeg")), x)
    assert adv.is_cuda and float((adv - x).abs().max()) <= 8 / 255 + 1e-6


def test_quickstart_on_cuda():
    from iqa_bench.quickstart import run_quickstart

    result = run_quickstart(device="cuda", limit=12, progress=False)
    no_defence, non_adaptive, _ = result.rows
    assert no_defence.mean_attacked > no_defence.mean_clean
    assert non_adaptive.mean_purified_attacked < no_defence.mean_attacked
