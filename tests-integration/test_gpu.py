"""GPU scenarios, run by `nox -s gpu` and `tools/gpu_check.sh`.

Without a CUDA device these tests skip, saying why, unless ``IQA_REQUIRE_GPU=1`` (then they fail:
a GPU check that did not run is never a pass). ``IQA_GPU_TESTS_DEVICE=cpu`` runs them on the CPU
instead, which checks the tests' own code on a machine without a GPU (slow; no GPU claim).

Measured figures (autocast differences, CUDA-vs-CPU differences) are appended as JSON lines to the
file named by ``IQA_GPU_FIGURES`` when it is set; ``tools/gpu_check.sh`` turns them into
docs/performance-gpu.md.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from iqa_core import Scorer, create, defended
from iqa_core.testing import ToyMetric, toy_images

pytestmark = pytest.mark.gpu

#: The nine metrics of the benchmark with the options that build them with random weights offline
#: (the ports take ``pretrained=False``; pyiqa's five get random backbones from ``iqa_metrics.offline``).
PORTED = {
    "linearity": {"pretrained": False},
    "koncept512": {"pretrained": False},
    "spaq": {"pretrained": False},
    "fpr": {"pretrained": False},
}
PYIQA_NINE = ("metaiqa", "paq2piq", "maniqa", "clipiqa+", "topiq-nr")

#: Largest autocast (fp16 on CUDA) deviation accepted, as a fraction of the metric's bound diameter.
AUTOCAST_TOLERANCE = 0.02


def _device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    forced = os.environ.get("IQA_GPU_TESTS_DEVICE")
    if forced:
        return torch.device(forced)
    if os.environ.get("IQA_REQUIRE_GPU") == "1":
        pytest.fail("IQA_REQUIRE_GPU=1 but no CUDA device is visible (torch.cuda.is_available() is False)")
    pytest.skip("no CUDA device is visible; set IQA_GPU_TESTS_DEVICE=cpu to check these tests on the CPU")


@pytest.fixture(scope="module")
def device() -> torch.device:
    return _device()


def record(kind: str, **figures: Any) -> None:
    """Append one measured figure to ``$IQA_GPU_FIGURES`` (JSON lines), for the GPU report."""
    path = os.environ.get("IQA_GPU_FIGURES")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"kind": kind, **figures}) + "\n")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _demo_metric():
    return create("metric", "demo-cnniqa")


# ---------------------------------------------------------------- Scorer


def test_scorer_on_device_matches_cpu(device):
    images = [toy_images(1, size, seed=i)[0] for i, size in enumerate([(96, 128), (64, 64), (96, 128), (128, 96)])]
    cpu = Scorer("cpu", batch_size=2).score(_demo_metric(), images)
    dev = Scorer(device, batch_size=2).score(_demo_metric(), images)
    assert torch.allclose(cpu, dev, atol=1e-3, rtol=1e-4)


def test_scorer_batching_matches_a_per_image_loop(device):
    """The Scorer's batches (size groups, padding-free) give the scores of one image at a time."""
    metric = _demo_metric().to(device).eval()
    images = toy_images(12, (128, 160), seed=3)
    batched = Scorer(device, batch_size=8).score(metric, images)
    with torch.no_grad():
        loop = torch.cat([metric(image[None].to(device)).float().cpu() for image in images])
    diff = float((batched.cpu() - loop).abs().max())
    record("scorer-batching", device=str(device), max_abs_diff=diff)
    assert diff <= 1e-4 * max(1.0, float(loop.abs().max()))


def test_autocast_keeps_demo_scores_within_tolerance(device):
    x = toy_images(8, (128, 128))
    exact = Scorer(device).score(_demo_metric(), x)
    fast = Scorer(device, autocast=True, channels_last=True).score(_demo_metric(), x)
    diam = _demo_metric().bounds.diam
    assert float((exact - fast).abs().max()) < 0.01 * diam


