"""Parity of the neural purifications with their official code (goldens from ``tools/parity/purify_*.py``).

Each golden holds the official code's outputs on seeded weights (``seeded_state_dict`` by official
key) and seeded inputs; here the project's implementation is built with the same weights and inputs
and compared. Tolerances: float32 on CPU.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch

from iqa_core.testing.parity import assert_matches_golden, load_golden, seeded_images, seeded_state_dict

GOLDENS = Path(__file__).parent / "goldens"


def _noise(shape: tuple[int, ...], seed: int, k: int) -> torch.Tensor:
    """Draw ``k`` of the shared noise sequence (the generator patches the official ``torch.randn_like`` with it)."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed + k))


# --------------------------------------------------------------------------------------------- DiffPure


@pytest.fixture(scope="module")
def diffpure_golden():
    return load_golden(GOLDENS / "diffpure.json")


def _tiny_config(model: dict):
    from iqa_purify.guided_diffusion import GuidedDiffusionConfig

    return GuidedDiffusionConfig(
        image_size=model["image_size"],
        num_channels=model["num_channels"],
        num_res_blocks=model["num_res_blocks"],
        channel_mult=tuple(int(m) for m in model["channel_mult"].split(",")),
        attention_resolutions=tuple(int(r) for r in model["attention_resolutions"].split(",")),
        num_head_channels=model["num_head_channels"],
        learn_sigma=model["learn_sigma"],
        use_scale_shift_norm=model["use_scale_shift_norm"],
        resblock_updown=model["resblock_updown"],
    )


@pytest.fixture(scope="module")
def diffpure_checkpoint(diffpure_golden, tmp_path_factory):
    """The official-layout checkpoint with the generator's seeded weights (built from the stored key layout)."""
    config = diffpure_golden.case("config")["inputs"]
    state = seeded_state_dict({k: tuple(v) for k, v in config["layout"].items()}, seed=0)
    path = tmp_path_factory.mktemp("guided") / "tiny_guided.pt"
    torch.save(state, path)
    return path, _tiny_config(config["model"])


def _feed_noise(monkeypatch, seed: int) -> itertools.count:
    """Route the project's two noise sources (forward noising, scheduler steps) to the shared sequence."""
    import diffusers.schedulers.scheduling_ddpm as ddpm

    import iqa_purify.diffpure as diffpure_module

    draws = itertools.count()

    def forward_noise(shape, generator, device):
        return _noise(tuple(shape), seed, next(draws)).to(device)

    def step_noise(shape, generator=None, device=None, dtype=None, **kwargs):
        return _noise(tuple(shape), seed, next(draws)).to(device=device, dtype=dtype)

    monkeypatch.setattr(diffpure_module, "randn", forward_noise)
    monkeypatch.setattr(ddpm, "randn_tensor", step_noise)
    return draws


@pytest.mark.parametrize("case", ["t5", "t1", "t50"])
def test_diffpure_noising_and_reverse_steps_match_the_benchmark_runner(
    case, diffpure_golden, diffpure_checkpoint, monkeypatch
):
    from iqa_purify.diffpure import DiffPure

    golden = diffpure_golden.case(case)
    inputs, expected = golden["inputs"], golden["outputs"]
    t = inputs["t"]
    path, config = diffpure_checkpoint
    module = DiffPure(t=t, model=path, config=config, check_hash=False, overlap=4)
    x0 = seeded_images(inputs["image_seed"], inputs["shape"]) * 2 - 1
    _feed_noise(monkeypatch, inputs["noise_seed"])
    steps: list[torch.Tensor] = []
    step = module.scheduler.step

    def recording_step(*args, **kwargs):
        out = step(*args, **kwargs)
        steps.append(out.prev_sample.clone())
        return out

    monkeypatch.setattr(module.scheduler, "step", recording_step)
    with torch.no_grad():
        x_t = module.noise_to(x0, t - 1, None)
        out = module.reverse(x_t, t - 1, None)
    what = f"DiffPure {case} vs {diffpure_golden.origin}"
    if "x_t" in expected:
        assert_matches_golden(x_t, expected["x_t"], rtol=0, atol=1e-5, what=f"{what}: x_t (forward noising)")
    assert_matches_golden([float(s.mean()) for s in steps], expected["step_mean"], rtol=0, atol=2e-6, what=what)
    assert_matches_golden([float(s.std()) for s in steps], expected["step_std"], rtol=0, atol=2e-6, what=what)
    assert_matches_golden(out, expected["output"], rtol=1e-5, atol=1e-5, what=f"{what}: reverse output")


