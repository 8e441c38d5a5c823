"""The shipped demo metric: offline, contract-conforming, and it ranks quality sensibly on held-out photos."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import data as skdata

from iqa_core import create
from iqa_core.testing import check_metric, toy_images
from iqa_core.weights import WeightsNotFoundError
from iqa_metrics.demo import DemoCNNIQA, demo_info


@pytest.fixture(scope="module")
def metric():
    return create("metric", "demo-cnniqa")


def _photo(name: str, size=(128, 160)) -> torch.Tensor:
    """A held-out photo (the demo dataset's references, never used in training), centre-cropped."""
    array = getattr(skdata, name)()
    h, w = array.shape[:2]
    top, left = (h - size[0] * 2) // 2, (w - size[1] * 2) // 2
    crop = array[top : top + size[0] * 2, left : left + size[1] * 2, :3]
    image = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float().div(255)[None]
    return F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def test_conforms_to_the_metric_contract(metric):
    assert isinstance(metric, DemoCNNIQA) and metric.name == "demo-cnniqa"
    check_metric(metric, toy_images(3, (64, 96)))


def test_bounds_and_heldout_figures_are_shipped(metric):
    info = demo_info()
    assert metric.bounds.lower == pytest.approx(info["bounds"]["lower"])
    assert metric.bounds.upper == pytest.approx(info["bounds"]["upper"])
    assert -1 <= info["heldout_srocc"] <= 1 and info["heldout"]["images"] > 0  # recorded by the training script


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_ranks_clean_above_blurred_and_noised(metric, name):
    clean = _photo(name)
    blurred = F.avg_pool2d(F.pad(clean, (3, 3, 3, 3), mode="reflect"), 7, stride=1)
    noised = (clean + 0.15 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    with torch.no_grad():
        scores = metric(torch.cat([clean, blurred, noised]))
    assert scores[0] > scores[1] and scores[0] > scores[2], scores.tolist()


def test_missing_and_corrupt_weights_fail_clearly(tmp_path):
    with pytest.raises(WeightsNotFoundError, match=r"tools/train_demo_metric\.py"):
        DemoCNNIQA(weights=tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="could not be read"):
        DemoCNNIQA(weights=bad)
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "wrong.pt")
    with pytest.raises(ValueError, match="does not match"):
        DemoCNNIQA(weights=tmp_path / "wrong.pt")


def test_weights_override_loads_another_file(tmp_path, metric):
    path = tmp_path / "copy.pt"
    torch.save(metric.net.state_dict(), path)
    other = DemoCNNIQA(weights=path)
    x = toy_images(2, (64, 64))
    with torch.no_grad():
        assert torch.allclose(other(x), metric(x))


@pytest.mark.parametrize("size", [(128, 160), (45, 70), (32, 32)])
def test_a_batch_scores_each_image_as_if_alone(metric, size):
    x = toy_images(3, size)
    with torch.no_grad():
        batched = metric(x)
        alone = torch.cat([metric(x[i : i + 1]) for i in range(3)])
    assert batched.shape == (3,) and batched.dtype == torch.float32
    assert torch.allclose(batched, alone, atol=1e-4, rtol=0)


def test_gradients_reach_the_input_and_are_finite(metric):
    x = toy_images(2, (128, 160)).requires_grad_(True)
    (grad,) = torch.autograd.grad(metric(x).sum(), x)
    assert torch.isfinite(grad).all() and float(grad.abs().sum()) > 0


def test_images_below_one_patch_are_rejected(metric):
    with pytest.raises(ValueError, match="at least 32x32"):
        metric(torch.rand(1, 3, 31, 64))


def test_demo_metric_declares_the_minimum_input_it_accepts():
    import torch

    import iqa_core

    metric = iqa_core.create("metric", "demo-cnniqa")
    height, width = metric.min_size
    assert torch.isfinite(metric(torch.rand(1, 3, height, width))).all()
    with pytest.raises(ValueError, match="at least 32x32"):
        metric(torch.rand(1, 3, height - 1, width))


def test_demo_weights_full_of_nan_are_refused(tmp_path):
    import torch

    import iqa_core
    from iqa_core.weights import CorruptWeightsError

    state = iqa_core.create("metric", "demo-cnniqa").net.state_dict()
    state = {
        key: torch.full_like(value, float("nan")) if value.is_floating_point() else value
        for key, value in state.items()
    }
    torch.save(state, tmp_path / "nan.pt")
    with pytest.raises(CorruptWeightsError, match="NaN or infinite"):
        iqa_core.create("metric", "demo-cnniqa", weights=str(tmp_path / "nan.pt"))
