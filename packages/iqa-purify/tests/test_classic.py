import io

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from iqa_core import defended, measures
from iqa_core.testing import ToyMetric, check_defence, toy_images
from iqa_purify.bilateral import Bilateral
from iqa_purify.crop import RandomCrop
from iqa_purify.diffjpeg import DiffJPEG
from iqa_purify.flip import Flip
from iqa_purify.gaussian_blur import GaussianBlur, sigma_for_kernel
from iqa_purify.median_blur import MedianBlur, median_filter
from iqa_purify.noise import RandomNoise
from iqa_purify.quantization import ColourQuantization
from iqa_purify.resize import Resize
from iqa_purify.rotate import RandomRotate
from iqa_purify.unsharp import Unsharp
from iqa_purify.upscale import BilinearUpscale

CLASSES = [
    DiffJPEG,
    ColourQuantization,
    Resize,
    BilinearUpscale,
    RandomRotate,
    RandomCrop,
    Flip,
    GaussianBlur,
    MedianBlur,
    Bilateral,
    Unsharp,
    RandomNoise,
]
CASES = [(cls, p) for cls in CLASSES for p in (cls.presets or {None: {}})]

CATALOGUE = {  # benchmark Table 8, weak -> strong, with the paper's default
    DiffJPEG: ("quality", [90, 70, 50, 30, 10], 50),
    ColourQuantization: ("levels", [25, 20, 16, 5, 2], 16),
    Resize: ("scale", [0.9, 0.75, 0.5, 0.25, 0.1], 0.5),
    BilinearUpscale: ("scale", [0.9, 0.75, 0.5, 0.25, 0.1], 0.5),
    RandomRotate: ("angle_limit", [10, 15, 20, 30, 50], 15),
    RandomCrop: ("size", [288, 256, 128, 64, 32], 128),
    GaussianBlur: ("kernel_size", [3, 5, 7, 9, 11], 3),
    MedianBlur: ("kernel_size", [3, 5, 7, 9, 11], 3),
    Unsharp: ("kernel_size", [3, 5, 7, 9, 11], 3),
    RandomNoise: ("sigma", [0.01, 0.025, 0.05, 0.075, 0.1], 0.01),
}


@pytest.mark.parametrize(("cls", "preset"), CASES, ids=[f"{c.name}-{p}" for c, p in CASES])
def test_every_preset_conforms(cls, preset):
    params = cls.presets[preset] if preset is not None else {}
    check_defence(cls(**params))


@pytest.mark.parametrize("cls", list(CATALOGUE), ids=lambda c: c.name)
def test_presets_follow_the_catalogue(cls):
    key, values, default = CATALOGUE[cls]
    assert len(cls.presets) == 5
    assert [p[key] for p in cls.presets.values()] == values
    assert cls.presets[cls.default_preset][key] == default


def test_stronger_presets_change_more():
    x = toy_images(2, (64, 64))
    for cls in (DiffJPEG, ColourQuantization, Resize, BilinearUpscale, GaussianBlur, MedianBlur, RandomNoise):
        g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
        errors = [float(measures.mse(x, cls(**p)(x, generator=g())).mean()) for p in cls.presets.values()]
        assert errors == sorted(errors), (cls.name, errors)


def test_input_size_kept_on_large_odd_images():
    x = toy_images(1, (61, 97))
    for cls in CLASSES:
        assert cls()(x, generator=torch.Generator().manual_seed(1)).shape == x.shape


def test_randomized_defences_differ_between_seeds_and_images():
    x = toy_images(2, (48, 48))
    x = torch.cat([x[:1], x[:1]])
    for defence in (RandomRotate(), RandomCrop(24), RandomNoise()):
        a = defence(x, generator=torch.Generator().manual_seed(0))
        b = defence(x, generator=torch.Generator().manual_seed(1))
        assert not torch.equal(a, b), defence.name
        assert not torch.equal(a[0], a[1]), f"{defence.name}: one draw per image"
        assert defence.randomized
    for cls in set(CLASSES) - {RandomRotate, RandomCrop, RandomNoise}:
        assert not cls.randomized


