"""The certifiers against the numbers their official code produced (goldens from ``tools/parity/certify_*.py``).

* ``certify_smoothing.json``: locuslab/smoothing ``Smooth.certify``/``predict`` (Cohen et al.) on a
  seeded linear score in ordered classes, with the noise stream fed to both sides: class counts,
  the selected class, ``nA``, the Clopper-Pearson ``pA`` lower bound, the radius, the prediction.
* ``certify_benchmark.json``: the benchmark's certified code (katiashh/certified-iqa-defenses,
  ``ccrf/calc_rs_fpr.py``, ``ccrf/calc_nms_fpr.py``): RS/DRS (clipped noise, the benchmark's bins,
  a tiny seeded DnCNN) and MS/DMS (median and bounds of the sorted noisy scores).
* ``certify_median.json``: the order-statistic indices of Ping-C/CertifiedObjectDetection's
  ``estimated_qu_ql`` and of the benchmark's use of them, against ours.

Tolerances: counts, classes and predictions exact; ``pA`` and radius ``rtol=1e-9`` (SciPy's beta
quantile vs statsmodels' call of it); scores ``atol=1e-5`` (float32 sums in both).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from iqa_certify import DMS, DRS, MS, RS, median_index
from iqa_certify.densepure_reverse import densepure_reverse, densepure_timestep, respaced_timesteps
from iqa_core import Bounds
from iqa_core.testing.parity import assert_matches_golden, load_golden, seeded_images, seeded_weights_

GOLDENS = Path(__file__).parent / "goldens"


class LinearScore:
    """``score = a * (w . x) + c`` with the generator's unit-norm ``w`` (seeded_images(99) - 0.5)."""

    name, higher_is_better, differentiable = "parity-linear", True, True

    def __init__(self, shape, bounds, a: float = 1.0, c: float = 0.0) -> None:
        w = seeded_images(99, shape, dtype=torch.float64) - 0.5
        self.weight = (w / w.norm()).float()
        self.bounds = Bounds(*bounds)
        self.a, self.c = a, c

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        s = (images * self.weight).flatten(1).sum(1)
        return s * self.a + self.c if (self.a, self.c) != (1.0, 0.0) else s


# ---------------------------------------------------------------- locuslab/smoothing
SMOOTHING = load_golden(GOLDENS / "certify_smoothing.json")


@pytest.mark.parametrize("case", SMOOTHING["cases"], ids=lambda c: c["name"])
def test_rs_matches_locuslab_smoothing(case):
    i, o = case["inputs"], case["outputs"]
    metric = LinearScore(tuple(i["shape"]), i["bounds"])
    image = seeded_images(i["image_seed"], i["shape"])[None]
    rs = RS(
        sigma=i["sigma"], n0=i["n0"], n=i["n"], alpha=i["alpha"], n_classes=i["n_classes"],
        batch_size=i["batch_size"], bounds=tuple(i["bounds"]),
    )  # fmt: skip
    (cert,) = rs.certify(metric, image, generator=torch.Generator().manual_seed(i["noise_seed_certify"]))
    what = f"{SMOOTHING.origin} {case['name']}"
    selection = o["counts_selection"]
    assert int(cert.extra["top_class"]) == selection.index(max(selection)), what
    assert int(cert.extra["count"]) == o["count"], what
    assert_matches_golden(cert.extra["p_lower"], o["p_lower"], rtol=1e-9, atol=1e-12, what=f"{what} pA")
    assert_matches_golden(cert.radius, o["radius"], rtol=1e-9, atol=1e-12, what=f"{what} radius")
    assert (cert.prediction if not cert.abstained else -1) == o["prediction"], what

    (pred,) = rs.predict(metric, image, generator=torch.Generator().manual_seed(i["noise_seed_predict"]))
    counts = sorted(o["predict_counts"], reverse=True)
    assert (int(pred.extra["count"]), int(pred.extra["runner_up_count"])) == (counts[0], counts[1]), what
    assert (pred.prediction if not pred.abstained else -1) == o["predict"], what


# ---------------------------------------------------------------- the benchmark's certified code
BENCHMARK = load_golden(GOLDENS / "certify_benchmark.json")


class TinyDnCNN(nn.Module):
    """The key layout of the benchmark's archs/dncnn.py DnCNN at depth 3, 8 channels (x - dncnn(x))."""

    def __init__(self) -> None:
        super().__init__()
        self.dncnn = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1, bias=True),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1, bias=False),
            nn.BatchNorm2d(8, eps=0.0001, momentum=0.95),
            nn.ReLU(),
            nn.Conv2d(8, 3, 3, padding=1, bias=False),
        )
        seeded_weights_(self, seed=7, scale=0.5).eval()

    def forward(self, noisy: torch.Tensor, sigma: float = 0.0, *, generator=None) -> torch.Tensor:
        return noisy - self.dncnn(noisy)


def _benchmark_setup(case):
    i = case["inputs"]
    metric = LinearScore(tuple(i["shape"]), i["bounds"], a=i["a"], c=i["c"])
    image = seeded_images(i["image_seed"], i["shape"])[None]
    denoiser = TinyDnCNN() if i["denoiser"] else None
    return i, metric, image, denoiser


