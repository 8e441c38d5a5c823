import io

import numpy as np
import pytest
import torch
from PIL import Image

from iqa_core import create, defended, measures, presets
from iqa_core.testing import ToyMetric, check_defence, toy_images
from iqa_purify import JPEG


@pytest.mark.parametrize("preset", list(presets("defence", "jpeg")))
def test_presets_conform(preset):
    check_defence(create("defence", "jpeg", preset=preset))


def test_presets_follow_the_catalogue_ordered_weak_to_strong():
    table = presets("defence", "jpeg")
    assert [p["quality"] for p in table.values()] == [90, 70, 50, 30, 10]
    assert create("defence", "jpeg").quality == 50  # the paper's default


def test_stronger_presets_remove_more_detail():
    x = toy_images(2, (64, 64))
    errors = [float(measures.mse(x, create("defence", "jpeg", preset=p)(x)).mean()) for p in presets("defence", "jpeg")]
    assert errors == sorted(errors)


def test_matches_the_real_codec_byte_for_byte():
    x = toy_images(1, (40, 56))
    array = (x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=30)
    expected = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    ours = (JPEG(quality=30)(x)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    assert np.array_equal(ours, expected)


def test_bpda_surrogate_gives_gradients_through_defended():
    x = toy_images(1, (32, 32)).requires_grad_(True)
    defended(ToyMetric(), JPEG(quality=10))(x).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_bad_quality_and_bad_input():
    with pytest.raises(ValueError, match="quality"):
        JPEG(quality=0)
    with pytest.raises(ValueError, match="unsqueeze"):
        JPEG()(torch.rand(3, 8, 8))
