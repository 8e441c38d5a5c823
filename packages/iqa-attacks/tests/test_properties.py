"""Randomised properties over image sizes, batch sizes, presets and seeds (hypothesis is not a dependency
here, so the cases are drawn from a seeded generator): range, shape, budget, determinism, finiteness."""

import random

import pytest
import torch
from attack_helpers import ATTACKS, build

from iqa_core.measures import within_budget
from iqa_core.testing import ToyMetric, toy_images

rng = random.Random(1234)
CASES = []
for cls in ATTACKS:
    for _ in range(2):
        CASES.append(
            (
                cls,
                rng.choice(["weak", "medium", "strong"]),
                rng.randint(1, 3),
                (rng.randint(9, 41), rng.randint(9, 41)),
                rng.randint(0, 99),
            )
        )


@pytest.mark.parametrize(
    ("cls", "preset", "n", "size", "seed"), CASES, ids=[f"{c[0].name}-{c[1]}-{c[2]}x{c[3][0]}x{c[3][1]}" for c in CASES]
)
def test_random_cases_hold_the_contract(cls, preset, n, size, seed):
    metric, x = ToyMetric(), toy_images(n, size, seed=seed)
    attack = build(cls, preset)
    adv = attack(metric, x, generator=torch.Generator().manual_seed(seed))
    again = attack(metric, x, generator=torch.Generator().manual_seed(seed))
    assert adv.shape == x.shape and adv.dtype == torch.float32
    assert bool(torch.isfinite(adv).all())
    assert float(adv.min()) >= 0 and float(adv.max()) <= 1
    assert bool(within_budget(attack.budget.kind, attack.budget.value, x, adv).all())
    assert torch.equal(adv, again)