@pytest.mark.parametrize("name", ["rs", "drs"])
def test_rs_and_drs_paper_presets_match_the_benchmark(name):
    case = BENCHMARK.case(name)
    i, metric, image, denoiser = _benchmark_setup(case)
    o = case["outputs"]
    cls, extra = (RS, {}) if denoiser is None else (DRS, {"denoiser": denoiser})
    certifier = cls(**{**cls.presets["paper"], "batch_size": i["batch_size"], "bounds": tuple(i["bounds"]), **extra})
    assert certifier.clamp and certifier.image_size is None
    (cert,) = certifier.certify(metric, image, generator=torch.Generator().manual_seed(i["noise_seed"]))
    what = f"{BENCHMARK.origin} {name}"
    selection = o["counts_selection"]
    assert int(cert.extra["top_class"]) == selection.index(max(selection)) == o["prediction"], what
    assert int(cert.extra["count"]) == o["count"], what
    assert_matches_golden(cert.extra["p_lower"], o["p_lower"], rtol=1e-9, atol=1e-12, what=f"{what} pA")
    assert_matches_golden(cert.radius, o["radius"], rtol=1e-9, atol=1e-12, what=f"{what} radius")


@pytest.mark.parametrize("name", ["ms", "dms"])
def test_ms_and_dms_paper_presets_match_the_benchmark(name):
    case = BENCHMARK.case(name)
    i, metric, image, denoiser = _benchmark_setup(case)
    o = case["outputs"]
    cls, extra = (MS, {}) if denoiser is None else (DMS, {"denoiser": denoiser})
    certifier = cls(**{**cls.presets["paper"], "batch_size": i["batch_size"], "bounds": tuple(i["bounds"]), **extra})
    (cert,) = certifier.certify(metric, image, generator=torch.Generator().manual_seed(i["noise_seed"]))
    what = f"{BENCHMARK.origin} {name}"
    ordered = o["sorted_scores"]
    assert_matches_golden(cert.score, o["median"], rtol=0, atol=1e-5, what=f"{what} median (torch.median)")
    assert_matches_golden(cert.lower, ordered[certifier.index_lower], rtol=0, atol=1e-5, what=f"{what} lower")
    assert_matches_golden(cert.upper, ordered[certifier.index_upper], rtol=0, atol=1e-5, what=f"{what} upper")
    # deliberate deviation: the benchmark reads its descending list at the 1-based ranks, i.e. ascending
    # index n - 1 - q: one order statistic below ours for both bounds (its upper bound is not a valid one)
    n = i["n"]
    assert (n - 1 - o["q_u"], n - 1 - o["q_l"]) == (certifier.index_lower - 1, certifier.index_upper - 1)
    assert o["lower_b"] == ordered[certifier.index_lower - 1] and o["upper_b"] == ordered[certifier.index_upper - 1]


# ---------------------------------------------------------------- Ping-C/CertifiedObjectDetection
MEDIAN = load_golden(GOLDENS / "certify_median.json")


@pytest.mark.parametrize("case", [c for c in MEDIAN["cases"] if c["name"].startswith("qu-ql")], ids=lambda c: c["name"])
def test_order_statistic_ranks_match_estimated_qu_ql(case):
    i, o = case["inputs"], case["outputs"]
    ms = MS(sigma=i["sigma"], eps=i["eps"], n=i["n"], alpha=1 - i["conf_thres"], bonferroni=False)
    # Ping-C's ranks are 1-based (q_l = 0 / q_u = n + 1: no bound); ours are 0-based indices of the same ranks
    assert ms.index_lower == (None if o["q_l"] == 0 else o["q_l"] - 1), case["name"]
    assert ms.index_upper == (None if o["q_u"] == i["n"] + 1 else o["q_u"] - 1), case["name"]


@pytest.mark.parametrize("n", [10, 11])
def test_median_convention_against_detections_acc(n):
    case = MEDIAN.case(f"median-n{n}")
    samples = torch.tensor(case["inputs"]["samples"])
    ours = float(samples.sort().values[median_index(n)])
    assert ours == float(samples.median())  # the benchmark's torch.median: lower middle value
    # Ping-C's DetectionsAcc.median takes index n // 2: the same for odd n, the upper middle for even n
    assert (ours == case["outputs"]["median"]) == (n % 2 == 1)


# ---------------------------------------------------------------- the benchmark's DensePure purification
DENSEPURE = load_golden(GOLDENS / "certify_densepure.json")


class StandIn(nn.Module):
    """The generator's stand-in UNet: ``conv3x3(x) + 1e-3 * t``, tanh on the variance values."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        seeded_weights_(self, seed=21, scale=0.5)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return torch.cat([out[:, :3], torch.tanh(out[:, 3:])], 1) + 1e-3 * t.float().view(-1, 1, 1, 1)


class StandInDiffusion:
    """What :func:`densepure_reverse` needs of iqa-purify's diffusion denoisers: ``unet`` and ``alphas_cumprod``."""

    def __init__(self) -> None:
        self.unet = StandIn().eval()
        betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)  # guided-diffusion's "linear", 1000 steps
        self.alphas_cumprod = torch.cumprod(1 - betas, 0).float()  # stored in float32, as DiffusionModule does


@pytest.mark.parametrize("case", DENSEPURE["cases"], ids=lambda c: c["name"])
def test_densepure_reverse_matches_the_benchmarks_two_step_purification(case):
    i, o = case["inputs"], case["outputs"]
    diffusion = StandInDiffusion()
    assert densepure_timestep(diffusion.alphas_cumprod, i["sigma"]) == o["t"]
    assert respaced_timesteps(o["t"], i["num_t_steps"]) == [o["t"], round(o["t"] / 2)]
    images = seeded_images(i["image_seed"], i["shape"])
    noisy = images + i["sigma"] * torch.randn(
        tuple(i["shape"]), generator=torch.Generator().manual_seed(i["noise_seed"])
    )
    generator = torch.Generator().manual_seed(i["reverse_seed"])
    with torch.no_grad():
        for key in ("first", "second"):  # the second call continues the reverse noise stream
            out = densepure_reverse(diffusion, noisy, i["sigma"], i["num_t_steps"], generator)
            assert_matches_golden(out, o[key], rtol=0, atol=1e-5, what=f"{DENSEPURE.origin} {case['name']} {key}")