def test_gaussian_blur_matches_scipy():
    x = toy_images(1, (30, 41))
    for k in (3, 7, 11):
        s = sigma_for_kernel(k)
        ours = GaussianBlur(k)(x)[0].numpy()
        ref = np.stack([ndimage.gaussian_filter(c, s, mode="mirror", truncate=(k // 2) / s) for c in x[0].numpy()])
        np.testing.assert_allclose(ours, ref, atol=1e-5)
    assert sigma_for_kernel(3) == pytest.approx(0.8)  # OpenCV's sigma for ksize 3


@pytest.mark.parametrize(("padding", "mode"), [("reflect", "mirror"), ("replicate", "nearest"), ("zeros", "constant")])
def test_median_blur_matches_scipy(padding, mode):
    x = toy_images(2, (23, 31))
    for k in (3, 5, 11):
        ours = median_filter(x, k, padding).numpy()
        ref = ndimage.median_filter(x.numpy(), size=(1, 1, k, k), mode=mode, cval=0.0)
        np.testing.assert_allclose(ours, ref, atol=0)


def test_median_blur_row_chunks_agree():
    x = toy_images(1, (50, 20))
    assert torch.equal(median_filter(x, 5, rows_per_chunk=7), median_filter(x, 5, rows_per_chunk=1000))


def test_median_blur_edges_are_not_darkened_unlike_zero_padding():
    x = torch.full((1, 3, 16, 16), 0.8)
    assert torch.allclose(MedianBlur(5)(x), x)
    assert float(MedianBlur(5, padding="zeros")(x)[..., 0, 0].max()) < 0.8


def test_diffjpeg_is_close_to_the_real_codec():
    from skimage import data

    img = torch.from_numpy(data.astronaut()[:128, 128:288].copy()).permute(2, 0, 1)[None].float() / 255
    arr = (img[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    for q in (10, 50, 90):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="JPEG", quality=q)
        real = torch.from_numpy(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).copy())
        real = real.permute(2, 0, 1)[None].float() / 255
        ours = DiffJPEG(q)(img)
        gap = float(measures.psnr(real, ours).mean())
        to_source = float(measures.psnr(img, real).mean())
        # Documented gap: the differentiable codec stays within a few dB of what libjpeg does to the image.
        assert gap > 30, (q, gap)
        assert abs(float(measures.psnr(img, ours).mean()) - to_source) < 3, q


def test_diffjpeg_keeps_gradients_at_saturated_pixels():
    """Regression: an input clamp zeroed the gradient at pixels equal to 0 or 1 (common in 8-bit images);
    the benchmark's codec has no such clamp. (The forward pass is checked against the benchmark's
    straight-through codec in test_parity_classic.py.) A flat grey image codes to itself."""
    flat = torch.full((1, 3, 16, 16), 128 / 255)
    assert torch.equal(DiffJPEG(50)(flat), flat)
    x = toy_images(1, (16, 24))
    x[..., 0, 0] = 0.0
    x[..., 0, 1] = 1.0
    x.requires_grad_(True)
    DiffJPEG(50)(x).sum().backward()
    assert x.grad is not None and float(x.grad[..., 0, :2].abs().min()) > 0


def test_colour_quantization_levels_and_surrogates():
    x = toy_images(1, (16, 16))
    out = ColourQuantization(5)(x)
    assert set(torch.unique(out * 4).round().tolist()) <= {0.0, 1.0, 2.0, 3.0, 4.0}
    assert torch.allclose(ColourQuantization(2).bpda_surrogate(x), x)
    smooth = ColourQuantization(5, surrogate="smooth")
    grid = torch.linspace(0, 1, 5)
    assert torch.allclose(smooth.bpda_surrogate(grid), grid, atol=1e-6)
    xg = x.clone().requires_grad_(True)
    defended(ToyMetric(), smooth)(xg).sum().backward()
    assert xg.grad is not None and float(xg.grad.abs().sum()) > 0


def test_resize_and_upscale_differ_only_in_the_upsampling():
    x = toy_images(1, (40, 40))
    assert not torch.equal(Resize(0.5)(x), BilinearUpscale(0.5)(x))
    assert torch.allclose(Resize(0.5, mode="bilinear")(x), BilinearUpscale(0.5)(x))
    assert torch.allclose(Resize(1.0)(x), x, atol=1e-5)


def test_resize_truncates_the_small_size_as_the_benchmark():
    """Regression: the benchmark's ``int(size * scale)`` truncates; rounding gave 346x461 at 0.9 on 384x512."""
    from iqa_purify.resize import down_size

    assert down_size(384, 512, 0.9) == (345, 460)
    assert down_size(24, 32, 0.9) == (21, 28)
    assert down_size(5, 5, 0.1) == (1, 1)
    x = toy_images(1, (24, 32))
    small = torch.nn.functional.interpolate(x, size=(21, 28), mode="bilinear", align_corners=False, antialias=True)
    back = torch.nn.functional.interpolate(small, size=(24, 32), mode="bilinear", align_corners=False)
    assert torch.allclose(Resize(0.9, mode="bilinear")(x), back.clamp(0, 1), atol=1e-6)
    assert torch.allclose(BilinearUpscale(0.9)(x), back.clamp(0, 1), atol=1e-6)


def test_rotation_zero_and_crop_full_are_identities():
    x = toy_images(2, (20, 20))
    assert torch.allclose(RandomRotate(0)(x, generator=torch.Generator().manual_seed(0)), x, atol=1e-5)
    assert torch.allclose(RandomCrop(64)(x, generator=torch.Generator().manual_seed(0)), x, atol=1e-6)


def test_flip_and_unsharp_and_noise():
    x = toy_images(1, (8, 10))
    assert torch.equal(Flip()(x), x.flip(-1).flip(-2))
    assert torch.equal(Flip()(Flip()(x)), x)
    sharp = Unsharp(5)(x)
    assert float(sharp.min()) >= 0 and float(sharp.max()) <= 1
    noisy = RandomNoise(0.05)(torch.full((1, 3, 64, 64), 0.5), generator=torch.Generator().manual_seed(0))
    assert float((noisy - 0.5).std()) == pytest.approx(0.05, rel=0.1)


def test_bilateral_preserves_edges_better_than_gaussian():
    x = torch.zeros(1, 3, 32, 32)
    x[..., 16:] = 1.0
    assert float((Bilateral()(x) - x).abs().max()) < 0.05
    assert float((GaussianBlur(9, sigma=3.0)(x) - x).abs().max()) > 0.2


def test_bad_parameters_raise():
    for call in (
        lambda: DiffJPEG(0),
        lambda: ColourQuantization(1),
        lambda: Resize(0),
        lambda: RandomCrop(0),
        lambda: GaussianBlur(4),
        lambda: MedianBlur(2),
        lambda: MedianBlur(3, padding="wrap"),
        lambda: RandomNoise(-1),
        lambda: RandomRotate(200),
        lambda: Unsharp(3, sigma=0),
    ):
        with pytest.raises(ValueError):
            call()
