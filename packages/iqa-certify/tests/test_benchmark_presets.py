"""Issue 13, defects 11, 15, 16, 17: the ``paper`` presets do what the benchmark's certified code did.

Reference: katiashh/certified-iqa-defenses. ``ccrf/calc_rs_*.py`` (RS, and DRS with ``dn=True``)
and ``ccrf/calc_nms_*.py`` (MS, DMS) clip every noisy sample to [0, 1] before the denoiser/metric
and certify at native size; ``ccrf/calc_ddrs_*.py`` and ``DensePure-master/calc_dp_*.py`` resize
each image to 256x256 and do not clip; DensePure purifies each noisy sample once with two
respaced reverse steps (no vote); median smoothing takes ``torch.median`` (lower middle value).
"""

from __future__ import annotations

import pytest
import torch

import iqa_core
from iqa_certify import DDRS, DMS, DRS, MS, RS, DensePure, median_index
from iqa_certify.densepure_reverse import densepure_reverse, densepure_timestep, respaced_timesteps
from iqa_core.testing import ToyDenoiser, ToyMetric, toy_images


class Recording(ToyMetric):
    """Remembers the range and size of every batch it scores."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[float, float, tuple[int, int]]] = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.seen.append((float(images.min()), float(images.max()), tuple(images.shape[-2:])))
        return super().forward(images)


class CountingDenoiser(ToyDenoiser):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[tuple[float, float, int]] = []

    def __call__(self, noisy, sigma, *, generator=None):
        self.inputs.append((float(noisy.min()), float(noisy.max()), noisy.shape[0]))
        return super().__call__(noisy, sigma, generator=generator)


def _from_paper(cls, **override):
    small = {"n": 16, "batch_size": 8} if issubclass(cls, MS) else {"n0": 8, "n": 16, "batch_size": 8}
    return cls(**{**cls.presets["paper"], **small, **override})


# ------------------------------------------------------------------ defect 11: clamping
@pytest.mark.parametrize("cls", [RS, DRS, MS, DMS], ids=lambda c: c.name)
def test_paper_presets_clip_noisy_samples_like_the_benchmark(cls):
    assert cls.presets["paper"]["clamp"] is True
    extra = {} if cls in (RS, MS) else {"denoiser": CountingDenoiser()}
    certifier = _from_paper(cls, **extra)
    assert certifier.clamp and certifier.image_size is None  # native size
    metric = Recording()
    certifier.certify(metric, toy_images(1, (16, 16)), generator=torch.Generator().manual_seed(0))
    assert all(lo >= 0.0 and hi <= 1.0 for lo, hi, _ in metric.seen)
    if "denoiser" in extra:  # clipped *before* the denoiser
        assert all(lo >= 0.0 and hi <= 1.0 for lo, hi, _ in extra["denoiser"].inputs)


@pytest.mark.parametrize("name", ["rs", "drs", "ms", "dms"])
def test_registry_default_is_the_clipping_paper_preset(name):
    certifier = iqa_core.create("certifier", name)
    assert certifier.clamp is True


@pytest.mark.parametrize("cls", [DDRS, DensePure], ids=lambda c: c.name)
def test_ddrs_and_densepure_paper_presets_do_not_clip(cls):
    assert cls.presets["paper"].get("clamp", False) is False
    denoiser = CountingDenoiser()
    _from_paper(cls, denoiser=denoiser, n0=4, n=4).certify(
        Recording(), toy_images(1, (16, 16)), generator=torch.Generator().manual_seed(0)
    )
    assert any(lo < 0.0 or hi > 1.0 for lo, hi, _ in denoiser.inputs)


def test_median_paper_preset_takes_each_bound_at_alpha_like_the_benchmark():
    paper = MS(**MS.presets["paper"])
    assert not paper.bonferroni
    # the benchmark: estimated_qu_ql(eps=0.05, sample_count=1000, sigma=0.12, conf_thres=0.999), per bound
    assert (paper.index_lower, paper.index_upper) == (292, 707)
    assert (MS().index_lower, MS().index_upper) == (289, 710)  # Bonferroni, alpha / 2 per bound


# ------------------------------------------------------------------ defect 16: image size
@pytest.mark.parametrize("cls", [DDRS, DensePure], ids=lambda c: c.name)
def test_ddrs_and_densepure_paper_presets_resize_to_256(cls):
    assert cls.presets["paper"]["image_size"] == 256
    metric = Recording()
    _from_paper(cls, denoiser=ToyDenoiser(), n0=2, n=2, batch_size=2).certify(
        metric, toy_images(1, (40, 24)), generator=torch.Generator().manual_seed(0)
    )
    assert {size for _, _, size in metric.seen} == {(256, 256)}
    native = cls(**{**cls.presets["paper-native"], "n0": 2, "n": 2, "batch_size": 2, "denoiser": ToyDenoiser()})
    metric = Recording()
    native.certify(metric, toy_images(1, (40, 24)), generator=torch.Generator().manual_seed(0))
    assert {size for _, _, size in metric.seen} == {(40, 24)}


def test_resize_is_bilinear_without_antialiasing():
    x = toy_images(1, (64, 48))
    expected = torch.nn.functional.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    metric = Recording()
    seen = []
    metric.forward = lambda images: (seen.append(images[:1].clone()), torch.zeros(images.shape[0]))[1]
    RS(n0=1, n=1, batch_size=1, sigma=1e-6, image_size=32).certify(metric, x, generator=torch.Generator())
    assert torch.allclose(seen[0], expected, atol=1e-4)


# ------------------------------------------------------------------ defect 15: DensePure
def test_densepure_defaults_are_the_benchmarks_one_purification_two_steps():
    dp = DensePure()
    assert (dp.runs, dp.reverse_steps) == (1, 2)
    assert DensePure.presets["paper"]["runs"] == 1 and DensePure.presets["paper"]["reverse_steps"] == 2
    assert DensePure.presets["original"]["runs"] == 10 and DensePure.presets["original"]["reverse_steps"] is None
    purifier = CountingDenoiser()
    DensePure(n0=8, n=16, batch_size=8, purifier=purifier).certify(ToyMetric(), toy_images(1, (16, 16)))
    assert sum(count for _, _, count in purifier.inputs) == 8 + 16  # one purification per noisy sample


class FakeDiffusion(torch.nn.Module):
    """A diffusion module as iqa-purify's: ``unet(x, t)`` and ``alphas_cumprod`` (linear schedule)."""

    def __init__(self) -> None:
        super().__init__()
        betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
        self.register_buffer("alphas_cumprod", torch.cumprod(1 - betas, 0).float())
        self.calls: list[list[int]] = []

        outer = self

        class Unet(torch.nn.Module):
            def forward(self, x, t):
                outer.calls.append(t.tolist())
                return torch.cat([0.1 * x, torch.zeros_like(x)], 1)

        self.unet = Unet()

    def __call__(self, noisy, sigma, *, generator=None):  # the full chain: not used at reverse_steps=2
        raise AssertionError("the purifier's own chain must not run at reverse_steps=2")


