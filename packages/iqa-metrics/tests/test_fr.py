"""Full-reference measures as components."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter, uniform_filter
from skimage import data as skdata
from skimage import metrics as skmetrics

from iqa_core import registry
from iqa_core.protocols import FullReferenceMetric
from iqa_core.weights import WeightsNotFoundError
from iqa_metrics.fr import DISTS, LPIPS, MSE, MSSSIM, PSNR, SSIM, Linf
from iqa_metrics.offline import measure_stand_in_options, place_torchvision_backbone


def pair() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(3, 3, 32, 40, generator=g)
    return ref, (ref + 0.05 * torch.randn(ref.shape, generator=g)).clamp(0, 1)


@pytest.mark.parametrize("cls", [PSNR, SSIM, MSE, Linf, pytest.param(lambda: MSSSIM(scales=2), id="MSSSIM-2-scales")])
def test_measures_are_batched_differentiable_components(cls: Callable[[], Any]) -> None:
    measure = cls()
    assert isinstance(measure, FullReferenceMetric)
    ref, dist = pair()
    dist = dist.requires_grad_(True)
    out = measure(ref, dist)
    assert out.shape == (3,) and torch.isfinite(out).all()
    out.sum().backward()
    assert dist.grad is not None and float(dist.grad.abs().sum()) > 0
    single = torch.cat([measure(ref[i : i + 1], dist[i : i + 1]) for i in range(3)])
    assert torch.allclose(single, out, atol=1e-6)


def test_values_match_numpy() -> None:
    ref, dist = pair()
    r, d = ref.numpy().astype(np.float64), dist.numpy().astype(np.float64)
    mse = ((r - d) ** 2).reshape(3, -1).mean(1)
    assert np.allclose(MSE()(ref, dist).numpy(), mse, rtol=1e-5)
    assert np.allclose(PSNR()(ref, dist).numpy(), 10 * np.log10(1 / mse), rtol=1e-5)
    assert np.allclose(Linf()(ref, dist).numpy(), np.abs(r - d).reshape(3, -1).max(1), rtol=1e-6)
    assert PSNR.higher_is_better and SSIM.higher_is_better and not MSE.higher_is_better
    assert torch.allclose(SSIM()(ref, ref), torch.ones(3), atol=1e-5)


def test_shape_mismatch_is_refused() -> None:
    ref, dist = pair()
    with pytest.raises(ValueError, match="same shape"):
        PSNR()(ref, dist[:, :, :30])


def test_lpips_offline_needs_its_backbone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match="alexnet"):
        LPIPS(pretrained=False)


# --- against scikit-image, on the same float64 arrays -------------------------------------------

SSIM_OPTIONS: dict[str, Any] = {
    "gaussian_weights": True,
    "sigma": 1.5,
    "use_sample_covariance": False,
    "data_range": 1.0,
}


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) float64 array -> (1, 3, H, W) float64 tensor (same numbers, no conversion)."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]


def natural_pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Reference/distorted float64 (H, W, 3) pairs: two natural crops (one with odd sides) and noise."""
    rng = np.random.default_rng(0)
    images = {
        "astronaut": skdata.astronaut()[100:292, 150:358] / 255.0,  # 192 x 208
        "chelsea": skdata.chelsea()[:181, :197] / 255.0,  # odd sides
        "random": rng.random((37, 53, 3)),
    }
    pairs = []
    for name, image in images.items():
        pairs.append((f"{name}-noise", image, np.clip(image + 0.1 * rng.standard_normal(image.shape), 0, 1)))
        pairs.append((f"{name}-blur", image, uniform_filter(image, (5, 5, 1))))
        pairs.append((f"{name}-contrast", image, 0.5 * image + 0.25))
        pairs.append((f"{name}-invert", image, 1.0 - image))  # negative SSIM
    return pairs


PAIRS = natural_pairs()
PAIR_IDS = [name for name, _, _ in PAIRS]


@pytest.mark.parametrize(("name", "image", "distorted"), PAIRS, ids=PAIR_IDS)
def test_ssim_psnr_mse_match_skimage(name: str, image: np.ndarray, distorted: np.ndarray) -> None:
    """Our SSIM convolves without padding (valid positions only). skimage filters with reflected
    borders and then crops (win_size - 1) // 2 = 5 pixels on each side before averaging, which
    keeps exactly the valid positions, so the two agree to float64 rounding (measured <= 2e-15 on
    these pairs). In float32 the difference measured up to 9e-6 (2e-5 allowed)."""
    ref, dist = to_tensor(image), to_tensor(distorted)
    theirs = skmetrics.structural_similarity(image, distorted, channel_axis=2, **SSIM_OPTIONS)
    assert float(SSIM()(ref, dist)) == pytest.approx(theirs, abs=1e-12)
    assert float(SSIM()(ref.float(), dist.float())) == pytest.approx(theirs, abs=2e-5)

    # PSNR and MSE: same definition over all pixels and channels; measured equal to 1e-15.
    psnr = skmetrics.peak_signal_noise_ratio(image, distorted, data_range=1.0)
    assert float(PSNR()(ref, dist)) == pytest.approx(psnr, rel=1e-12)
    assert float(PSNR()(ref.float(), dist.float())) == pytest.approx(psnr, abs=1e-4)  # measured <= 9e-7 dB
    mse = skmetrics.mean_squared_error(image, distorted)
    assert float(MSE()(ref, dist)) == pytest.approx(mse, rel=1e-12)


