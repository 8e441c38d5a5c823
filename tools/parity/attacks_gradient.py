"""Goldens for the gradient attacks: the benchmarks' official attack code on a seeded stand-in metric.

Runs, from local checkouts (imported with ``sys.path``, never copied):
- msu-video-group/MSU_Metrics_Robustness_Benchmark ``robustness_benchmark/methods``:
  ``std-fgsm``, ``ifgsm``, ``mifgsm``, ``amifgsm``, ``madc`` and ``korhonen-et-al`` ``run.py:attack``
  at their hard-coded parameters (eps 10/255, ...);
- msu-video-group/adversarial-defenses-for-iqa ``metrics/methods`` (the Guardians benchmark):
  ``ifgsm``, ``ssah`` and ``zhang-et-al-dists`` ``run.py:attack`` at a preset step,
  ``stadv/run.py:flow_st`` (the warp) and the full stAdv attack, ``uap/train.py:train`` (the UAP training schedule) and
  ``utils/uap_evaluate.py:run`` (the UAP application, its CSV row: scores, Linf, MSE).

The metric is a tiny seeded network (defined here and in the test, no official code) with
``lower_better = False`` and range 100, called as the reference calls ``model(x)``; images are
``seeded_images`` (1x3x16x16; the UAP cases 256x256 PNGs, as the reference's loaders read them).

Environment patches (not code): the evaluation harness modules the ``run.py`` files import at the
top (``fgsm_evaluate``) are stubbed, as are the video library ``av`` and ``frozendict`` (a
hashable dict) that the UAP harness imports; ``IQA_pytorch.DISTS`` by ``100 * MSE`` (DISTS needs
pretrained weights; the case checks Zhang et al.'s optimisation, not DISTS); ``pywt`` (not
installed) is stubbed by the Haar filter bank only (``Wavelet('haar')``: dec/rec low/high
filters ``+-1/sqrt(2)``), which is all SSAH uses of it.

    uv run --locked python tools/parity/attacks_gradient.py \\
        --repo /path/to/MSU_Metrics_Robustness_Benchmark --guardians /path/to/adversarial-defenses-for-iqa
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import math
import random
import subprocess
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from iqa_core.testing.parity import seeded_images, seeded_weights_, write_golden

ROOT = Path(__file__).resolve().parents[2]
GOLDENS = ROOT / "packages/iqa-attacks/tests/goldens"
SIZE = 12


class StandIn(nn.Module):
    """Tiny seeded metric, scores in (0, 100), higher is better (same definition in the test)."""

    lower_better = False

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2),
            nn.Softplus(),
            nn.Conv2d(8, 8, 3),
            nn.Softplus(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(8, 1),
        )
        seeded_weights_(self.net, seed=13, scale=2.0)

    def forward(self, x: torch.Tensor, inference: bool = False) -> torch.Tensor:  # the reference wrappers' call
        return 50 + 50 * torch.tanh(self.net(x).squeeze(-1))


def mid_image(seed: int) -> torch.Tensor:
    """Seeded image in [0.2, 0.8] (no [0, 1] clipping within 10/255)."""
    return 0.2 + 0.6 * seeded_images(seed, (1, 3, SIZE, SIZE))


def full_image(seed: int) -> torch.Tensor:
    return seeded_images(seed, (1, 3, SIZE, SIZE))


def commit_of(repo: Path, given: str | None) -> str:
    if given:
        return given
    return subprocess.check_output(["git", "-C", str(repo), "rev-parse", "HEAD"], text=True).strip()


def load(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def patch_environment() -> None:
    sys.modules["fgsm_evaluate"] = types.SimpleNamespace(test_main=lambda *a, **k: None)  # type: ignore[assignment]
    sys.modules.setdefault("av", types.SimpleNamespace(open=None))  # type: ignore[arg-type]

    class FrozenDict(dict):  # type: ignore[type-arg]
        def __hash__(self) -> int:  # type: ignore[override]
            return hash(tuple(sorted(self.items())))

    sys.modules["frozendict"] = types.SimpleNamespace(frozendict=FrozenDict)  # type: ignore[assignment]
    r = 1 / math.sqrt(2)

    class Wavelet:
        def __init__(self, name: str) -> None:
            assert name == "haar", name
            self.dec_lo, self.dec_hi = [r, r], [-r, r]
            self.rec_lo, self.rec_hi = [r, r], [r, -r]

    sys.modules["pywt"] = types.SimpleNamespace(Wavelet=Wavelet)  # type: ignore[assignment]

    class MSEDistance(nn.Module):  # stands in for IQA_pytorch.DISTS (pretrained VGG weights: not here)
        def forward(self, x: torch.Tensor, y: torch.Tensor, as_loss: bool = True) -> torch.Tensor:
            return 100 * (x - y).pow(2).mean()

    sys.modules["IQA_pytorch"] = types.SimpleNamespace(DISTS=MSEDistance)  # type: ignore[assignment]


def rounded(t: torch.Tensor | np.ndarray, digits: int = 7) -> Any:
    a = t.detach().cpu().double().numpy() if isinstance(t, torch.Tensor) else np.asarray(t, dtype=np.float64)
    return np.round(a, digits).tolist()


def msu_cases(repo: Path, model: StandIn) -> list[dict[str, Any]]:
    methods = repo / "robustness_benchmark/methods"
    cases = []
    for method in ("std-fgsm", "ifgsm", "mifgsm", "amifgsm", "madc", "korhonen-et-al"):
        module = load(methods / method / "run.py", f"msu_{method.replace('-', '_')}")
        images = {"mid": (mid_image, 1), "full": (full_image, 2)}
        for kind, (make, seed) in images.items():
            if kind == "full" and method not in ("ifgsm", "mifgsm"):
                continue
            x = make(seed)
            torch.manual_seed(0)
            adv = module.attack(x.clone(), model=model, metric_range=100.0)
            outputs: dict[str, Any] = {"adv": rounded(adv), "score": float(model(adv).item())}
            if method == "korhonen-et-al":
                outputs["activity_map"] = rounded(torch.as_tensor(module.makeSpatialActivityMap(x * 255) / 255))
            cases.append(
                {"name": f"{method}-{kind}", "inputs": {"image": kind, "seed": seed, "size": SIZE}, "outputs": outputs}
            )
    return cases


def guardians_cases(repo: Path, model: StandIn) -> list[dict[str, Any]]:
    methods = repo / "metrics/methods"
    sys.path.insert(0, str(methods / "utils"))
    cases = []
    ifgsm = load(methods / "ifgsm/run.py", "g_ifgsm")
    for alpha in (7.84e-4, 1.57e-3):
        x = mid_image(3)
        adv = ifgsm.attack(x.clone(), model=model, metric_range=100.0, alpha=alpha)
        cases.append(
            {
                "name": f"ifgsm-alpha{alpha:g}",
                "inputs": {"image": "mid", "seed": 3, "size": SIZE, "alpha": alpha},
                "outputs": {"adv": rounded(adv), "score": float(model(adv).item())},
            }
        )
    ssah = load(methods / "ssah/run.py", "g_ssah")
    for lr in (7.7e-4, 1.57e-3):
        x = mid_image(4)
        adv = ssah.attack(x.clone(), model=model, metric_range=100.0, lr=lr)
        cases.append(
            {
                "name": f"ssah-lr{lr:g}",
                "inputs": {"image": "mid", "seed": 4, "size": SIZE, "lr": lr},
                "outputs": {"adv": rounded(adv), "score": float(model(adv).item())},
            }
        )
    zhang = load(methods / "zhang-et-al-dists/run.py", "g_zhang")
    for lr in (7.7e-4, 3.15e-3):
        x = mid_image(8)
        adv = zhang.attack(x.clone(), model=model, metric_range=100.0, lr=lr)
        cases.append(
            {
                "name": f"zhang-lr{lr:g}",
                "inputs": {"image": "mid", "seed": 8, "size": SIZE, "lr": lr, "distance": "100 * mean((x - y)^2)"},
                "outputs": {"adv": rounded(adv), "score": float(model(adv).item())},
            }
        )
    stadv = load(methods / "stadv/run.py", "g_stadv")
    x = full_image(5)
    flow = 2.0 * (seeded_images(6, (1, 2, SIZE, SIZE)) - 0.5)  # (dy, dx) in pixels, within +-1
    warped = stadv.flow_st(x, flow.double())
    cases.append(
        {
            "name": "stadv-warp",
            "inputs": {
                "image": "full",
                "seed": 5,
                "size": SIZE,
                "flow": "2 * (seeded_images(6, (1, 2, 12, 12)) - 0.5)",
            },
            "outputs": {"warped": rounded(warped), "flow_loss": float(stadv.flow_loss(flow.double()))},
        }
    )
    for lr in (0.1, 0.7):
        x = mid_image(7)
        adv = stadv.attack(x.clone(), model=model, metric_range=100.0, lr=lr)
        cases.append(
            {
                "name": f"stadv-lr{lr:g}",
                "inputs": {"image": "mid", "seed": 7, "size": SIZE, "lr": lr},
                "outputs": {
                    "linf": float((adv - x).abs().max()),
                    "score": float(model(adv.float()).item()),
                    "clean": float(model(x).item()),
                },
            }
        )
    cases += uap_cases(methods, model)
    return cases


def png_images(folder: Path, seeds: list[int], size: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(seeds):
        image = seeded_images(seed, (3, size, size))
        array = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        Image.fromarray(array).save(folder / f"img{i}.png")


def uap_cases(methods: Path, model: StandIn) -> list[dict[str, Any]]:
    train = load(methods / "uap/train.py", "g_uap_train")
    evaluate = load(methods / "utils/uap_evaluate.py", "g_uap_evaluate")
    train_seeds, test_seeds = [20, 21, 22, 23], [30]
    with tempfile.TemporaryDirectory() as tmp:
        train_dir, test_dir = Path(tmp) / "train", Path(tmp) / "test"
        png_images(train_dir, train_seeds, 256)
        png_images(test_dir, test_seeds, 40)
        random.seed(0)
        torch.manual_seed(0)
        uap = train.train(model, str(train_dir), batch_size=8, metric_range=100.0)  # (256, 256, 3), numpy
        rows_path = Path(tmp) / "res.csv"
        evaluate.run(model, uap, str(test_dir), "train", "test", amplitude=[0.078, 0.314], save_path=str(rows_path))
        rows = list(csv.DictReader(rows_path.open()))
    pattern = torch.from_numpy(np.ascontiguousarray(uap.transpose(2, 0, 1)))
    return [
        {
            "name": "uap-train",
            "inputs": {"train_seeds": train_seeds, "size": 256, "png": True, "batch_size": 8},
            "outputs": {
                "pattern_crop": rounded(pattern[:, :16, :16], 9),
                "pattern_channel_mean": rounded(pattern.mean((1, 2)), 9),
                "pattern_abs_max": float(pattern.abs().max()),
                "pattern_abs_mean": float(pattern.abs().mean()),
            },
        },
        {
            "name": "uap-apply",
            "inputs": {"test_seeds": test_seeds, "size": 40, "png": True, "amplitudes": [0.078, 0.314]},
            "outputs": {
                "rows": [{k: float(r[k]) for k in ("amplitude", "clear", "attacked", "l_inf", "mse")} for r in rows]
            },
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of MSU_Metrics_Robustness_Benchmark")
    parser.add_argument("--guardians", type=Path, required=True, help="checkout of adversarial-defenses-for-iqa")
    parser.add_argument("--commit", help="commit of --repo (read with git when omitted)")
    parser.add_argument("--guardians-commit", help="commit of --guardians (read with git when omitted)")
    args = parser.parse_args()
    patch_environment()
    torch.set_num_threads(1)
    model = StandIn().eval()
    generator = "tools/parity/attacks_gradient.py"
    write_golden(
        GOLDENS / "attacks_msu.json",
        component="attacks-msu",
        repo="msu-video-group/MSU_Metrics_Robustness_Benchmark",
        commit=commit_of(args.repo, args.commit),
        entry="robustness_benchmark/methods/{std-fgsm,ifgsm,mifgsm,amifgsm,madc,korhonen-et-al}/run.py:attack",
        generator=generator,
        cases=msu_cases(args.repo, model),
        notes="stand-in metric StandIn (seeded, range 100); adversarial images rounded to 1e-7",
    )
    write_golden(
        GOLDENS / "attacks_guardians.json",
        component="attacks-guardians",
        repo="msu-video-group/adversarial-defenses-for-iqa",
        commit=commit_of(args.guardians, args.guardians_commit),
        entry=(
            "metrics/methods/{ifgsm,ssah,stadv,zhang-et-al-dists}/run.py:attack, stadv/run.py:flow_st/flow_loss, "
            "uap/train.py:train, utils/uap_evaluate.py:run"
        ),
        generator=generator,
        cases=guardians_cases(args.guardians, model),
        notes=(
            "stand-in metric StandIn (seeded, range 100); environment stubs: fgsm_evaluate (harness), av, "
            "frozendict (hashable dict), pywt (Haar filters only), IQA_pytorch.DISTS (100 * MSE in the "
            "zhang-et-al-dists cases: DISTS needs pretrained VGG weights); UAP images are 8-bit PNGs read by the "
            "reference loaders (train: 4 images of 256x256 with batch 8, so every step sees all of them)"
        ),
    )


if __name__ == "__main__":
    main()
