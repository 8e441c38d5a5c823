"""Every defence refuses NaN / infinite pixels and 0-255 images at its boundary (JPEG used to swallow NaN)."""

from __future__ import annotations

import pytest
import torch

import iqa_core
from iqa_core import ImageContractError

# defences that build without downloaded weights
OFFLINE = [
    "bilateral", "colour-quantization", "diffjpeg", "flip", "gaussian-blur", "jpeg", "median-blur",
    "random-crop", "random-noise", "random-rotate", "resize", "unsharp", "upscale",
]  # fmt: skip


@pytest.mark.parametrize("name", OFFLINE)
def test_bad_pixels_are_refused_with_the_fix(name):
    defence = iqa_core.create("defence", name)
    images = torch.rand(2, 3, 24, 24)
    with_nan = images.clone()
    with_nan[1, 0, 5, 5] = float("nan")
    with pytest.raises(ImageContractError, match="NaN or infinite"):
        defence(with_nan, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ImageContractError, match="divide by 255"):
        defence(images * 255, generator=torch.Generator().manual_seed(0))
