"""Golden for randomized smoothing: locuslab/smoothing's ``Smooth.certify`` / ``Smooth.predict`` (Cohen et al.).

The base classifier is a seeded linear score (``score = a * (w . x) + c``, ``w`` from a fixed
seed, unit norm) discretised into ``n_classes`` equal bins over ``bounds`` plus one class below
and one above (the benchmark's classes; written out here, not imported from the project), given
to the official ``Smooth`` as one-hot logits. Environment patches, as the official code cannot run
unchanged here: ``scipy.stats.binom_test`` (removed from SciPy) is provided as
``binomtest(...).pvalue``; ``torch.randn_like(batch, device='cuda')`` draws on the CPU from one
seeded generator (``torch.randn(batch.shape, generator=G)``), so the project's RS, given a CPU
generator with the same seed and the same batch size, sees exactly the same noise;
``statsmodels`` (which ``core.py`` imports for Clopper-Pearson) comes from a separate directory
(``--site``, e.g. ``pip install --target DIR statsmodels``), not from the project's environment.

    uv run --locked python tools/parity/certify_smoothing.py --repo /path/to/smoothing --site DIR
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import scipy.stats
import torch

from iqa_core.testing.parity import seeded_images, write_golden

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "packages/iqa-certify/tests/goldens/certify_smoothing.json"
SHAPE = (3, 8, 8)

# name, image seed, sigma, n0, n, alpha, batch, n_classes, half-width of the bounds around the clean score, offset
CASES = [
    ("wide-certified", 1, 0.12, 100, 1000, 0.001, 100, 10, 3.0, 0.3),
    ("narrow-certified", 2, 0.12, 100, 1000, 0.001, 64, 10, 1.5, 0.15),
    ("boundary-abstain", 3, 0.12, 100, 1000, 0.001, 100, 10, 0.3, 0.0),
    ("sigma-0.25", 4, 0.25, 50, 500, 0.001, 50, 10, 3.0, 0.3),
    ("alpha-0.01-odd-batches", 5, 0.12, 37, 301, 0.01, 29, 6, 1.2, 0.2),
]


def linear_weight() -> torch.Tensor:
    """The unit-norm weight both sides build (seeded images with seed 99, centred)."""
    w = seeded_images(99, SHAPE, dtype=torch.float64) - 0.5
    return (w / w.norm()).float()


def score(images: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return (images * weight).flatten(1).sum(1)


def classes(scores: torch.Tensor, lower: float, upper: float, n_classes: int) -> torch.Tensor:
    """Bins ``[lower + (k-1) w, lower + k w)`` -> k (1..n), below -> 0, above -> n + 1 (measure-zero edges aside)."""
    width = (upper - lower) / n_classes
    k = torch.floor((scores.double() - lower) / width).long() + 1
    k = torch.where(scores.double() < lower, torch.zeros_like(k), k)
    return k.clamp(0, n_classes + 1)


class Base(torch.nn.Module):
    """The base classifier given to the official ``Smooth``: one-hot logits of the score's class."""

    def __init__(self, weight: torch.Tensor, lower: float, upper: float, n_classes: int) -> None:
        super().__init__()
        self.weight, self.lower, self.upper, self.n_classes = weight, lower, upper, n_classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        labels = classes(score(x, self.weight), self.lower, self.upper, self.n_classes)
        return torch.nn.functional.one_hot(labels, self.n_classes + 2).float()


