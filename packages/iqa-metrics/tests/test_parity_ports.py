"""Parity of the four ported metrics with their official code (goldens written by ``tools/parity/<name>.py``).

Each golden holds the official code's outputs on ``seeded_state_dict`` weights (a pure function of
key, shape and seed: the ports have the official key layout, so they get the same weights) and on
``seeded_images`` quantised to uint8 as the official loaders read them. The tests build the port,
load the same weights through the real checkpoint loader, and compare scores and input gradients.
Tolerances are for float32 on the CPU (different but equivalent operation orders).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from iqa_core.testing.parity import assert_matches_golden, load_golden, seeded_images, seeded_state_dict


@pytest.fixture(autouse=True)
def one_thread():
    """The goldens were generated on one CPU thread: deep random networks amplify the float32
    rounding of multi-threaded reductions into ~1e-2 relative gradient differences, so compare in the
    generator's (deterministic) summation order."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


GOLDENS = Path(__file__).parent / "goldens"

pytestmark = pytest.mark.slow

SCORE_RTOL = 1e-4
GRAD_RTOL = 1e-3


def quantised(seed: int, shape: list[int]) -> torch.Tensor:
    """``seeded_images`` as the official loaders see them: uint8 pixels read back as ``u8 / 255``."""
    x = seeded_images(seed, shape)
    return ((x * 255).round().clamp(0, 255) / 255).to(torch.float32)


