"""APGD's step-size rule against fra31/auto-attack's ``APGDAttack`` (issue 13, defect 7)."""

import pytest
import torch
from torch import nn

from iqa_attacks import APGD
from iqa_attacks.apgd import checkpoints, halve_at_checkpoint
from iqa_core import Bounds


class ScriptedMetric(nn.Module):
    """Returns a scripted score sequence (one value per call, batch of one) with a fixed gradient."""

    name = "scripted"
    higher_is_better = True
    differentiable = True
    bounds = Bounds(0.0, 1.0)

    def __init__(self, scores):
        super().__init__()
        self.scores = list(scores)
        self.calls = 0
        self.direction = torch.sign(torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(0)))

    def forward(self, images):
        value = self.scores[self.calls]
        self.calls += 1
        linear = (images * self.direction).flatten(1).sum(1)
        return value + (linear - linear.detach())


def test_checkpoints_use_the_reference_spacing():
    # fra31/auto-attack: n_iter_2 = max(int(.22 n), 1), size_decr = max(int(.03 n), 1), n_iter_min = max(int(.06 n), 1)
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert checkpoints(10) == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert checkpoints(2) == [1, 2]
    assert checkpoints(20) == [4, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]


def test_condition_two_needs_an_unreduced_previous_checkpoint():
    best = torch.tensor([0.7, 0.7, 0.7, 0.8])
    halved_last = torch.tensor([True, False, True, False])
    increases = torch.ones(4)  # one increase in a window of one step: condition 1 is false
    halve = halve_at_checkpoint(
        increases, 1, 0.75, halved_last=halved_last, best_last=best, best_now=torch.tensor([0.7, 0.7, 0.9, 0.8])
    )
    # stalled and not halved last time -> halve; stalled but halved last time -> keep; improved -> keep
    assert halve.tolist() == [False, True, False, True]


def test_condition_one_uses_at_most_rho():
    # the code's "t <= k * rho" (16 * 0.75 = 12 increases still halve)
    none = torch.tensor([True])
    same = torch.tensor([0.0])

    def halve(t):
        return bool(
            halve_at_checkpoint(torch.tensor([float(t)]), 16, 0.75, halved_last=none, best_last=same, best_now=same + 1)
        )

    assert halve(12) and not halve(13)


def test_step_is_kept_after_a_halving_when_the_loss_rises_again():
    # losses: start 0.5, then one per iteration; checkpoints after 2, 3, 4, ... iterations
    scores = [0.5, 0.6, 0.7, 0.65, 0.68, 0.69, 0.8, 0.9, 1.0, 1.1, 1.2]
    metric, x = ScriptedMetric(scores), torch.full((1, 3, 8, 8), 0.5)
    attack = APGD(eps=4 / 255, n_iter=10)
    attack(metric, x)
    eta = (attack.last_step_sizes[:, 0] / (2 * 4 / 255)).tolist()
    # @2: two increases, keep; @3: no increase -> halve (condition 1); @4: one increase, and the step
    # WAS halved at @3 -> keep (the old rule halved here: it saw "step unchanged" after its own halving);
    # @5: not halved at @4 and best (0.7) not improved -> halve (condition 2); then the loss improves.
    assert eta == pytest.approx([1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.25])


def test_best_point_is_returned_and_stays_in_the_ball():
    scores = [0.5, 0.6, 0.7, 0.65, 0.68, 0.69, 0.8, 0.9, 1.0, 1.1, 0.3]
    metric, x = ScriptedMetric(scores), torch.full((1, 3, 8, 8), 0.5)
    adv = APGD(eps=4 / 255, n_iter=10)(metric, x)
    assert float((adv - x).abs().max()) <= 4 / 255 + 1e-7