def recorder(sample: Callable[..., Any], store: list[list[int]]) -> Callable[..., Any]:
    """Wrap the official ``_sample_noise`` so that every round's class counts are kept."""

    def record(x: torch.Tensor, num: int, batch_size: int) -> Any:
        counts = sample(x, num, batch_size)
        store.append([int(c) for c in counts])
        return counts

    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of locuslab/smoothing")
    parser.add_argument("--site", type=Path, help="directory holding statsmodels (appended to sys.path)")
    parser.add_argument("--commit", help="commit of the checkout (read with git when omitted)")
    args = parser.parse_args()
    commit = (
        args.commit or subprocess.check_output(["git", "-C", str(args.repo), "rev-parse", "HEAD"], text=True).strip()
    )

    # environment patches (see the module docstring)
    scipy.stats.binom_test = lambda k, n, p=0.5: scipy.stats.binomtest(int(k), int(n), p).pvalue  # type: ignore[attr-defined]
    if args.site:
        sys.path.append(str(args.site))
    sys.path.insert(0, str(args.repo / "code"))
    import core  # the official module

    noise_gen = torch.Generator()
    real_randn_like = torch.randn_like

    def randn_like_on_cpu(t: torch.Tensor, *a: object, **k: object) -> torch.Tensor:
        return torch.randn(t.shape, generator=noise_gen, dtype=t.dtype)

    weight = linear_weight()
    out_cases = []
    torch.randn_like = randn_like_on_cpu  # type: ignore[assignment]
    try:
        for name, seed, sigma, n0, n, alpha, batch, n_classes, half, offset in CASES:
            image = seeded_images(seed, SHAPE)
            clean = float(score(image[None], weight))
            lower, upper = clean - half + offset, clean + half + offset

            smooth = core.Smooth(Base(weight, lower, upper, n_classes), n_classes + 2, sigma)
            noise_gen.manual_seed(1000 + seed)
            # the official certify and predict; their sampling rounds recorded around _sample_noise
            sample = smooth._sample_noise
            rounds: list[list[int]] = []
            smooth._sample_noise = recorder(sample, rounds)
            prediction, radius = smooth.certify(image, n0, n, alpha, batch)
            n_a = rounds[1][rounds[0].index(max(rounds[0]))]
            p_lower = smooth._lower_confidence_bound(n_a, n, alpha)
            noise_gen.manual_seed(2000 + seed)
            rounds_predict: list[list[int]] = []
            smooth._sample_noise = recorder(sample, rounds_predict)
            predicted = smooth.predict(image, n, alpha, batch)
            out_cases.append(
                {
                    "name": name,
                    "inputs": {
                        "image_seed": seed,
                        "shape": list(SHAPE),
                        "weight": "seeded_images(99, shape) - 0.5, unit norm",
                        "bounds": [lower, upper],
                        "n_classes": n_classes,
                        "sigma": sigma,
                        "n0": n0,
                        "n": n,
                        "alpha": alpha,
                        "batch_size": batch,
                        "noise_seed_certify": 1000 + seed,
                        "noise_seed_predict": 2000 + seed,
                    },
                    "outputs": {
                        "counts_selection": rounds[0],
                        "counts_estimation": rounds[1],
                        "prediction": int(prediction),
                        "count": n_a,
                        "p_lower": float(p_lower),
                        "radius": float(radius),
                        "predict_counts": rounds_predict[0],
                        "predict": int(predicted),
                    },
                }
            )
    finally:
        torch.randn_like = real_randn_like  # type: ignore[assignment]
    write_golden(
        GOLDEN,
        component="certify-smoothing",
        repo="locuslab/smoothing",
        commit=commit,
        entry="code/core.py: Smooth.certify, Smooth.predict, Smooth._lower_confidence_bound",
        generator="tools/parity/certify_smoothing.py",
        cases=out_cases,
        notes=(
            "CPU; seeded linear score discretised into the benchmark's classes (bins written out in the generator) "
            "as one-hot logits; scipy.stats.binom_test patched to binomtest(...).pvalue (removed from SciPy); "
            "torch.randn_like(batch, device='cuda') patched to torch.randn(batch.shape, generator=G) on the CPU with "
            "G seeded per case (noise_seed_*), the draw order the project's sampler uses for a CPU generator and the "
            "same batch size; statsmodels " + __import__("statsmodels").__version__ + " from a separate directory."
        ),
    )
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