def test_densepure_drives_a_diffusion_purifier_with_two_respaced_steps():
    diffusion = FakeDiffusion()
    t = densepure_timestep(diffusion.alphas_cumprod, 0.12)
    ratio = (1 / diffusion.alphas_cumprod.double() - 1).sqrt()
    assert ratio[t] == pytest.approx(0.24, abs=float((ratio[t + 1] - ratio[t]).abs()))
    DensePure(n0=4, n=4, batch_size=4, purifier=diffusion).certify(ToyMetric(), toy_images(1, (16, 16)))
    steps = respaced_timesteps(t, 2)
    assert steps == [t, round(t / 2)]
    assert [c[0] for c in diffusion.calls] == steps * 2  # two UNet calls per chunk (n0 chunk, n chunk)
    assert all(len(set(c)) == 1 for c in diffusion.calls)


def test_densepure_reverse_last_step_is_the_clipped_posterior_mean():
    diffusion = FakeDiffusion()
    x = toy_images(2, (8, 8))
    a = densepure_reverse(diffusion, x, 0.12, 2, torch.Generator().manual_seed(0))
    b = densepure_reverse(diffusion, x, 0.12, 2, torch.Generator().manual_seed(0))
    c = densepure_reverse(diffusion, x, 0.12, 2, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert respaced_timesteps(15, 2) == [15, 8] and respaced_timesteps(13, 2) == [13, 6]  # round half to even


# ------------------------------------------------------------------ defect 17: median convention
def test_median_is_the_lower_middle_value_as_torch_median():
    for n in (1, 2, 3, 4, 10, 1000, 1001):
        assert float(torch.arange(float(n)).median()) == float(median_index(n))