def test_real_out_of_memory_backs_off(device):
    if device.type != "cuda":
        pytest.skip("a real out-of-memory needs a CUDA device (the CPU never raises one)")
    free, _ = torch.cuda.mem_get_info()
    per_image = free // 3  # a batch of 4 needs more than the card has, a batch of 2 does not

    def hungry(images):
        block = torch.empty(int(per_image * images.shape[0]), dtype=torch.uint8, device="cuda")
        del block
        return images.mean(dim=(1, 2, 3))

    scorer = Scorer("cuda", batch_size=8)
    scores = scorer.score(hungry, toy_images(6, (16, 16)))
    assert scores.shape == (6,) and scorer.batch_size <= 2
    record("oom-backoff", start_batch=8, final_batch=scorer.batch_size)


# ---------------------------------------------------------------- the nine benchmark metrics


@pytest.fixture(scope="module")
def backbones(tmp_path_factory):
    from iqa_metrics.offline import offline_backbones

    root = tmp_path_factory.mktemp("backbones")
    with offline_backbones(root):
        yield root


@pytest.mark.parametrize("name", [*PORTED, *PYIQA_NINE])
def test_benchmark_metric_on_device_with_autocast_tolerance(name, device, backbones):
    """Each benchmark metric (random weights) runs forward and backward on the device; fp32 there
    matches the CPU, and autocast stays within AUTOCAST_TOLERANCE of the bound diameter."""
    from iqa_metrics.offline import stand_in_options

    params = PORTED[name] if name in PORTED else stand_in_options(name, backbones)
    metric = create("metric", name, **params).eval()
    x = toy_images(4, (384, 512), seed=11)
    with torch.no_grad():
        cpu = metric(x).float().flatten()
    metric = metric.to(device)
    xd = x.to(device).requires_grad_(True)
    _sync(device)
    start = time.perf_counter()
    scores = metric(xd).float().flatten()
    scores.sum().backward()
    _sync(device)
    seconds = time.perf_counter() - start
    assert xd.grad is not None and torch.isfinite(xd.grad).all(), f"{name}: no finite input gradient on {device}"
    fp32 = scores.detach().cpu()
    diam = float(metric.bounds.diam)
    device_vs_cpu = float((fp32 - cpu).abs().max()) / diam
    autocast = Scorer(device, autocast=True).score(metric, x).cpu()
    autocast_dev = float((autocast - fp32).abs().max()) / diam
    record(
        "metric",
        name=name,
        device=str(device),
        device_vs_cpu_rel_diam=device_vs_cpu,
        autocast_rel_diam=autocast_dev,
        forward_backward_s_batch4=seconds,
    )
    assert torch.isfinite(fp32).all()
    assert device_vs_cpu < 1e-3, f"{name}: fp32 on {device} differs from the CPU by {device_vs_cpu:.2e} of diam"
    assert autocast_dev < AUTOCAST_TOLERANCE, f"{name}: autocast moves scores by {autocast_dev:.3f} of diam"


def test_a_pyiqa_metric_through_the_adapter_on_device(device):
    """pyiqa's TOPIQ-NR (random weights, offline) through the iqa-metrics adapter: per-image scores
    and gradients on the device, the same as on the CPU."""
    metric = create("metric", "topiq-nr", pretrained=False, backbone_pretrain=False).eval()
    x = toy_images(2, (224, 224), seed=5)
    with torch.no_grad():
        cpu = metric(x).float().flatten()
    metric = metric.to(device)
    xd = x.to(device).requires_grad_(True)
    out = metric(xd).float().flatten()
    out.sum().backward()
    assert out.shape == (2,) and xd.grad is not None and torch.isfinite(xd.grad).all()
    assert torch.allclose(out.detach().cpu(), cpu, atol=1e-4, rtol=1e-3)


# ---------------------------------------------------------------- attacks, defences, certificates


def test_attack_and_defended_metric_on_device(device):
    metric = ToyMetric().to(device)
    x = toy_images(4, (64, 64)).to(device)
    attack = create("attack", "ifgsm", preset="strong")
    adv = attack(defended(metric, create("defence", "jpeg")), x)
    assert adv.device.type == device.type and float((adv - x).abs().max()) <= 8 / 255 + 1e-6


