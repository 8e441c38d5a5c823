"""Golden for NT's regulariser: DefenseIQA-NT's ``HyperIQASolver.loss_grad`` on a seeded stand-in model.

Runs the official finite-difference penalty (sign of the input gradient, step ``h``, squared
directional derivative, ``mean / 2``) and the official L1 term, with a tiny seeded regression
network standing in for HyperIQA (the penalty does not depend on the model: the official
function only calls it). Environment patches: ``.cuda()`` is the identity (no GPU here); the
official ``models.TargetNet`` is replaced by a pass-through and ``model_hyper`` by the stand-in,
because HyperIQA's hyper-network output *is* the score there.

    uv run --locked python tools/parity/nt.py --repo /path/to/DefenseIQA-NT
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import types
from pathlib import Path

import torch
from torch import nn

from iqa_core.testing.parity import seeded_images, seeded_weights_, write_golden

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "packages/iqa-train/tests/goldens/nt.json"


def stand_in() -> nn.Module:
    """The tiny regression net both sides build (defined here and in the test, no official code)."""
    net = nn.Sequential(
        nn.Conv2d(3, 6, 3),
        nn.Softplus(),
        nn.Conv2d(6, 6, 3),
        nn.Softplus(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, 1),
    )
    return seeded_weights_(net, seed=11, scale=2.0).double()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of YangiD/DefenseIQA-NT")
    parser.add_argument("--commit", help="commit of the checkout (read with git when omitted)")
    args = parser.parse_args()
    commit = (
        args.commit or subprocess.check_output(["git", "-C", str(args.repo), "rev-parse", "HEAD"], text=True).strip()
    )

    torch.Tensor.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    nn.Module.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    sys.path.insert(0, str(args.repo))
    # the official data loaders import openpyxl (spreadsheet datasets); not needed for the loss
    sys.modules.setdefault("openpyxl", types.SimpleNamespace(load_workbook=None))  # type: ignore[arg-type]
    import HyperIQASolver as solver_module  # the official module

    net = stand_in()

    class PassThrough(nn.Module):
        def __init__(self, paras: dict) -> None:
            super().__init__()

        def forward(self, value: torch.Tensor) -> torch.Tensor:
            return value

    solver_module.models.TargetNet = PassThrough
    solver = types.SimpleNamespace(model_hyper=lambda x: {"target_in_vec": net(x).flatten()})
    cases = []
    for name, seed, n, h, weight in (("batch4", 3, 4, 1e-2, 0.5), ("batch2-h1e-3", 5, 2, 1e-3, 0.001)):
        images = seeded_images(seed, (n, 3, 20, 24), dtype=torch.float64)
        targets = torch.linspace(20.0, 80.0, n, dtype=torch.float64)
        solver.h = h
        net.zero_grad()
        penalty = solver_module.HyperIQASolver.loss_grad(solver, images.clone())
        pred = net(images).flatten()
        l1 = torch.nn.L1Loss()(pred.squeeze(), targets.float().double())
        total = l1 + weight * penalty
        total.backward()
        cases.append(
            {
                "name": name,
                "inputs": {"image_seed": seed, "shape": [n, 3, 20, 24], "targets": targets, "h": h, "weight": weight},
                "outputs": {
                    "penalty": float(penalty.detach()),
                    "total": float(total.detach()),
                    "grad_head_weight": net[6].weight.grad.flatten(),
                    "grad_first_bias": net[0].bias.grad.flatten(),
                },
            }
        )
    write_golden(
        GOLDEN,
        component="nt",
        repo="YangiD/DefenseIQA-NT",
        commit=commit,
        entry="HyperIQASolver.py: HyperIQASolver.loss_grad (+ the L1 term of train)",
        generator="tools/parity/nt.py",
        cases=cases,
        notes=(
            "float64; tiny seeded stand-in model (seed 11, scale 2) instead of HyperIQA; .cuda() patched to "
            "identity; models.TargetNet patched to a pass-through; openpyxl stubbed (only the data loaders use "
            "it). Inputs are used as given (the reference feeds ImageNet-normalised images and does not clip "
            "x + h*d)."
        ),
    )
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
