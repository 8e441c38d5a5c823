import itertools

import pytest
import torch
from _guided_reference import GuidedUNet
from diffusers import UNet2DModel

from iqa_core import defended
from iqa_core.testing import ToyMetric, check_defence, check_denoiser, toy_images
from iqa_core.weights import WeightsNotFoundError
from iqa_purify.diffpure import T_VALUES, DiffPure
from iqa_purify.diffpure_edge import DiffPureEdge, sobel_edge_mask
from iqa_purify.diffpure_unsharp import DiffPureUnsharp
from iqa_purify.diffusion_denoiser import MultiStepDiffusionDenoiser, OneStepDiffusionDenoiser, matching_timestep
from iqa_purify.guided_diffusion import (
    GuidedDiffusionConfig,
    convert_guided_state_dict,
    load_diffusion_model,
    unet_from_config,
)
from iqa_purify.tiling import run_tiled, tile_starts

TINY = GuidedDiffusionConfig(
    image_size=16,
    num_channels=32,
    num_res_blocks=1,
    channel_mult=(1, 2),
    attention_resolutions=(8,),
    num_head_channels=16,
)


def _randomise(module):
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2 + (1.0 if p.ndim == 1 and p.shape[0] % 32 == 0 else 0))
    return module


@pytest.fixture(scope="module")
def tiny_unet_dir(tmp_path_factory):
    torch.manual_seed(0)
    unet = UNet2DModel(
        sample_size=16,
        in_channels=3,
        out_channels=6,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
        attention_head_dim=8,
    )
    path = tmp_path_factory.mktemp("unet")
    unet.save_pretrained(path)
    return path


def _diffpure(cls, tiny_unet_dir, **params):
    return cls(model=tiny_unet_dir, overlap=4, tile_batch=64, **params)


def test_converter_reproduces_the_official_forward_pass(tmp_path):
    reference = _randomise(GuidedUNet()).eval()
    path = tmp_path / "guided.pt"
    torch.save(reference.state_dict(), path)
    unet, scheduler = load_diffusion_model(path, config=TINY)
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([3, 700])
    with torch.no_grad():
        expected = reference(x, t)
        got = unet(x, t).sample
    assert torch.allclose(got, expected, atol=1e-4, rtol=1e-4), float((got - expected).abs().max())
    assert scheduler.config.variance_type == "learned_range"


def test_converter_uses_every_official_key():
    reference = GuidedUNet()
    converted = convert_guided_state_dict(reference.state_dict(), TINY)
    target = unet_from_config(TINY).state_dict()
    assert set(converted) == set(target)
    assert sum(v.numel() for v in converted.values()) == sum(p.numel() for p in reference.parameters())


def test_the_256_uncond_configuration_has_the_published_size():
    config = GuidedDiffusionConfig()
    assert config.attention_levels == {3, 4, 5}
    with torch.device("meta"):
        unet = unet_from_config(config)
    assert sum(p.numel() for p in unet.parameters()) == pytest.approx(552.8e6, rel=0.01)


def test_default_model_needs_a_path_offline():
    with pytest.raises(WeightsNotFoundError, match="256x256_diffusion_uncond"):
        DiffPure()


def test_bad_checkpoint_is_refused(tmp_path):
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="guided-diffusion"):
        load_diffusion_model(tmp_path / "x.pt", config=TINY)


@pytest.mark.parametrize("preset", list(DiffPure.presets))
def test_diffpure_presets_conform(tiny_unet_dir, preset):
    params = DiffPure.presets[preset]
    # Long chains on one small image (one tile) keep the CPU suite fast; tiling is covered by t5/t10 and below.
    images = toy_images(1, (12, 14)) if params["t"] > 10 else None
    check_defence(_diffpure(DiffPure, tiny_unet_dir, **params), images)


@pytest.mark.parametrize("cls", [DiffPureEdge, DiffPureUnsharp])
def test_addons_conform(tiny_unet_dir, cls):
    assert cls.presets == DiffPure.presets and cls.default_preset == "t5"
    check_defence(_diffpure(cls, tiny_unet_dir, t=10))


def test_diffpure_presets_and_flags():
    assert [p["t"] for p in DiffPure.presets.values()] == list(T_VALUES) == [5, 10, 20, 30, 50]
    assert DiffPure.presets[DiffPure.default_preset]["t"] == 5
    assert DiffPure.randomized and DiffPure.differentiable


def test_diffpure_follows_the_ddpm_chain(tiny_unet_dir):
    defence = _diffpure(DiffPure, tiny_unet_dir, t=3)
    x = toy_images(1, (16, 16))
    out = defence(x, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)
    a = defence.scheduler.alphas_cumprod[2]
    xt = a.sqrt() * (2 * x - 1) + (1 - a).sqrt() * torch.randn(x.shape, generator=g)
    for step in (2, 1, 0):
        with torch.no_grad():
            eps = defence.unet(xt, torch.tensor([step])).sample
        xt = defence.scheduler.step(eps, step, xt, generator=g).prev_sample
    assert torch.allclose(out, ((xt + 1) / 2).clamp(0, 1), atol=1e-5)


