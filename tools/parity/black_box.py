"""Golden for Square Attack: the Guardians benchmark's ``metrics/methods/square-attack/run.py:attack``.

Runs the benchmark's own Square Attack (msu-video-group/adversarial-defenses-for-iqa, imported from a
local checkout with ``importlib``, never copied) on a cheap seeded stand-in metric (defined here and
in the test) and one seeded 1x3x256x256 image (the reference hard-codes 256x256 and 10,000
iterations), eps 4/255. Its random draws come from ``np.random.randint`` (window corner) and
``np.random.choice`` (window signs); the generator replaces both, in the environment, by a scripted
stream derived from a seed (the same stream the test feeds the project's ``Square`` through its
``randint``/``random_signs``), so the deterministic part, the update and acceptance rule, is compared
query by query. Recorded: every 50th queried score, the sum of all queried scores and its running
sum every 500 queries (the test runs a prefix to stay fast), the best score and the number of
accepted candidates.

Environment patches (not code): ``fgsm_evaluate`` (the evaluation harness imported at the top of
``run.py``) is stubbed; ``tqdm`` is replaced by the identity; ``cuda`` device moves are mapped to
the CPU (``model.to``/``Tensor.to`` with ``'cuda'``); ``np.random.randint``/``np.random.choice``
draw from the scripted stream.

    uv run --locked python tools/parity/black_box.py --guardians /path/to/adversarial-defenses-for-iqa
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import torch
from torch import nn

from iqa_core.testing.parity import seeded_images, seeded_weights_, write_golden

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "packages/iqa-attacks/tests/goldens/square.json"
NES_GOLDEN = ROOT / "packages/iqa-attacks/tests/goldens/nes.json"
NES_PAIRS = 10  # antithetic pairs (the reference's n = 20; fewer keep the golden small)
NES_SEED = 11
EPS = 4 / 255
SIZE = 256
N_ITERS = 10000  # hard-coded in the reference
P_INIT = 0.05  # hard-coded in the reference
DRAW_SEED = 5


class CheapRegressor(nn.Module):
    """Seeded stand-in metric on 256x256 images (same definition in the test): pool 8, conv, sin."""

    lower_better = False

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3)
        self.head = nn.Linear(6, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.sin(8 * self.conv(nn.functional.avg_pool2d(x, 4))).mean((2, 3))
        return self.head(h).squeeze(1)


def scripted_stream(seed: int) -> tuple[list[float], list[float]]:
    """Uniform [0, 1) draws for window corners and for signs (two independent streams)."""
    g = np.random.default_rng(seed)
    return list(g.random(4 * N_ITERS)), list(g.random(3 * 40 * N_ITERS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guardians", required=True, type=Path, help="checkout of adversarial-defenses-for-iqa")
    parser.add_argument("--out", type=Path, default=GOLDEN)
    args = parser.parse_args()
    repo = args.guardians.resolve()
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    commit = commit.strip() if len(commit.strip()) == 40 else (repo / "COMMIT").read_text().strip()

    # environment patches
    sys.modules["fgsm_evaluate"] = types.SimpleNamespace(test_main=lambda *a, **k: None)  # type: ignore[assignment]
    sys.modules["tqdm"] = types.SimpleNamespace(tqdm=lambda it, *a, **k: it)  # type: ignore[assignment]
    tensor_to, module_to = torch.Tensor.to, nn.Module.to
    torch.Tensor.to = lambda self, *a, **k: tensor_to(self, *["cpu" if x == "cuda" else x for x in a], **k)  # type: ignore[method-assign]
    nn.Module.to = lambda self, *a, **k: module_to(self, *["cpu" if x == "cuda" else x for x in a], **k)  # type: ignore[method-assign]
    corners, signs = scripted_stream(DRAW_SEED)
    corner_it, sign_it = iter(corners), iter(signs)

    def randint(low: int, high: int) -> int:  # np.random.randint(0, h - s): [0, high)
        return low + int(next(corner_it) * (high - low))

    def choice(values: list[float], size: list[int]) -> np.ndarray:  # np.random.choice([-eps, eps], [c, 1, 1])
        return np.array([values[0] if next(sign_it) < 0.5 else values[1] for _ in range(int(np.prod(size)))]).reshape(
            size
        )

    np.random.randint = randint  # type: ignore[assignment]
    np.random.choice = choice  # type: ignore[assignment]

    spec = importlib.util.spec_from_file_location("guardians_square", repo / "metrics/methods/square-attack/run.py")
    assert spec is not None and spec.loader is not None
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)

    f = seeded_weights_(CheapRegressor(), seed=21).eval()
    queried: list[float] = []

    class Recording(nn.Module):
        lower_better = False

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            s = f(x)
            queried.append(float(s[0]))
            return s

    x = seeded_images(4, (1, 3, SIZE, SIZE))
    adv = run.attack(x, model=Recording(), eps=EPS)
    adv_t = torch.from_numpy(np.ascontiguousarray(adv.transpose(0, 3, 1, 2)))
    with torch.no_grad():
        best = float(f(adv_t)[0])
    scores = np.array(queried)
    accepted = int((scores[2:] > np.maximum.accumulate(scores)[1:-1]).sum())  # improvements after query 2
    case = {
        "name": "square_eps4",
        "inputs": {"image_seed": 4, "shape": [1, 3, SIZE, SIZE], "weights_seed": 21, "eps": EPS, "p_init": P_INIT},
        "draw_seed": DRAW_SEED,
        "n_queries": len(queried),
        "scores_every_50": scores[::50],
        "scores_sum": float(scores.sum()),
        "prefix_sums_every_500": np.cumsum(scores)[499::500],
        "best": best,
        "accepted": accepted,
        "linf": float((adv_t - x).abs().max()),
    }
    print(case["n_queries"], best, scores[0], accepted, case["linf"] * 255)
    write_golden(
        args.out,
        component="square",
        repo="msu-video-group/adversarial-defenses-for-iqa",
        commit=commit,
        entry="metrics/methods/square-attack/run.py:attack (n_iters 10000, p_init 0.05, eps 4/255)",
        generator="tools/parity/black_box.py",
        cases=[case],
        notes=(
            "Random draws scripted (np.random.randint -> corner from a uniform stream, np.random.choice -> signs "
            "from a second uniform stream, seed draw_seed via numpy default_rng); fgsm_evaluate and tqdm stubbed, "
            "'cuda' device moves mapped to the CPU. The reference starts from the clean image (no stripe "
            "initialisation); scores of the 1 + 9999 queries are the reference's."
        ),
    )
    print("wrote", args.out)
    nes_golden(repo, commit, f)


def nes_golden(repo: Path, commit: str, f: nn.Module) -> None:
    """The benchmark's NES gradient estimate (``grad-est/run.py:grad_est``) for one seeded draw.

    On a 1x3x32x32 image the reference's 32x32 noise tile covers the image exactly (its tiling is
    the identity), so its estimate ``1 / (2 n sigma) sum [f(x + sigma u) - f(x - sigma u)] u`` is
    the project's for the same ``u`` (drawn here with ``torch.empty(3, 32, 32).normal_()`` after
    ``torch.manual_seed(NES_SEED)``, as the reference draws them; the test replays that stream).
    Recorded: the sign of the estimate (the project steps along it) and its L2 norm.
    """
    spec = importlib.util.spec_from_file_location("guardians_grad_est", repo / "metrics/methods/grad-est/run.py")
    assert spec is not None and spec.loader is not None
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    x = seeded_images(6, (1, 3, 32, 32))
    torch.manual_seed(NES_SEED)
    with torch.no_grad():
        g = run.grad_est(f, x, None, 1e-3, 32, NES_PAIRS)
    write_golden(
        NES_GOLDEN,
        component="nes",
        repo="msu-video-group/adversarial-defenses-for-iqa",
        commit=commit,
        entry="metrics/methods/grad-est/run.py:grad_est (sigma 1e-3, N 32, n 10 pairs)",
        generator="tools/parity/black_box.py",
        cases=[
            {
                "name": "grad_est_32",
                "inputs": {"image_seed": 6, "shape": [1, 3, 32, 32], "weights_seed": 21, "sigma": 1e-3},
                "pairs": NES_PAIRS,
                "noise_seed": NES_SEED,
                "sign": torch.sign(g).to(torch.int8),
                "norm": float(g.norm()),
            }
        ],
        notes=(
            "Gradient estimate only: the reference's attack loop (tiled 32x32 noise, L2-normalised step "
            "eta 0.1, 250 iterations x 40 queries, last iterate returned) is a different algorithm from the "
            "project's NES (full-resolution noise, signed step, best point); see docs/parity.md. Noise drawn "
            "with the global torch RNG (torch.manual_seed(noise_seed)), replayed by the test. Environment as "
            "for square.json."
        ),
    )
    print("wrote", NES_GOLDEN, float(g.norm()))


if __name__ == "__main__":
    main()
