"""Golden for APGD: fra31/auto-attack's ``APGDAttack.attack_single_run`` (Linf) on a seeded stand-in metric.

The reference attacks a classifier's cross-entropy; the benchmark's APGD maximises the attack loss
``s * f(x) / diam``. The stand-in "classifier" wraps a tiny seeded regression net ``f`` (defined
here and in the test, no official code) as two logits ``[0, f(x)]`` with label 0, so the
reference's loss is ``CE = softplus(f(x))``: a strictly increasing function of ``f``. APGD only
compares losses and uses ``sign(grad)``, both unchanged by a strictly increasing map, so the
reference's iterates on CE are the benchmark APGD's iterates on ``f``.

Run without random start: ``attack_single_run(x, y, x_init=x)`` (its random draw is made but
overwritten by ``x_init``), eps 8/255, ``rho`` 0.75, n_iter 10 / 20 / 100 (the preset count, a
middle one and the paper's). Recorded: the best point ``x_best`` (the adversarial image),
``f(x_best)``, the step size at the start of every iteration and the iterations after which the
reference checked its step (read from the running frame's locals with ``sys.settrace``: an
observation of the unchanged code, not a patch). Everything runs in float64, and the
environment's default dtype is set to float64 (``torch.set_default_dtype``): in float32 the
reference's ``softplus`` maps nearby scores to one value, and its loss history for condition 1 is
a ``torch.zeros`` buffer (float32 by default) that rounds small late-run increases to ties.

    uv run --locked python tools/parity/apgd.py --repo /path/to/auto-attack
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from iqa_core.testing.parity import seeded_images, seeded_weights_, write_golden

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "packages/iqa-attacks/tests/goldens/apgd.json"
EPS = 8 / 255
SHAPE = (2, 3, 12, 12)
CASES = [("n10", 10, 1), ("n20", 20, 2), ("n100", 100, 3)]


class TinyRegressor(nn.Module):
    """Seeded regression net: one score per image (same definition in the test)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3)
        self.head = nn.Linear(6, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.sin(8 * self.conv(x)).mean((2, 3))  # non-linear within the ball: no float32 ties
        return self.head(h).squeeze(1)


class AsLogits(nn.Module):
    """``[0, f(x)]``: cross-entropy with label 0 is ``softplus(f(x))``."""

    def __init__(self, f: nn.Module) -> None:
        super().__init__()
        self.f = f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.f(x)
        return torch.stack([torch.zeros_like(s), s], 1)


def trace_single_run(
    attack: Any, x: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, list[list[float]], list[int]]:
    steps: dict[int, list[float]] = {}
    counter3: dict[int, int] = {}

    def local(frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            loc = frame.f_locals
            i = loc.get("i")
            if isinstance(i, int) and "step_size" in loc and i not in steps:
                # the first line event of iteration i: the step size it is about to use
                steps[i] = loc["step_size"].flatten(1)[:, 0].tolist()
                counter3[i] = int(loc["counter3"])
        return local

    def global_trace(frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_name == "attack_single_run":
            return local
        return None

    sys.settrace(global_trace)
    try:
        x_best, _acc, _loss_best, _x_best_adv = attack.attack_single_run(x, y, x_init=x.clone())
    finally:
        sys.settrace(None)
    n = attack.n_iter
    schedule = [steps[i] for i in range(n)]
    checks = [i for i in range(1, n) if counter3[i] == 0]  # checked after i iterations
    return x_best.detach(), schedule, checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True, type=Path, help="checkout of fra31/auto-attack")
    parser.add_argument("--out", type=Path, default=GOLDEN)
    args = parser.parse_args()
    repo = args.repo.resolve()
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    if len(commit) != 40:  # an exported tree (git archive): its commit in a COMMIT file
        commit = (repo / "COMMIT").read_text().strip()
    sys.path.insert(0, str(repo))
    from autoattack.autopgd_base import APGDAttack

    torch.set_grad_enabled(True)
    f = seeded_weights_(TinyRegressor(), seed=13).double().eval()
    # (weights drawn as float32, as in the test, then widened)
    # environment: float64 as torch's default dtype, so the reference's loss history buffer
    # (torch.zeros(...), float32 by default) does not round distinct losses to ties
    torch.set_default_dtype(torch.float64)
    model = AsLogits(f).eval()
    cases = []
    for name, n_iter, seed in CASES:
        x = seeded_images(seed, SHAPE, dtype=torch.float64)
        y = torch.zeros(SHAPE[0], dtype=torch.long)
        attack = APGDAttack(model, n_iter=n_iter, norm="Linf", eps=EPS, seed=0, loss="ce", rho=0.75, device="cpu")
        attack.init_hyperparam(x)
        torch.manual_seed(0)
        x_best, schedule, checks = trace_single_run(attack, x, y)
        with torch.no_grad():
            score_clean, score_best = f(x), f(x_best)
        cases.append(
            {
                "name": name,
                "inputs": {"images_seed": seed, "shape": list(SHAPE), "weights_seed": 13, "eps": EPS, "n_iter": n_iter},
                "x_best": x_best,
                "score_clean": score_clean,
                "score_best": score_best,
                "step_sizes": schedule,
                "checks": checks,
            }
        )
        print(name, score_clean.tolist(), score_best.tolist(), checks, [s[0] * 255 / 8 for s in schedule][:20])
    write_golden(
        args.out,
        component="apgd",
        repo="fra31/auto-attack",
        commit=commit,
        entry="autoattack/autopgd_base.py:APGDAttack.attack_single_run (norm='Linf', loss='ce', x_init=x)",
        generator="tools/parity/apgd.py",
        cases=cases,
        notes=(
            "Stand-in classifier: logits [0, f(x)] with label 0, f a seeded tiny regression net, so CE = "
            "softplus(f) is strictly increasing in the benchmark's loss f/diam (diam 1): same comparisons, same "
            "sign(grad). Environment patch: torch.set_default_dtype(torch.float64), and model and images in "
            "float64 (in float32 softplus rounds nearby scores to one value and the reference's loss-history "
            "buffer torch.zeros(...) rounds small late increases to ties, e.g. n_iter=100 checkpoint 93). "
            "No random start (x_init = x). Step sizes and checkpoints read with sys.settrace from the "
            "running frame (observation only). No environment patches were needed."
        ),
    )
    print("wrote", args.out)


if __name__ == "__main__":
    main()