def test_diffpure_purify_is_the_runner_output_mapped_to_unit_range(diffpure_golden, diffpure_checkpoint, monkeypatch):
    """The public ``purify`` path: [0, 1] -> [-1, 1], noise to t*, t* reverse steps, back to [0, 1], clamped."""
    from iqa_purify.diffpure import DiffPure

    golden = diffpure_golden.case("t5")
    inputs = golden["inputs"]
    path, config = diffpure_checkpoint
    module = DiffPure(t=inputs["t"], model=path, config=config, check_hash=False, overlap=4)
    _feed_noise(monkeypatch, inputs["noise_seed"])
    with torch.no_grad():
        out = module.purify(seeded_images(inputs["image_seed"], inputs["shape"]), generator=None)
    expected = ((torch.tensor(golden["outputs"]["output"]) + 1) * 0.5).clamp(0, 1)
    assert_matches_golden(out, expected, rtol=1e-5, atol=1e-5, what=f"DiffPure.purify vs {diffpure_golden.origin}")


# --------------------------------------------------------------------------------------------- DISCO


@pytest.fixture(scope="module")
def disco_golden():
    return load_golden(GOLDENS / "disco.json")


@pytest.fixture(scope="module")
def disco(disco_golden, tmp_path_factory):
    from iqa_purify.disco import DISCO, LIIF, _liif_args

    config = disco_golden.case("config")["inputs"]
    spec = {"name": "liif", "args": config["args"]}
    layout = LIIF(**_liif_args(spec))
    assert {k: list(v.shape) for k, v in layout.state_dict().items()} == config["layout"]
    path = tmp_path_factory.mktemp("disco") / "disco_tiny.pth"
    torch.save({"model": {**spec, "sd": seeded_state_dict(layout, seed=0)}}, path)
    return DISCO(weights=path, check_hash=False)


def test_disco_matches_the_benchmark_inr_at_the_input_size(disco_golden, disco):
    inputs = disco_golden.case("input-size")["inputs"]
    with torch.no_grad():
        out = disco(seeded_images(inputs["image_seed"], inputs["shape"]))
    expected = disco_golden.case("input-size")["outputs"]["output"]
    assert_matches_golden(out, expected, rtol=1e-5, atol=1e-5, what=f"DISCO vs {disco_golden.origin}")


def test_disco_network_matches_the_official_liif_at_another_size(disco_golden, disco):
    case = disco_golden.case("other-size")
    images = seeded_images(case["inputs"]["image_seed"], case["inputs"]["shape"])
    with torch.no_grad():
        out = (disco.net((images - 0.5) / 0.5, tuple(case["inputs"]["out_size"])) * 0.5 + 0.5).clamp(0, 1)
    assert_matches_golden(
        out, case["outputs"]["output"], rtol=1e-5, atol=1e-5, what=f"DISCO 10x21 vs {disco_golden.origin}"
    )


def test_disco_input_gradient_matches_the_official_liif(disco_golden, disco):
    case = disco_golden.case("gradient")
    shape = case["inputs"]["shape"]
    x = seeded_images(case["inputs"]["image_seed"], shape)[:1].clone().requires_grad_(True)
    rendered = disco.net((x - 0.5) / 0.5, tuple(shape[-2:])) * 0.5 + 0.5
    weights = seeded_images(5, (1, 3, *shape[-2:])) - 0.5
    (rendered * weights).sum().backward()
    what = f"DISCO gradient vs {disco_golden.origin}"
    assert_matches_golden(rendered, case["outputs"]["rendered"], rtol=1e-5, atol=1e-5, what=what)
    assert_matches_golden(x.grad, case["outputs"]["grad"], rtol=1e-4, atol=1e-5, what=what)


# --------------------------------------------------------------------------------------------- MPRNet


@pytest.fixture(scope="module")
def mprnet_golden():
    return load_golden(GOLDENS / "mprnet.json")


@pytest.fixture(scope="module")
def mprnet(mprnet_golden, tmp_path_factory):
    from iqa_purify.mprnet import MPRNet, MPRNetArch

    config = mprnet_golden.case("config")["inputs"]
    layout = MPRNetArch(**config["args"])
    assert {k: list(v.shape) for k, v in layout.state_dict().items()} == config["layout"]
    path = tmp_path_factory.mktemp("mprnet") / "mprnet_tiny.pth"
    # saved as the benchmark's checkpoint is (DataParallel prefix under "state_dict")
    state = seeded_state_dict(layout, seed=0, scale=config["weight_scale"])
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    return MPRNet(weights=path, check_hash=False, **config["args"])