def test_diffpure_is_randomized_and_gradients_flow_through_defended(tiny_unet_dir):
    defence = _diffpure(DiffPure, tiny_unet_dir, t=2)
    x = toy_images(2, (20, 24))
    a = defence(x, generator=torch.Generator().manual_seed(0))
    b = defence(x, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(a, b)
    xg = x.clone().requires_grad_(True)
    defended(ToyMetric(), defence, eot_samples=2)(xg).sum().backward()
    assert xg.grad is not None and float(xg.grad.abs().sum()) > 0


def test_tiling_covers_and_blends_exactly():
    assert tile_starts(10, 16, 4) == [0]
    assert tile_starts(40, 16, 4) == [0, 12, 24]
    starts = tile_starts(53, 16, 4)
    assert starts[-1] == 37 and all(b - a <= 12 for a, b in itertools.pairwise(starts))
    x = toy_images(2, (37, 53))
    assert torch.allclose(
        run_tiled(lambda t: t * 0.5, x, tile=16, overlap=4, multiple=2, tile_batch=5), x * 0.5, atol=1e-6
    )
    calls = []
    run_tiled(lambda t: calls.append(t.shape) or t, x, tile=64, overlap=8, multiple=4)
    assert calls == [torch.Size([2, 3, 40, 56])]  # whole image, padded to the down-sampling factor


def test_edge_mask_and_unsharp_addon(tiny_unet_dir):
    x = torch.zeros(1, 3, 16, 16)
    x[..., 8:] = 1.0
    mask = sobel_edge_mask(x, 0.1)
    assert mask[0, 0, :, 7:9].all() and not mask[0, 0, :, :6].any()
    edge = _diffpure(DiffPureEdge, tiny_unet_dir, t=2)
    out = edge(x, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[..., 7:9], x[..., 7:9])
    plain = _diffpure(DiffPure, tiny_unet_dir, t=2)(x, generator=torch.Generator().manual_seed(0))
    sharp = _diffpure(DiffPureUnsharp, tiny_unet_dir, t=2)(x, generator=torch.Generator().manual_seed(0))
    from iqa_purify.unsharp import unsharp_mask

    assert torch.allclose(sharp, unsharp_mask(plain, 3, 1.0, 1.0), atol=1e-6)


def test_matching_timestep_uses_twice_sigma():
    from iqa_purify.guided_diffusion import default_scheduler

    a = default_scheduler(6).alphas_cumprod.double()
    t = matching_timestep(a, 0.12)
    ratio = ((1 - a) / a).sqrt()
    assert abs(float(ratio[t]) - 0.24) <= float((ratio[1:] - ratio[:-1]).abs().max())
    assert matching_timestep(a, 0.25) > t


def test_matching_timestep_follows_the_official_ddrs_loop():
    """Carlini et al.'s / the benchmark's rule: the first t >= 1 with sqrt((1 - a_bar_t) / a_bar_t) >= 2 sigma.

    Values from that loop on guided-diffusion's float64 linear schedule; the closest-ratio rule gave 144 and
    258 for sigma 0.25 and 0.5.
    """
    import numpy as np

    from iqa_purify.guided_diffusion import default_scheduler

    a64 = np.cumprod(1 - np.linspace(1e-4, 0.02, 1000, dtype=np.float64))
    ratio = np.sqrt((1 - a64) / a64)
    denoiser = OneStepDiffusionDenoiser(unet=torch.nn.Identity(), scheduler=default_scheduler(6))
    a = default_scheduler(6).alphas_cumprod.double()
    for sigma, expected in ((0.06, 33), (0.12, 70), (0.25, 145), (0.5, 259), (1.0, 396)):
        t = 0
        while ratio[t] < 2 * sigma:
            t += 1
        assert t == expected
        assert denoiser.timestep(sigma) == expected, sigma
        assert matching_timestep(a, sigma) == expected, sigma
    assert matching_timestep(a, 100.0) == 999


def test_multi_step_denoiser_keeps_densepures_closest_timestep():
    from iqa_purify.guided_diffusion import default_scheduler

    denoiser = MultiStepDiffusionDenoiser(unet=torch.nn.Identity(), scheduler=default_scheduler(6))
    assert [denoiser.timestep(s) for s in (0.12, 0.25, 0.5)] == [70, 144, 258]
    with pytest.raises(ValueError, match="rule"):
        matching_timestep(default_scheduler(6).alphas_cumprod, 0.25, "nearest")


class OracleEps(torch.nn.Module):
    """An epsilon model that knows the clean image: the one-step denoiser must then recover it exactly."""

    def __init__(self, clean, alphas):
        super().__init__()
        self.clean, self.alphas = clean * 2 - 1, alphas

    def forward(self, x, t):
        a = self.alphas[int(t[0])]
        return (x - a.sqrt() * self.clean) / (1 - a).sqrt()


def test_one_step_denoiser_recovers_the_image_with_an_oracle_model(tiny_unet_dir):
    from iqa_purify.guided_diffusion import default_scheduler

    scheduler = default_scheduler(3)
    x = toy_images(2, (32, 32))
    denoiser = OneStepDiffusionDenoiser(unet=OracleEps(x, scheduler.alphas_cumprod), scheduler=scheduler, tile=64)
    check_denoiser(denoiser, x)
    noisy = x + 0.12 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(denoiser(noisy, 0.12), x, atol=1e-4)


def test_diffusion_denoisers_run_on_a_real_unet(tiny_unet_dir):
    x = toy_images(2, (37, 53))
    noisy = (x + 0.12 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    one = OneStepDiffusionDenoiser(tiny_unet_dir, overlap=4)
    out = one(noisy, 0.12)
    assert out.shape == x.shape and torch.isfinite(out).all() and torch.equal(out, one(noisy, 0.12))
    multi = MultiStepDiffusionDenoiser(tiny_unet_dir, overlap=4, tile_batch=64)
    a = multi(noisy, 0.02, generator=torch.Generator().manual_seed(0))
    b = multi(noisy, 0.02, generator=torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b)
    assert multi.timestep(0.02) < one.timestep(0.12)
