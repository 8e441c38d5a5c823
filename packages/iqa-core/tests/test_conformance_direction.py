"""check_direction: passes metrics whose declared direction is right, fails those declared the wrong way round."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iqa_core import as_metric
from iqa_core.testing.conformance_direction import DEFAULT_LEVELS, check_direction, dead_leaves, distort
from iqa_core.types import Bounds

SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]).view(1, 1, 3, 3)


def _gray(images: Tensor) -> Tensor:
    return images.mean(1, keepdim=True)


class Sharpness(nn.Module):
    """Handcrafted sharpness: mean Sobel gradient magnitude (higher is sharper)."""

    name = "sobel-sharpness"
    bounds = Bounds(0.0, 4.0)
    differentiable = True

    def __init__(self, higher_is_better: bool = True) -> None:
        super().__init__()
        self.higher_is_better = higher_is_better

    def forward(self, images: Tensor) -> Tensor:
        gray = _gray(images)
        gx = F.conv2d(gray, SOBEL_X)
        gy = F.conv2d(gray, SOBEL_X.transpose(2, 3))
        return (gx**2 + gy**2 + 1e-12).sqrt().flatten(1).mean(1)


def noise_sigma(images: Tensor) -> Tensor:
    """Immerkaer's fast noise estimate: a Laplacian-difference mask's mean response (lower is better)."""
    mask = torch.tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]]).view(1, 1, 3, 3)
    response = F.conv2d(_gray(images), mask).abs()
    h, w = response.shape[-2:]
    return response.flatten(1).sum(1) * (torch.pi / 2) ** 0.5 / (6 * h * w)


def test_dead_leaves_are_seeded_images_in_range():
    a, b = dead_leaves(2, (40, 56), seed=3), dead_leaves(2, (40, 56), seed=3)
    assert a.shape == (2, 3, 40, 56) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, dead_leaves(2, (40, 56), seed=4))
    assert float(a.min()) >= 0 and float(a.max()) <= 1 and float(a.std()) > 0.1


def test_distortions_grow_with_the_level():
    x = dead_leaves(1, (48, 48))
    changes = {
        kind: [float((distort(x, kind, level) - x).abs().mean()) for level in levels]
        for kind, levels in DEFAULT_LEVELS.items()
    }
    for kind, values in changes.items():
        assert values[0] == 0, kind
        assert values == sorted(values) and values[-1] > values[1] > 0, (kind, values)
    with pytest.raises(ValueError, match="unknown distortion 'jpeg'"):
        distort(x, "jpeg", 1.0)


def test_a_sharpness_measure_passes_on_blur():
    report = check_direction(Sharpness(), distortions=("blur",))
    assert report.mean["blur"] <= -0.8
    assert len(report.scores["blur"]) == 4 and len(report.scores["blur"][0]) == len(DEFAULT_LEVELS["blur"])


def test_a_lower_is_better_noise_estimate_passes_on_noise():
    metric = as_metric(noise_sigma, higher_is_better=False, bounds=(0, 0.3), name="immerkaer-noise")
    report = check_direction(metric, distortions=("noise",))
    assert report.mean["noise"] <= -0.8
    assert not report.higher_is_better


def test_a_reversed_direction_fails_and_names_the_fix():
    with pytest.raises(AssertionError) as caught:
        check_direction(Sharpness(higher_is_better=False), distortions=("blur",))
    message = str(caught.value)
    assert "sobel-sharpness" in message and "higher_is_better=False" in message
    assert "probably reversed" in message and "higher_is_better=True" in message
    reversed_noise = as_metric(noise_sigma, higher_is_better=True, bounds=(0, 0.3), name="immerkaer-noise")
    with pytest.raises(AssertionError, match="rise as Gaussian noise grows"):
        check_direction(reversed_noise, distortions=("noise",))


def test_a_metric_blind_to_a_distortion_fails_without_blaming_the_direction():
    # A constant metric does not respond at all; sharpness rises with noise (noise adds gradients) while it
    # falls with blur, so the direction it declares is right and the message says so.
    constant = as_metric(lambda x: x.new_ones(x.shape[0]), higher_is_better=True, bounds=(0, 2), name="flat")
    with pytest.raises(AssertionError, match="flat: scores do not consistently get worse as Gaussian blur"):
        check_direction(constant, distortions=("blur",))
    with pytest.raises(AssertionError) as caught:
        check_direction(Sharpness(), distortions=("blur", "noise"))
    message = str(caught.value)
    assert "sobel-sharpness: its scores get better as Gaussian noise grows" in message
    assert "the declared direction (higher_is_better=True) fits" in message
    assert "distortions=('blur',)" in message and "probably reversed" not in message


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="unknown distortion 'jpeg'"):
        check_direction(Sharpness(), distortions=("jpeg",))
    with pytest.raises(ValueError, match="at least 3 increasing strengths"):
        check_direction(Sharpness(), distortions=("blur",), levels={"blur": (2.0, 1.0, 0.0)})
    with pytest.raises(ValueError, match="at least one"):
        check_direction(Sharpness(), distortions=())
    with pytest.raises(ValueError, match="min_correlation"):
        check_direction(Sharpness(), min_correlation=0)
    no_direction = as_metric(lambda x: x.mean((1, 2, 3)), higher_is_better=True, bounds=(0, 1))
    no_direction.higher_is_better = None  # type: ignore[assignment]
    with pytest.raises(AssertionError, match="higher_is_better must be a bool"):
        check_direction(no_direction)


def test_given_images_are_used():
    images = dead_leaves(2, (64, 80), seed=7)
    report = check_direction(Sharpness(), images, distortions=("blur",))
    assert len(report.scores["blur"]) == 2
