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


def codec_samples():
    """Seeded noise and smooth images of awkward sizes, and natural images (skimage.data)."""
    rng = np.random.default_rng(16)
    samples = []
    for h, w in [(40, 56), (33, 47), (17, 9), (1, 1), (7, 130)]:
        samples.append(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        walk = np.cumsum(rng.normal(0, 8, (h, w, 3)), axis=1) + 128
        samples.append(np.clip(walk, 0, 255).astype(np.uint8))
    from skimage import data

    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        samples.append(np.ascontiguousarray(getattr(data, name)()[::3, ::3, :3]))
    return samples


def pillow_roundtrip(array, quality, subsampling=2):
    buffer = io.BytesIO()
    Image.fromarray(array, mode="RGB").save(buffer, format="JPEG", quality=quality, subsampling=subsampling)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def test_batched_codec_is_used_exactly_when_torchvision_is_installed():
    import importlib.util

    from iqa_purify.jpeg import _batched_codec

    assert (_batched_codec() is not None) == (importlib.util.find_spec("torchvision") is not None)


def test_batched_codec_equals_pillow_at_every_quality():
    from iqa_purify.jpeg import _batched_codec

    codec = _batched_codec()
    assert codec is not None, "torchvision is installed but its JPEG codec does not write Pillow's bytes"
    samples = codec_samples()
    for quality in sorted({*range(1, 101, 3), 100, *(p["quality"] for p in presets("defence", "jpeg").values())}):
        for array in samples:
            ours = codec(torch.from_numpy(array).permute(2, 0, 1)[None].contiguous(), quality)
            assert np.array_equal(ours[0].permute(1, 2, 0).numpy(), pillow_roundtrip(array, quality)), (
                quality,
                array.shape,
            )


@pytest.mark.parametrize("quality", [q["quality"] for q in presets("defence", "jpeg").values()])
def test_defence_equals_the_pillow_loop_on_a_batch(quality):
    arrays = [a for a in codec_samples() if a.shape[:2] == (40, 56)]
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float() / 255
    expected = np.stack([pillow_roundtrip(a, quality) for a in arrays])
    ours = (JPEG(quality)(x).permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    assert np.array_equal(ours, expected)


def test_pillow_fallback_gives_the_same_images(monkeypatch):
    from iqa_purify import jpeg

    x = toy_images(3, (24, 40))
    batched = JPEG(quality=30)(x)
    monkeypatch.setattr(jpeg, "_batched_codec", lambda: None)
    assert torch.equal(JPEG(quality=30)(x), batched)


def test_444_subsampling_goes_through_pillow():
    array = codec_samples()[1]
    x = torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255
    ours = (JPEG(quality=50, subsampling=0)(x)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    assert np.array_equal(ours, pillow_roundtrip(array, 50, subsampling=0))
    assert not np.array_equal(ours, pillow_roundtrip(array, 50, subsampling=2))
