"""NT's objective against the official DefenseIQA-NT code (golden from tools/parity/nt.py)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from iqa_core.testing.parity import assert_matches_golden, load_golden, seeded_images, seeded_weights_
from iqa_train import NormRegularization, finite_difference_penalty
from iqa_train.trainer import Step

GOLDEN = load_golden(Path(__file__).parent / "goldens" / "nt.json")


def stand_in() -> nn.Module:
    """The same tiny regression net as tools/parity/nt.py builds (seeded weights by key)."""
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


def test_golden_records_the_reference() -> None:
    assert GOLDEN.origin.startswith("YangiD/DefenseIQA-NT@")


def test_penalty_objective_and_parameter_gradients_match_the_reference() -> None:
    for case in GOLDEN["cases"]:
        inputs, expected = case["inputs"], case["outputs"]
        what = f"nt[{case['name']}]"
        net = stand_in()
        images = seeded_images(inputs["image_seed"], inputs["shape"], dtype=torch.float64)
        targets = torch.tensor(inputs["targets"], dtype=torch.float64)
        # the reference steps on the inputs it is given, without clipping to [0, 1]
        penalty, _ = finite_difference_penalty(net, images, h=inputs["h"], clip=False)
        assert_matches_golden(
            float(penalty.detach().mean() / 2), expected["penalty"], rtol=1e-10, atol=1e-12, what=what
        )
        objective = NormRegularization(inputs["weight"], h=inputs["h"], loss="l1", clip=False)
        total, _ = objective(net, images, targets, Step(0, 0, torch.device("cpu"), 0, False))
        assert_matches_golden(float(total.detach()), expected["total"], rtol=1e-6, atol=1e-9, what=what)
        total.backward()
        # the L1 term is computed in float32 (as the trainer does under AMP-free training)
        assert_matches_golden(
            net[6].weight.grad.flatten(), expected["grad_head_weight"], rtol=1e-5, atol=1e-7, what=what
        )
        assert_matches_golden(net[0].bias.grad.flatten(), expected["grad_first_bias"], rtol=1e-5, atol=1e-7, what=what)
