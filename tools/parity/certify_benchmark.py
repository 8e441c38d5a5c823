"""Golden for the benchmark's certified code (katiashh/certified-iqa-defenses): RS, DRS, MS, DMS as the paper ran them.

The scripts ``ccrf/calc_rs_koncept.py`` (RS; DRS with ``dn=True``) and ``ccrf/calc_nms_koncept.py``
(MS; DMS with ``dn=True``) load checkpoints and data at import time, so this generator parses them
and executes only the official definitions it needs (``noisy_samples``, ``predict_classifier``,
``prediction_counts``, ``lower_confidence_bound``, ``certify_clf``, ``MetricClassifier``;
``estimated_qu_ql``, ``SmoothMedianNMS``) with these globals: the metric is a seeded linear score
mapped into KonCept512's bounds (``MetricModel`` returns it), ``denoiser`` is the checkout's
``archs/dncnn.py`` DnCNN at a tiny size (depth 3, 8 channels) with seeded weights, ``sigma = 0.12``,
``alpha = 0.001``, device CPU. Environment patches: ``np.random.normal`` (RS) and
``torch.randn_like`` (MS) draw from one seeded torch generator in the project's sampler's layout
(``torch.randn((batch, 3, H, W))``, transposed to the script's HWC for RS), so both sides see the
same noise; ``statsmodels`` comes from ``--site``.

    uv run --locked python tools/parity/certify_benchmark.py --repo /path/to/certified-iqa-defenses --site DIR
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import torch

from iqa_core.testing.parity import seeded_images, seeded_weights_, write_golden

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "packages/iqa-certify/tests/goldens/certify_benchmark.json"
SHAPE = (3, 16, 16)
LOWER, UPPER = 26.40314292907715, 66.86933898925781  # KonCept512's bounds, as in the scripts
SIGMA, ALPHA, EPS = 0.12, 0.001, 0.05


def official(path: Path, names: set[str], namespace: dict[str, Any]) -> dict[str, Any]:
    """Execute only the top-level definitions ``names`` of an official script in ``namespace``."""
    tree = ast.parse(path.read_text())
    nodes = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef) and n.name in names]
    missing = names - {n.name for n in nodes}
    if missing:
        raise SystemExit(f"{path}: no definitions {sorted(missing)}")
    exec(compile(ast.Module(body=nodes, type_ignores=[]), str(path), "exec"), namespace)
    return namespace


def linear_weight() -> torch.Tensor:
    w = seeded_images(99, SHAPE, dtype=torch.float64) - 0.5
    return (w / w.norm()).float()


class Score(torch.nn.Module):
    """``a * (w . x) + c``: noisy scores spread over a few of the benchmark's bins."""

    def __init__(self, a: float, c: float) -> None:
        super().__init__()
        self.weight, self.a, self.c = linear_weight(), a, c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.weight).flatten(1).sum(1) * self.a + self.c


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of katiashh/certified-iqa-defenses")
    parser.add_argument("--site", type=Path, help="directory holding statsmodels (appended to sys.path)")
    parser.add_argument("--commit", help="commit of the checkout (read with git when omitted)")
    args = parser.parse_args()
    commit = (
        args.commit or subprocess.check_output(["git", "-C", str(args.repo), "rev-parse", "HEAD"], text=True).strip()
    )
    if args.site:
        sys.path.append(str(args.site))
    sys.path.insert(0, str(args.repo))
    import scipy.stats as stats
    from archs.dncnn import DnCNN  # the official denoiser architecture
    from scipy.stats import norm

    noise = torch.Generator()

    def normal(scale: float = 1.0, size: tuple[int, ...] = ()) -> np.ndarray:  # RS: HWC batches
        b, h, w, c = size
        return (torch.randn((b, c, h, w), generator=noise) * scale).permute(0, 2, 3, 1).numpy()

    np_env = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
    np_env.random = types.SimpleNamespace(normal=normal)
    torch_env = types.SimpleNamespace(**{k: getattr(torch, k) for k in dir(torch) if not k.startswith("__")})
    torch_env.randn_like = lambda t, *a, **k: torch.randn(t.shape, generator=noise, dtype=t.dtype)

    denoiser = seeded_weights_(DnCNN(depth=3, n_channels=8, image_channels=3), seed=7, scale=0.5).eval()
    cases = []
    for name, seed, a, offset, dn in (("rs", 1, 16.0, 4.5, False), ("drs", 2, 16.0, 5.5, True)):
        image = seeded_images(seed, SHAPE)
        c = LOWER + offset * (UPPER - LOWER) / 10 - a * float((image * linear_weight()).sum())
        metric = Score(a, c)
        ns: dict[str, Any] = {
            "np": np_env, "torch": torch, "nn": torch.nn, "norm": norm, "device": torch.device("cpu"),
            "sigma": SIGMA, "alpha": ALPHA, "denoiser": denoiser,
            "MetricModel": lambda *a_, _m=metric, **k_: _m,
        }  # fmt: skip
        official(
            args.repo / "ccrf/calc_rs_koncept.py",
            {"noisy_samples", "predict_classifier", "prediction_counts", "lower_confidence_bound", "certify_clf",
             "MetricClassifier"},
            ns,
        )  # fmt: skip
        ns["clf"] = ns["MetricClassifier"]()
        rounds: list[list[int]] = []
        bounds: list[tuple[int, float]] = []
        counts_fn, bound_fn = ns["prediction_counts"], ns["lower_confidence_bound"]

        def record_counts(x, n, batch_size, dn=False, _f=counts_fn, _r=rounds):  # type: ignore[no-untyped-def]
            preds = _f(x, n, batch_size, dn=dn)
            _r.append([int(p) for p in preds])
            return preds

        def record_bound(k, n, _f=bound_fn, _b=bounds):  # type: ignore[no-untyped-def]
            value = _f(k, n)
            _b.append((int(k), float(value)))
            return value

        ns["prediction_counts"], ns["lower_confidence_bound"] = record_counts, record_bound
        noise.manual_seed(3000 + seed)
        hwc = image.permute(1, 2, 0).numpy()
        with torch.no_grad():
            prediction, radius = ns["certify_clf"](x=hwc[None, :], n=1000, batch_size=10, dn=dn)
        cases.append(
            {
                "name": name,
                "inputs": {
                    "image_seed": seed,
                    "shape": list(SHAPE),
                    "a": a,
                    "c": c,
                    "bounds": [LOWER, UPPER],
                    "sigma": SIGMA,
                    "alpha": ALPHA,
                    "n0": 100,
                    "n": 1000,
                    "batch_size": 10,
                    "noise_seed": 3000 + seed,
                    "denoiser": "DnCNN(depth=3, n_channels=8) seed 7 scale 0.5" if dn else None,
                },
                "outputs": {
                    "counts_selection": np.bincount(rounds[0], minlength=12),
                    "counts_estimation": np.bincount(rounds[1], minlength=12),
                    "count": bounds[0][0],
                    "p_lower": bounds[0][1],
                    "prediction": int(prediction[0]),
                    "radius": float(radius[0]),
                },
            }
        )

    for name, seed, a, dn in (("ms", 3, 16.0, False), ("dms", 4, 16.0, True)):
        image = seeded_images(seed, SHAPE)
        c = (LOWER + UPPER) / 2 - a * float((image * linear_weight()).sum())
        metric = Score(a, c)
        ns = {"torch": torch_env, "nn": torch.nn, "stats": stats, "math": __import__("math"), "model": metric,
              "denoiser": denoiser}  # fmt: skip
        official(args.repo / "ccrf/calc_nms_koncept.py", {"estimated_qu_ql", "SmoothMedianNMS"}, ns)
        q_u, q_l = ns["estimated_qu_ql"](eps=EPS, sample_count=1000, sigma=SIGMA, conf_thres=0.999)
        smoothed = ns["SmoothMedianNMS"](metric, SIGMA, None)
        noise.manual_seed(4000 + seed)
        with torch.no_grad():
            detections, detections_l, detections_u = smoothed.predict_range(
                image, n=1000, batch_size=10, q_u=q_u, q_l=q_l, dn=dn
            )  # the script's unpacking (the function returns median, desc[q_u], desc[q_l])
        ascending = torch.stack(list(smoothed.detection_acc))[torch.arange(999, -1, -1)]
        cases.append(
            {
                "name": name,
                "inputs": {
                    "image_seed": seed,
                    "shape": list(SHAPE),
                    "a": a,
                    "c": c,
                    "bounds": [LOWER, UPPER],
                    "sigma": SIGMA,
                    "eps": EPS,
                    "n": 1000,
                    "batch_size": 10,
                    "conf_thres": 0.999,
                    "noise_seed": 4000 + seed,
                    "denoiser": "DnCNN(depth=3, n_channels=8) seed 7 scale 0.5" if dn else None,
                },
                "outputs": {
                    "q_u": q_u,
                    "q_l": q_l,
                    "median": float(detections[0]),
                    "lower_b": float(detections_l[0]),
                    "upper_b": float(detections_u[0]),
                    "sorted_scores": ascending.double(),
                },
            }
        )
    write_golden(
        GOLDEN,
        component="certify-benchmark",
        repo="katiashh/certified-iqa-defenses",
        commit=commit,
        entry="ccrf/calc_rs_koncept.py: certify_clf & co. (RS, DRS with dn=True); "
        "ccrf/calc_nms_koncept.py: estimated_qu_ql, SmoothMedianNMS.predict_range (MS, DMS with dn=True)",
        generator="tools/parity/certify_benchmark.py",
        cases=cases,
        notes=(
            "CPU, float32. Only the official definitions are executed (the scripts load checkpoints and data at "
            "import). Metric: seeded linear score a*(w.x)+c in KonCept512's bounds; denoiser: the checkout's "
            "archs/dncnn.py "
            "DnCNN(depth=3, n_channels=8) with seeded_weights_(seed=7, scale=0.5), eval mode. Noise: "
            "np.random.normal (RS) and torch.randn_like (MS) patched to draw torch.randn((batch, 3, H, W)) from one "
            "CPU generator seeded per case (noise_seed), the layout of the project's sampler. statsmodels from a "
            "separate directory."
        ),
    )
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
