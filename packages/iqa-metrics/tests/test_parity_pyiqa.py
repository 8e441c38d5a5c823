"""The five pyiqa-backed benchmark metrics against their official code (goldens from tools/parity/pyiqa_metrics.py).

Each metric is built through the adapter offline (random stand-in backbones where pyiqa would
download them), then given the golden's seeded weights: the seeded state_dict is written under the
*official* key names and in the official file format, and loaded with ``weights=PATH`` (so the key
conversion of the adapter's loader is part of what is checked). Scores and an input-gradient summary
(sum, sum of |.|, per-channel sums, a strided grid) are compared with the official numbers.

* PaQ-2-PiQ (baidut/paq2piq): ``InferenceModel.predict`` on a uint8 image; the model's global score
  with gradients on a batch of 2.
* MANIQA (IIGROUP/MANIQA): one 224 crop at a fixed position (top left; the official scripts draw
  random or five-point crops) through pyiqa's forward; the benchmark wrapper's resize-to-224 path
  (the adapter's default).
* CLIP-IQA+ (IceClear/CLIP-IQA): the coop predictor with RN50 on a 224 x 224 image, float32 (the
  official code runs CLIP in fp16 on a GPU).
* MetaIQA (zhuhancheng/MetaIQA): the official test transform at 224 x 224; the benchmark wrapper at
  native size (the adapter's default).
* TOPIQ-NR (chaofengc/IQA-PyTorch = pyiqa): the checkout's pyiqa vs the pinned wheel through the adapter.

Tolerances: scores rtol 1e-4; gradient summaries rtol 1e-4 with atol 1e-4 x the largest golden
gradient value (float32 with different summation orders: oneDNN vs native convolutions, fused vs
plain attention in timm 0.5.5 and the installed timm).
"""

from __future__ import annotations

import gc
import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor

from iqa_core.testing.parity import Golden, assert_matches_golden, load_golden, seeded_images, seeded_state_dict
from iqa_metrics.offline import offline_backbones, stand_in_options, write_clip_rn50_archive
from iqa_metrics.pyiqa_adapter import PyiqaMetric


@pytest.fixture(autouse=True)
def one_thread():
    """The goldens were generated on one CPU thread: deep random networks amplify the float32
    rounding of multi-threaded reductions into ~1e-2 relative gradient differences, so compare in the
    generator's (deterministic) summation order."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning", "ignore::DeprecationWarning")

GOLDENS = Path(__file__).parent / "goldens"
#: tools/parity/pyiqa_metrics.py WEIGHT_SEEDS
WEIGHT_SEEDS = {"paq2piq": 101, "maniqa": 102, "clipiqa_plus": 103, "metaiqa": 104, "topiq_nr": 105}
MANIQA_SCALE = 0.75  # tools/parity/pyiqa_metrics.py: well-conditioned random MANIQA
REFERENCES = {
    "paq2piq": "baidut/paq2piq",
    "maniqa": "IIGROUP/MANIQA",
    "clipiqa_plus": "IceClear/CLIP-IQA",
    "metaiqa": "zhuhancheng/MetaIQA",
    "topiq_nr": "chaofengc/IQA-PyTorch",
}
SCORE_RTOL = 1e-4
GRAD_RTOL = 1e-4
GRAD_ATOL_FRACTION = 1e-4


def golden(metric: str) -> Golden:
    return load_golden(GOLDENS / f"{metric}.json")


def images_of(case: dict[str, Any]) -> Tensor:
    inputs = case["inputs"]
    return seeded_images(inputs["image_seed"], inputs["shape"])


def compare(metric: PyiqaMetric, case: dict[str, Any], what: str, images: Tensor | None = None) -> dict[str, float]:
    """Score and gradient summary of ``metric`` on the case's images against the golden; max diffs."""
    x = (images_of(case) if images is None else images).clone().requires_grad_(True)
    scores = metric(x)
    expected = case["outputs"]
    diffs = {"score": assert_matches_golden(scores, expected["score"], rtol=SCORE_RTOL, atol=0.0, what=f"{what} score")}
    if "grad_grid" not in expected:
        print(f"{what}: max abs differences {diffs}")
        return diffs
    (grad,) = torch.autograd.grad(scores.sum(), x)
    g = grad.double()
    stride = case["inputs"]["grad_stride"]
    atol = GRAD_ATOL_FRACTION * float(np.abs(np.asarray(expected["grad_grid"])).max())
    actual = {
        "grad_grid": g[:, :, ::stride, ::stride],
        "grad_channel_sum": g.sum(dim=(2, 3)),
        "grad_sum": float(g.sum()),
        "grad_abs_sum": float(g.abs().sum()),
    }
    for key, value in actual.items():
        tol = atol * (g[0, 0].numel() if key in ("grad_channel_sum", "grad_sum") else 1)
        if key == "grad_abs_sum":
            tol = 0.0
        diffs[key] = assert_matches_golden(value, expected[key], rtol=GRAD_RTOL, atol=tol, what=f"{what} {key}")
    print(f"{what}: max abs differences {diffs}")  # shown with -s: the numbers docs/parity.md reports
    return diffs