def test_mprnet_network_and_input_gradient_match_the_official_code(mprnet_golden, mprnet):
    case = mprnet_golden.case("network-16x16")
    x = seeded_images(case["inputs"]["image_seed"], case["inputs"]["shape"]).requires_grad_(True)
    out = mprnet.net(x)
    (out * (seeded_images(7, case["inputs"]["shape"]) - 0.5)).sum().backward()
    what = f"MPRNet vs {mprnet_golden.origin}"
    assert_matches_golden(out, case["outputs"]["output"], rtol=1e-5, atol=1e-5, what=what)
    assert_matches_golden(x.grad, case["outputs"]["grad"], rtol=1e-4, atol=1e-5, what=f"{what}: input gradient")


def test_mprnet_defence_pads_crops_and_clamps_as_the_benchmark(mprnet_golden, mprnet):
    case = mprnet_golden.case("defence-13x18")
    with torch.no_grad():
        out = mprnet(seeded_images(case["inputs"]["image_seed"], case["inputs"]["shape"]))
    assert_matches_golden(
        out, case["outputs"]["output"], rtol=1e-5, atol=1e-5, what=f"MPRNet 13x18 vs {mprnet_golden.origin}"
    )


# --------------------------------------------------------------------------------------------- Real-ESRGAN


@pytest.fixture(scope="module")
def realesrgan_golden():
    return load_golden(GOLDENS / "realesrgan.json")


@pytest.fixture(scope="module")
def realesrgan(realesrgan_golden, tmp_path_factory):
    from iqa_purify.realesrgan import RealESRGAN, SRVGGNetCompact

    config = realesrgan_golden.case("config")["inputs"]
    layout = SRVGGNetCompact(upscale=4, **config["args"])
    assert {k: list(v.shape) for k, v in layout.state_dict().items()} == config["layout"]
    tmp = tmp_path_factory.mktemp("realesrgan")
    paths = {}
    for name, seed in config["seeds"].items():
        paths[name] = tmp / f"{name}.pth"
        torch.save({"params": seeded_state_dict(layout, seed=seed)}, paths[name])
    return RealESRGAN(
        weights=paths["x4v3"], weights_wdn=paths["wdn"], denoise_strength=0.2, check_hash=False, **config["args"]
    )


def test_realesrgan_dni_and_network_match_the_benchmark_enhance(realesrgan_golden, realesrgan):
    case = realesrgan_golden.case("enhance-dn0.2")
    image = seeded_images(case["inputs"]["image_seed"], case["inputs"]["shape"])
    with torch.no_grad():
        x4 = realesrgan.net(image)
    what = f"Real-ESRGAN x4 vs {realesrgan_golden.origin}"
    assert_matches_golden(x4, case["outputs"]["output"], rtol=1e-5, atol=1e-5, what=what)


def test_realesrgan_input_gradient_matches(realesrgan_golden, realesrgan):
    case = realesrgan_golden.case("gradient")
    x = seeded_images(case["inputs"]["image_seed"], case["inputs"]["shape"]).requires_grad_(True)
    out = realesrgan.net(x)
    (out * (seeded_images(10, tuple(out.shape)) - 0.5)).sum().backward()
    what = f"Real-ESRGAN gradient vs {realesrgan_golden.origin}"
    assert_matches_golden(x.grad, case["outputs"]["grad"], rtol=1e-4, atol=1e-5, what=what)


def test_realesrgan_purify_is_the_benchmark_x4_output_clamped_and_resized(realesrgan_golden, realesrgan):
    """Deliberate deviation: the benchmark scores the unclamped x4 image; the project returns the input size."""
    import torch.nn.functional as F

    case = realesrgan_golden.case("enhance-dn0.2")
    image = seeded_images(case["inputs"]["image_seed"], case["inputs"]["shape"])
    with torch.no_grad():
        out = realesrgan(image)
    official = torch.tensor(case["outputs"]["output"]).clamp(0, 1)
    expected = F.interpolate(official, size=image.shape[-2:], mode="bicubic", antialias=True).clamp(0, 1)
    assert out.shape == image.shape
    assert_matches_golden(out, expected, rtol=1e-5, atol=1e-5, what="Real-ESRGAN post-processing")