def test_diffpure_through_diffusers_on_device(device):
    """The benchmark's DiffPure network (guided-diffusion 256x256 UNet, random weights) purifies a
    256x256 batch on the device: in range, changed, and deterministic under a seeded generator."""
    from iqa_purify.diffpure import DiffPure
    from iqa_purify.guided_diffusion import GuidedDiffusionConfig, unet_from_config

    torch.manual_seed(0)
    unet = unet_from_config(GuidedDiffusionConfig()).to(device)
    defence = DiffPure(t=2, unet=unet)
    x = toy_images(2, (256, 256), seed=2).to(device)
    _sync(device)
    start = time.perf_counter()
    with torch.no_grad():
        first = defence.purify(x, generator=torch.Generator(device).manual_seed(1))
    _sync(device)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        again = defence.purify(x, generator=torch.Generator(device).manual_seed(1))
    record("diffpure", device=str(device), t=2, seconds_batch2_256=seconds)
    assert first.shape == x.shape and first.device.type == device.type
    assert float(first.min()) >= 0 and float(first.max()) <= 1
    assert float((first - x).abs().mean()) > 0
    assert torch.allclose(first, again)


@pytest.mark.parametrize("certifier", ["rs", "ms"])
def test_certification_on_device(certifier, device):
    """RS (classification) and MS (regression) certificates of the demo metric on the device agree
    with the CPU ones on the same seeded noise draws."""
    metric = _demo_metric().eval()
    x = toy_images(2, (96, 96), seed=4)
    sizes = {"rs": {"n0": 16, "n": 64}, "ms": {"n": 64}}[certifier]
    make = lambda: create("certifier", certifier, **sizes)  # noqa: E731 - a fresh certifier each time
    cpu = make().certify(metric, x, generator=torch.Generator("cpu").manual_seed(0))
    dev_metric = metric.to(device)
    start = time.perf_counter()
    dev = make().certify(dev_metric, x.to(device), generator=torch.Generator(device).manual_seed(0))
    _sync(device)
    record("certify", certifier=certifier, device=str(device), seconds_2_images_64_samples=time.perf_counter() - start)
    assert len(dev) == len(cpu) == 2
    for a, b in zip(cpu, dev, strict=True):
        assert a.abstained == b.abstained or device.type == "cuda"  # CUDA noise streams differ from the CPU's
        if not b.abstained and b.score is not None:
            assert b.lower is not None and b.upper is not None and b.lower <= b.score <= b.upper


# ---------------------------------------------------------------- training


@pytest.fixture(scope="module")
def train_items(tmp_path_factory):
    from iqa_bench.demo import demo_dataset, write_demo_folder
    from iqa_train.datasets import IQAItem

    folder = tmp_path_factory.mktemp("demo")
    records = demo_dataset(
        references=["astronaut", "coffee"], distortions=["gaussian_blur", "white_noise"], levels=[1, 3, 5]
    )
    write_demo_folder(records, folder)
    items = [IQAItem(r.name, r.mos, folder / f"{r.name}.png") for r in records]
    return items[:8], items[8:]


@pytest.mark.parametrize("method", ["adversarial", "nt"])
def test_one_training_epoch_on_device(method, device, train_items, tmp_path):
    from iqa_train.api import train_adversarial, train_nt
    from iqa_train.trainer import TrainSettings

    settings = TrainSettings(
        epochs=1, batch_size=4, lr=1e-4, device=str(device), progress=False, amp=device.type == "cuda"
    )
    metric = _demo_metric()
    before = {k: v.clone() for k, v in metric.state_dict().items()}
    train, val = train_items
    start = time.perf_counter()
    if method == "adversarial":
        result = train_adversarial(metric, train, val, Path(tmp_path), settings=settings, measure="ssim")
    else:
        result = train_nt(metric, train, val, Path(tmp_path), settings=settings)
    record("train", method=method, device=str(device), seconds_one_epoch=time.perf_counter() - start)
    assert result.checkpoint.is_file() and len(result.log) == 1
    after = {k: v.cpu() for k, v in metric.state_dict().items()}
    assert any(not torch.equal(before[k], after[k]) for k in before), "one epoch changed no weight"


# ---------------------------------------------------------------- end to end


def test_quickstart_on_device(device):
    from iqa_bench.quickstart import run_quickstart

    result = run_quickstart(device=str(device), limit=12, progress=False)
    no_defence, non_adaptive, _ = result.rows
    assert no_defence.mean_attacked > no_defence.mean_clean
    assert non_adaptive.mean_purified_attacked < no_defence.mean_attacked