@pytest.fixture
def offline_root(tmp_path: Path) -> Iterator[Path]:
    with offline_backbones(tmp_path):
        yield tmp_path
    gc.collect()


@pytest.mark.parametrize("metric", sorted(REFERENCES))
def test_golden_records_the_official_reference(metric: str) -> None:
    g = golden(metric)
    assert g.origin.startswith(REFERENCES[metric] + "@")
    assert g["generator"] == "tools/parity/pyiqa_metrics.py"


# ---------------------------------------------------------------- PaQ-2-PiQ
def test_paq2piq_matches_the_official_inference_model(offline_root: Path) -> None:
    options = stand_in_options("paq2piq", offline_root)
    options.pop("pretrained")
    layout = PyiqaMetric("paq2piq", pretrained=False, **options).inner.net  # keys = the release's (body.*, head.*)
    path = offline_root / "RoIPoolModel-fit.10.bs.120.pth"
    torch.save({"model": seeded_state_dict(layout, seed=WEIGHT_SEEDS["paq2piq"])}, path)  # the release's format
    del layout
    metric = PyiqaMetric("paq2piq", weights=path, **options)
    g = golden("paq2piq")
    predict = g.case("predict_from_pil_image")
    pixels = (images_of(predict) * 255).round().to(torch.uint8)  # what the official ToTensor reads back
    with torch.no_grad():
        score = metric(pixels.float() / 255)
    assert_matches_golden(score, predict["outputs"]["score"], rtol=SCORE_RTOL, atol=0.0, what="paq2piq predict")
    compare(metric, g.case("forward_batch2"), "paq2piq forward_batch2")


# ---------------------------------------------------------------- MANIQA
@pytest.fixture
def maniqa(offline_root: Path) -> Iterator[dict[str, PyiqaMetric]]:
    options = stand_in_options("maniqa", offline_root)
    options.pop("pretrained")
    options["test_sample"] = 1
    layout = PyiqaMetric("maniqa", pretrained=False, **options).inner.net
    path = offline_root / "ckpt_koniq10k.pt"
    torch.save(
        seeded_state_dict(layout, seed=WEIGHT_SEEDS["maniqa"], scale=MANIQA_SCALE), path
    )  # official keys = pyiqa's
    del layout
    benchmark = PyiqaMetric("maniqa", weights=path, **options)
    pyiqa_path = PyiqaMetric("maniqa", weights=path, preprocessing="pyiqa", **options)
    yield {"benchmark": benchmark, "pyiqa": pyiqa_path}


def test_maniqa_crop_matches_the_official_model(maniqa: dict[str, PyiqaMetric]) -> None:
    """pyiqa's forward with 1 crop (top left of a 256 x 256 image) = the official model on that crop."""
    compare(maniqa["pyiqa"], golden("maniqa").case("crop_top_left"), "maniqa crop_top_left")


def test_maniqa_default_is_the_benchmark_wrapper(maniqa: dict[str, PyiqaMetric]) -> None:
    """Default preprocessing = metrics/subjects/maniqa/model.py: resize to 224 x 224, Normalize(0.5, 0.5), one pass."""
    metric = maniqa["benchmark"]
    assert metric.preprocessing == "benchmark"
    case = golden("maniqa").case("benchmark_wrapper_resize")
    compare(metric, case, "maniqa benchmark_wrapper_resize")
    # pyiqa's own path (crops of an upscaled image) scores the same image differently: why the default matters
    with torch.no_grad():
        via_pyiqa = float(maniqa["pyiqa"](images_of(case))[0])
    assert abs(via_pyiqa - case["outputs"]["score"][0]) > 1e-3


