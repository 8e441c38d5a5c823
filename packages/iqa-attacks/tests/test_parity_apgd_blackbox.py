"""Parity of APGD (and the black-box attacks' deterministic parts) with the reference code.

Goldens: ``goldens/apgd.json`` from fra31/auto-attack's ``APGDAttack`` (``tools/parity/apgd.py``).
The reference attacks ``softplus(f)`` (cross-entropy of logits ``[0, f]``), a strictly increasing
map of the benchmark loss ``f / diam``, so both runs make the same comparisons and sign steps.
"""

from pathlib import Path

import pytest
import torch
from torch import nn

from iqa_attacks import APGD
from iqa_attacks.apgd import checkpoints
from iqa_core import Bounds
from iqa_core.testing.parity import assert_matches_golden, load_golden, seeded_images, seeded_weights_

GOLDENS = Path(__file__).parent / "goldens"


class TinyRegressor(nn.Module):
    """Seeded regression net: one score per image (same definition as tools/parity/apgd.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3)
        self.head = nn.Linear(6, 1)

    def forward(self, x):
        h = torch.sin(8 * self.conv(x)).mean((2, 3))  # non-linear within the ball: no float32 ties
        return self.head(h).squeeze(1)


class RegressorMetric(nn.Module):
    name = "tiny-regressor"
    higher_is_better = True
    differentiable = True
    bounds = Bounds(0.0, 1.0)  # diam 1: the attack loss is f itself

    def __init__(self, seed):
        super().__init__()
        self.f = seeded_weights_(TinyRegressor(), seed=seed).double().eval()

    def forward(self, x):
        return self.f(x)


APGD_GOLDEN = load_golden(GOLDENS / "apgd.json")


@pytest.mark.parametrize("case", [c["name"] for c in APGD_GOLDEN["cases"]])
def test_apgd_matches_auto_attack(case):
    c = APGD_GOLDEN.case(case)
    inputs = c["inputs"]
    metric = RegressorMetric(inputs["weights_seed"])
    x = seeded_images(inputs["images_seed"], inputs["shape"], dtype=torch.float64)
    attack = APGD(eps=inputs["eps"], n_iter=inputs["n_iter"], random_start=False)
    adv = attack(metric, x)
    what = f"apgd {case} vs {APGD_GOLDEN.origin}"
    assert [w for w in checkpoints(inputs["n_iter"]) if w < inputs["n_iter"]] == c["checks"], what
    assert_matches_golden(
        attack.last_step_sizes, c["step_sizes"], rtol=1e-6, atol=0, what=what + " step sizes"
    )  # eta is float32 here
    assert_matches_golden(adv, c["x_best"], rtol=0, atol=1e-9, what=what + " x_best")
    with torch.no_grad():
        assert_matches_golden(metric(adv), c["score_best"], rtol=0, atol=1e-9, what=what + " f(x_best)")