# --------------------------------------------------------------------------------------------- DnCNN


@pytest.fixture(scope="module")
def dncnn_golden():
    return load_golden(GOLDENS / "dncnn.json")


@pytest.fixture(scope="module")
def dncnn_checkpoint(dncnn_golden, tmp_path_factory):
    from iqa_purify.dncnn import DnCNNNet

    config = dncnn_golden.case("config")["inputs"]
    layout = DnCNNNet(config["args"]["depth"], config["args"]["n_channels"])
    assert {k: list(v.shape) for k, v in layout.state_dict().items()} == config["layout"]
    path = tmp_path_factory.mktemp("dncnn") / "best.pth"
    # the benchmark's best.pth layout: DataParallel prefix under "state_dict"
    torch.save({"state_dict": {f"module.{k}": v for k, v in seeded_state_dict(layout, seed=0).items()}}, path)
    return path


def _dncnn_noisy(inputs):
    clean = seeded_images(inputs["image_seed"], inputs["shape"])
    noise = torch.randn(tuple(inputs["shape"]), generator=torch.Generator().manual_seed(12))
    return (clean + inputs["sigma"] * noise).clamp(0, 1)


def test_dncnn_output_and_input_gradient_match_the_benchmark(dncnn_golden, dncnn_checkpoint):
    from iqa_purify.dncnn import DnCNN

    case = dncnn_golden.case("denoise")
    denoiser = DnCNN(dncnn_checkpoint, clamp=False)
    x = _dncnn_noisy(case["inputs"]).requires_grad_(True)
    out = denoiser(x, case["inputs"]["sigma"])
    (out * (seeded_images(13, case["inputs"]["shape"]) - 0.5)).sum().backward()
    what = f"DnCNN vs {dncnn_golden.origin}"
    assert_matches_golden(out, case["outputs"]["output"], rtol=1e-5, atol=1e-5, what=what)
    assert_matches_golden(x.grad, case["outputs"]["grad"], rtol=1e-4, atol=1e-5, what=f"{what}: input gradient")


def test_dncnn_default_clamps_the_benchmark_output(dncnn_golden, dncnn_checkpoint):
    """Deliberate deviation by default: the output is clamped to [0, 1] (the benchmark passes it on raw)."""
    from iqa_purify.dncnn import DnCNN

    case = dncnn_golden.case("denoise")
    with torch.no_grad():
        out = DnCNN(dncnn_checkpoint)(_dncnn_noisy(case["inputs"]), case["inputs"]["sigma"])
    expected = torch.tensor(case["outputs"]["output"]).clamp(0, 1)
    assert_matches_golden(out, expected, rtol=1e-5, atol=1e-5, what=f"DnCNN clamped vs {dncnn_golden.origin}")


# --------------------------------------------------------------------------------------------- DDRS one-step denoiser


@pytest.fixture(scope="module")
def ddrs_golden():
    return load_golden(GOLDENS / "ddrs.json")


@pytest.mark.parametrize("case", ["sigma0.12", "sigma0.25"])
def test_one_step_denoiser_matches_the_benchmark_ddrs(case, ddrs_golden, tmp_path):
    """Same timestep rule and the same x0 estimate, given the same noisy image ``(x_t / sqrt(a_bar) + 1) / 2``."""
    from iqa_purify.diffusion_denoiser import OneStepDiffusionDenoiser

    config = ddrs_golden.case("config")["inputs"]
    path = tmp_path / "tiny_guided.pt"
    torch.save(seeded_state_dict({k: tuple(v) for k, v in config["layout"].items()}, seed=0), path)
    denoiser = OneStepDiffusionDenoiser(path, config=_tiny_config(config["model"]), check_hash=False, overlap=4)
    golden = ddrs_golden.case(case)
    sigma, expected = golden["inputs"]["sigma"], golden["outputs"]
    t = denoiser.timestep(sigma)
    assert t == expected["t"]
    a = denoiser.scheduler.alphas_cumprod[t]
    noisy = ((torch.tensor(expected["x_t"], dtype=torch.float64) / a.sqrt() + 1) / 2).float()
    with torch.no_grad():
        out = denoiser(noisy, sigma)
    assert_matches_golden(
        out, expected["output"], rtol=1e-5, atol=1e-5, what=f"one-step denoiser {case} vs {ddrs_golden.origin}"
    )
