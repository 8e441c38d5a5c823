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