# ---------------------------------------------------------------- CLIP-IQA+
def test_clipiqa_plus_matches_the_official_predictor(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from clip.model import CLIP

    layout = CLIP(
        embed_dim=1024, image_resolution=224, vision_layers=(3, 4, 6, 3), vision_width=64, vision_patch_size=None,
        context_length=77, vocab_size=49408, transformer_width=512, transformer_heads=8, transformer_layers=12,
    )  # fmt: skip
    seeded = seeded_state_dict(layout, seed=WEIGHT_SEEDS["clipiqa_plus"])  # OpenAI's key names
    del layout
    # as the generator: fp16-representable values (OpenAI's files are fp16; pyiqa's loader rounds through
    # fp16) and CLIP's trained temperature ln(100)
    seeded = {k: v.half().float() if v.is_floating_point() else v for k, v in seeded.items()}
    seeded["logit_scale"] = torch.tensor(math.log(100.0)).half().float()
    # OpenAI's release format (a TorchScript archive): pyiqa's CLIP loader reads only that
    backbone = write_clip_rn50_archive(tmp_path / "RN50.pt", seeded)
    del seeded
    ctx_key = "clipmodel_0.prompt_learner.ctx"  # the official predictor's learned context (16 x 512)
    prompts = tmp_path / "CLIP-IQA+_learned_prompts.pth"
    torch.save(seeded_state_dict({ctx_key: (16, 512)}, seed=WEIGHT_SEEDS["clipiqa_plus"])[ctx_key], prompts)
    metric = PyiqaMetric("clipiqa+", backbone=str(backbone), weights=prompts)
    compare(metric, golden("clipiqa_plus").case("rn50_224"), "clipiqa+ rn50_224")


# ---------------------------------------------------------------- MetaIQA
def metaiqa_official_checkpoint(path: Path) -> Path:
    """The seeded weights under the official names (resnet_layer.*, net.*), as the official and benchmark files."""
    layout = PyiqaMetric("metaiqa", pretrained=False).inner.net.state_dict()
    official = {
        ("net." + k[len("head.") :] if k.startswith("head.") else k): v
        for k, v in layout.items()
        if k not in ("mean", "std")
    }
    torch.save(seeded_state_dict(official, seed=WEIGHT_SEEDS["metaiqa"]), path)
    return path


def test_metaiqa_matches_the_official_model_and_the_benchmark_wrapper(tmp_path: Path) -> None:
    path = metaiqa_official_checkpoint(tmp_path / "metaiqa.pth")
    g = golden("metaiqa")
    default = PyiqaMetric("metaiqa", weights=path)
    via_pyiqa = PyiqaMetric("metaiqa", weights=path, preprocessing="pyiqa")
    assert default.preprocessing == "benchmark"
    # at 224 x 224 every path is the official model (the official Rescale and pyiqa's resize are no-ops)
    official = g.case("official_transform_224")
    for metric in (default, via_pyiqa):
        with torch.no_grad():
            score = metric(images_of(official))
        assert_matches_golden(score, official["outputs"]["score"], rtol=SCORE_RTOL, atol=0.0, what="metaiqa official")
        compare(metric, g.case("normalised_224_batch2"), f"metaiqa normalised_224_batch2 ({metric.preprocessing})")
    # native size: the default is the benchmark's wrapper (no resize); pyiqa's resize to 224 differs
    wrapper = g.case("benchmark_wrapper_native")
    compare(default, wrapper, "metaiqa benchmark_wrapper_native")
    with torch.no_grad():
        resized = via_pyiqa(images_of(wrapper))
    assert (resized - torch.tensor(wrapper["outputs"]["score"])).abs().max() > 1e-3


# ---------------------------------------------------------------- TOPIQ-NR
def test_topiq_nr_matches_the_authors_pyiqa_checkout(tmp_path: Path) -> None:
    options = {"pretrained": False, "backbone_pretrain": False}
    layout = PyiqaMetric("topiq_nr", **options).inner.net
    path = tmp_path / "cfanet_nr_koniq_res50.pth"
    torch.save({"params": seeded_state_dict(layout, seed=WEIGHT_SEEDS["topiq_nr"])}, path)  # the release's format
    del layout
    metric = PyiqaMetric("topiq_nr", weights=path, backbone_pretrain=False)
    compare(metric, golden("topiq_nr").case("batch2_192x256"), "topiq_nr batch2_192x256")