def block_sums(grad: torch.Tensor, block: int) -> torch.Tensor:
    c, h, w = grad.shape
    return (
        grad[:, : h // block * block, : w // block * block]
        .reshape(c, h // block, block, w // block, block)
        .sum(dim=(2, 4))
    )


def compare_gradient(
    grad: torch.Tensor, expected: dict[str, Any], positions: list[list[int]], block: int, what: str
) -> float:
    """Compare a ``(3, H, W)`` input gradient with the golden's summary; return the largest relative difference."""
    scale = float(np.abs(np.asarray(expected["at"])).max())
    worst = 0.0
    worst = max(
        worst,
        assert_matches_golden(grad.abs().sum(), expected["l1"], rtol=GRAD_RTOL, atol=0, what=f"{what} L1")
        / abs(expected["l1"]),
    )
    bs = block_sums(grad, block)
    bs_scale = float(np.abs(np.asarray(expected["block_sums"])).max())
    diff = assert_matches_golden(
        bs, expected["block_sums"], rtol=GRAD_RTOL, atol=GRAD_RTOL * bs_scale, what=f"{what} block sums"
    )
    worst = max(worst, diff / bs_scale)
    at = torch.stack([grad[c, y, x] for c, y, x in positions])
    worst = max(
        worst,
        assert_matches_golden(at, expected["at"], rtol=GRAD_RTOL, atol=GRAD_RTOL * scale, what=f"{what} values")
        / scale,
    )
    return worst


# ----------------------------------------------------------------------------------------------- LinearityIQA
@pytest.fixture(scope="module")
def linearity_golden() -> Any:
    return load_golden(GOLDENS / "linearity.json")


def _linearity(tmp_path: Path, case: dict[str, Any], resize: tuple[int, int] | None) -> Any:
    from iqa_metrics.linearity import LinearityIQA, LinearityNet

    with torch.device("meta"):
        layout = LinearityNet()
    path = tmp_path / "p1q2.pth"  # the official checkpoint format, through the real loader
    torch.save({"model": seeded_state_dict(layout, 0), "k": case["inputs"]["k"], "b": case["inputs"]["b"]}, path)
    return LinearityIQA(weights=path, resize=resize)


def test_linearity_scores_outputs_and_gradients_match_the_official_code(tmp_path: Path, linearity_golden: Any) -> None:
    from iqa_metrics._base import IMAGENET_MEAN, IMAGENET_STD, normalise

    case = linearity_golden.case("demo-noresize")
    model = _linearity(tmp_path, case, resize=None)
    x = quantised(case["inputs"]["image_seed"], case["inputs"]["shape"]).requires_grad_(True)
    score = model(x)
    what = f"linearity vs {linearity_golden.origin}"
    assert_matches_golden(score.detach(), case["outputs"]["score"], rtol=SCORE_RTOL, atol=0, what=f"{what} score")
    with torch.no_grad():
        y = model.net(normalise(x, IMAGENET_MEAN, IMAGENET_STD))[0]
    assert_matches_golden(y, case["outputs"]["y"], rtol=SCORE_RTOL, atol=1e-5, what=f"{what} raw outputs")
    score.sum().backward()
    assert x.grad is not None
    compare_gradient(x.grad[0], case["outputs"]["grad"], case["outputs"]["grad_positions"], 32, f"{what} gradient")


def test_linearity_official_resize_path(tmp_path: Path, linearity_golden: Any) -> None:
    """``--resize``: PIL resizes the uint8 image, the port the float tensor; a looser, documented tolerance."""
    case = linearity_golden.case("demo-resize")
    model = _linearity(tmp_path, case, resize=tuple(case["inputs"]["resize"]))
    x = quantised(case["inputs"]["image_seed"], case["inputs"]["shape"])
    with torch.no_grad():
        score = model(x)
    assert_matches_golden(score, case["outputs"]["score"], rtol=1e-3, atol=0, what="linearity --resize score")


# ----------------------------------------------------------------------------------------------- KonCept512
@pytest.fixture(scope="module")
def koncept_golden() -> Any:
    return load_golden(GOLDENS / "koncept512.json")


def _koncept(tmp_path: Path, case: dict[str, Any], size: tuple[int, int]) -> Any:
    from iqa_metrics.koncept import KonCept512, KonCept512Net

    with torch.device("meta"):
        layout = KonCept512Net()
    path = tmp_path / "KonCept512.pth"  # the official format: a plain state_dict
    torch.save(seeded_state_dict(layout, 0, scale=case["inputs"]["weight_scale"]), path)
    return KonCept512(weights=path, resize=size)


def test_koncept512_scores_and_gradients_match_the_official_notebook(tmp_path: Path, koncept_golden: Any) -> None:
    case = koncept_golden.case("notebook-384x512")
    model = _koncept(tmp_path, case, (384, 512))
    shape = case["inputs"]["shape"][1:]
    x = torch.stack([quantised(seed, shape) for seed in case["inputs"]["image_seeds"]])
    what = f"koncept512 vs {koncept_golden.origin}"
    with torch.no_grad():
        scores = model(x)
    assert_matches_golden(scores, case["outputs"]["score"], rtol=SCORE_RTOL, atol=1e-5, what=f"{what} scores")
    first = x[:1].clone().requires_grad_(True)
    model(first).sum().backward()
    assert first.grad is not None
    expected = case["outputs"]["grad_of_first"]
    compare_gradient(first.grad[0], expected["summary"], expected["positions"], 32, f"{what} gradient")


def test_koncept512_at_the_benchmark_wrappers_size(tmp_path: Path, koncept_golden: Any) -> None:
    """The benchmark's wrapper feeds 512 high x 384 wide; ``resize=(512, 384)`` reproduces it."""
    case = koncept_golden.case("wrapper-512x384")
    model = _koncept(tmp_path, case, (512, 384))
    x = quantised(case["inputs"]["image_seeds"][0], case["inputs"]["shape"][1:]).unsqueeze(0)
    with torch.no_grad():
        score = model(x)
    assert_matches_golden(score, case["outputs"]["score"], rtol=SCORE_RTOL, atol=1e-5, what="koncept512 512x384 score")


# ----------------------------------------------------------------------------------------------- SPAQ
@pytest.fixture(scope="module")
def spaq_golden() -> Any:
    return load_golden(GOLDENS / "spaq.json")


def _spaq(tmp_path: Path, case: dict[str, Any]) -> Any:
    from iqa_metrics.spaq import SPAQBaseline, SPAQNet

    with torch.device("meta"):
        layout = SPAQNet()
    path = tmp_path / "BL_release.pt"  # the official format: {"state_dict": ...}
    torch.save({"state_dict": seeded_state_dict(layout, 0, scale=case["inputs"]["weight_scale"])}, path)
    return SPAQBaseline(weights=path)


def test_spaq_scores_patches_and_gradients_match_the_official_demo(tmp_path: Path, spaq_golden: Any) -> None:
    case = spaq_golden.case("demo-512x512")
    model = _spaq(tmp_path, case)
    x = quantised(case["inputs"]["image_seed"], case["inputs"]["shape"][1:]).unsqueeze(0).requires_grad_(True)
    what = f"spaq vs {spaq_golden.origin}"
    with torch.no_grad():
        patch_scores = model.net(model.patches(x).flatten(0, 1))
    assert_matches_golden(
        patch_scores, case["outputs"]["patch_scores"], rtol=SCORE_RTOL, atol=1e-5, what=f"{what} patch scores"
    )
    score = model(x)
    assert_matches_golden(score.detach(), case["outputs"]["score"], rtol=SCORE_RTOL, atol=1e-5, what=f"{what} score")
    score.sum().backward()
    assert x.grad is not None
    compare_gradient(x.grad[0], case["outputs"]["grad"], case["outputs"]["grad_positions"], 32, f"{what} gradient")


def test_spaq_official_resize_path(tmp_path: Path, spaq_golden: Any) -> None:
    """``Resize(512)``: PIL resizes the uint8 image, the port the float tensor; a looser, documented tolerance."""
    case = spaq_golden.case("demo-resize")
    model = _spaq(tmp_path, case)
    x = quantised(case["inputs"]["image_seed"], case["inputs"]["shape"][1:]).unsqueeze(0)
    assert model.patches(x).shape[1] == case["outputs"]["n_patches"]
    with torch.no_grad():
        score = model(x)
    assert_matches_golden(score, case["outputs"]["score"], rtol=1e-3, atol=1e-3, what="spaq Resize(512) score")


# ----------------------------------------------------------------------------------------------- FPR
@pytest.fixture(scope="module")
def fpr_golden() -> Any:
    return load_golden(GOLDENS / "fpr.json")


@pytest.mark.parametrize("name", ["test-192x256", "test-150x200"])
def test_fpr_scores_and_gradients_match_the_official_test_path(tmp_path: Path, fpr_golden: Any, name: str) -> None:
    from iqa_metrics.fpr import FPRMetric, FPRNet, fpr_patches

    case = fpr_golden.case(name)
    with torch.device("meta"):
        layout = FPRNet()
    path = tmp_path / "model_best_kadid_0.pkl"  # the official format: {"state_dict": ..., "epoch": ...}
    torch.save({"state_dict": seeded_state_dict(layout, 0), "epoch": 0}, path)
    model = FPRMetric(weights=path)
    x = quantised(case["inputs"]["image_seed"], case["inputs"]["shape"][1:]).unsqueeze(0).requires_grad_(True)
    assert fpr_patches(x).shape[1] == case["outputs"]["n_patches"]
    what = f"fpr {name} vs {fpr_golden.origin}"
    score = model(x)
    assert_matches_golden(score.detach(), case["outputs"]["score"], rtol=SCORE_RTOL, atol=1e-5, what=f"{what} score")
    score.sum().backward()
    assert x.grad is not None
    compare_gradient(x.grad[0], case["outputs"]["grad"], case["outputs"]["grad_positions"], 32, f"{what} gradient")