def test_ssim_border_convention_is_skimage_crop() -> None:
    """The SSIM map skimage computes, cropped by 5 pixels, averages to our value; uncropped it does not."""
    _, image, distorted = PAIRS[0]
    _, full_map = skmetrics.structural_similarity(image, distorted, channel_axis=2, full=True, **SSIM_OPTIONS)
    ours = float(SSIM()(to_tensor(image), to_tensor(distorted)))
    assert ours == pytest.approx(full_map[5:-5, 5:-5].mean(), abs=1e-12)
    assert abs(ours - full_map.mean()) > 1e-4


# --- MS-SSIM against an independent float64 numpy implementation ----------------------------------

MS_WEIGHTS = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])


def np_mean_cs(x: np.ndarray, y: np.ndarray) -> float:
    """Mean contrast-structure term of SSIM, built the way skimage builds SSIM (scipy Gaussian
    filter, sigma 1.5 truncated at 3.5 sigma = 11 taps, reflected borders, 5 pixels cropped)."""

    def blur(a: np.ndarray) -> np.ndarray:
        return np.asarray(gaussian_filter(a, sigma=1.5, truncate=3.5, mode="reflect"))

    ux, uy = blur(x), blur(y)
    vx, vy, vxy = blur(x * x) - ux * ux, blur(y * y) - uy * uy, blur(x * y) - ux * uy
    c2 = 0.03**2
    cs = (2 * vxy + c2) / (vx + vy + c2)
    return float(cs[5:-5, 5:-5].mean())


def np_downsample(a: np.ndarray) -> np.ndarray:
    """Mean of 2 x 2 blocks; an odd last row or column is dropped."""
    h, w = a.shape[0] // 2, a.shape[1] // 2
    return a[: 2 * h, : 2 * w].reshape(h, 2, w, 2).mean(axis=(1, 3))


def np_ms_ssim(image: np.ndarray, distorted: np.ndarray, scales: int = 5) -> float:
    """MS-SSIM per Wang, Simoncelli and Bovik (2003): cs at scales 1..M-1, full SSIM (skimage) at M."""
    weights = MS_WEIGHTS[:scales] / MS_WEIGHTS[:scales].sum()
    per_channel = []
    for c in range(image.shape[2]):
        x, y = image[..., c], distorted[..., c]
        terms = []
        for _ in range(scales - 1):
            terms.append(np_mean_cs(x, y))
            x, y = np_downsample(x), np_downsample(y)
        terms.append(skmetrics.structural_similarity(x, y, **SSIM_OPTIONS))
        per_channel.append(np.prod(np.maximum(terms, 0.0) ** weights))
    return float(np.mean(per_channel))


@pytest.mark.parametrize(("name", "image", "distorted"), PAIRS, ids=PAIR_IDS)
def test_ms_ssim_matches_numpy_reference(name: str, image: np.ndarray, distorted: np.ndarray) -> None:
    """Float64: measured <= 2e-15 apart; float32 inputs: measured <= 3e-6 (2e-5 allowed)."""
    scales = 5 if min(image.shape[:2]) >= 176 else 2
    expected = np_ms_ssim(image, distorted, scales)
    measure = MSSSIM(scales=scales)
    ref, dist = to_tensor(image), to_tensor(distorted)
    assert float(measure(ref, dist)) == pytest.approx(expected, abs=1e-12)
    assert float(measure(ref.float(), dist.float())) == pytest.approx(expected, abs=2e-5)


def ms_ssim_batch() -> torch.Tensor:
    crop = skdata.astronaut()[100:292, 150:358]
    other = skdata.coffee()[:192, 200:408]
    return torch.from_numpy(np.stack([crop, other])).permute(0, 3, 1, 2).float() / 255


def test_ms_ssim_properties() -> None:
    ref = ms_ssim_batch()
    measure = MSSSIM()
    assert isinstance(measure, FullReferenceMetric) and measure.higher_is_better
    assert torch.allclose(measure(ref, ref), torch.ones(2), atol=1e-6)

    g = torch.Generator().manual_seed(0)
    noise = torch.randn(ref.shape, generator=g)
    dist = (ref + 0.05 * noise).clamp(0, 1).requires_grad_(True)
    out = measure(ref, dist)
    assert out.shape == (2,) and bool(((out > 0) & (out < 1)).all())
    single = torch.cat([measure(ref[i : i + 1], dist[i : i + 1]) for i in range(2)])
    assert torch.allclose(single, out, atol=1e-6)
    out.sum().backward()
    assert dist.grad is not None and torch.isfinite(dist.grad).all() and float(dist.grad.abs().sum()) > 0

    with torch.no_grad():
        scores = torch.stack([measure(ref, (ref + s * noise).clamp(0, 1)) for s in (0.01, 0.03, 0.1, 0.2, 0.4)])
    assert bool((scores[1:] < scores[:-1]).all()), scores


def test_ms_ssim_is_registered_and_refuses_small_images() -> None:
    measure = registry.create("measure", "ms_ssim")
    assert isinstance(measure, MSSSIM) and measure.name == "ms-ssim"
    small = torch.rand(1, 3, 64, 200)
    with pytest.raises(ValueError, match=r"176x176.*scales=3"):
        measure(small, small)
    assert torch.allclose(MSSSIM(scales=3)(small, small), torch.ones(1), atol=1e-6)
    with pytest.raises(ValueError, match="between 1 and 5"):
        MSSSIM(scales=6)


# --- LPIPS and DISTS offline with random backbones -----------------------------------------------


@pytest.fixture(scope="module")
def random_backbones(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TORCH_HOME whose hub cache holds random-weight AlexNet and VGG16 checkpoints under the file
    names torchvision's ``IMAGENET1K_V1`` weights download to (:mod:`iqa_metrics.offline`). torch.hub
    does not re-check the hash of a file already in ``hub/checkpoints``, so pyiqa builds LPIPS and
    DISTS from them offline."""
    home = tmp_path_factory.mktemp("torch_home")
    for architecture in ("alexnet", "vgg16"):
        path = place_torchvision_backbone(home, architecture)
        assert path.parent == home / "hub" / "checkpoints"
    return home


@pytest.mark.parametrize(
    "build",
    [
        lambda: LPIPS(pretrained=False),
        lambda: LPIPS(pretrained=False, net="vgg"),
        lambda: DISTS(pretrained=False),
    ],
    ids=["lpips-alex", "lpips-vgg", "dists"],
)
def test_lpips_dists_build_offline_and_backpropagate(
    build: Callable[[], Any], random_backbones: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(random_backbones))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    measure = build()
    assert isinstance(measure, FullReferenceMetric) and not measure.higher_is_better
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(2, 3, 64, 64, generator=g)
    dist = (ref + 0.05 * torch.randn(ref.shape, generator=g)).clamp(0, 1).requires_grad_(True)
    out = measure(ref, dist)
    assert out.shape == (2,) and torch.isfinite(out).all()
    assert torch.allclose(measure(ref, ref), torch.zeros(2), atol=1e-5)
    single = torch.cat([measure(ref[i : i + 1], dist[i : i + 1]) for i in range(2)])
    assert torch.allclose(single, out, atol=1e-5)
    out.sum().backward()
    assert dist.grad is not None and torch.isfinite(dist.grad).all() and float(dist.grad.abs().sum()) > 0


def test_measure_stand_ins_place_the_backbone_each_net_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    options = measure_stand_in_options("lpips", tmp_path)
    assert options == {"pretrained_model_path": str(tmp_path / "lpips-alex-random.pth")}
    assert (tmp_path / "torch" / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth").is_file()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    measure = LPIPS(**options)  # the heads load from the local file in the official key layout
    heads = torch.load(options["pretrained_model_path"], weights_only=True)
    for k in range(5):
        assert torch.equal(measure.inner.net.lins[k].model[1].weight, heads[f"lin{k}.model.1.weight"])
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(2, 3, 64, 64, generator=g)
    noise = torch.randn(ref.shape, generator=g).sign()
    small, large = ((ref + eps * noise).clamp(0, 1) for eps in (0.01, 0.1))
    assert (measure(ref, small) > 0).all() and (measure(ref, large) > measure(ref, small)).all()
    assert measure_stand_in_options("dists", tmp_path / "d")["pretrained"] is False
    assert (tmp_path / "d" / "torch" / "hub" / "checkpoints" / "vgg16-397923af.pth").stat().st_size < 80e6
    with pytest.raises(ValueError, match="net='alex' or net='vgg'"):
        measure_stand_in_options("lpips", tmp_path, net="squeeze")
    with pytest.raises(KeyError, match="known: dists, lpips"):
        measure_stand_in_options("ssim", tmp_path)
