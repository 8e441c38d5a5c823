"""Adversarial training: the adjusted MOS y' = y - span * M(x, x') and the 1:1 clean/attacked batch."""

from __future__ import annotations

import pytest
import torch
from conftest import TinyIQA

from iqa_core import measures
from iqa_core.testing import ToySignAttack, toy_images
from iqa_train import AdversarialTraining, MissingComponentError, adjusted_mos, make_attacks
from iqa_train.trainer import Step


def test_adjusted_mos_formula():
    mos = torch.tensor([4.0, 2.5])
    distance = torch.tensor([0.1, 0.02])
    torch.testing.assert_close(adjusted_mos(mos, distance, 4.0), torch.tensor([3.6, 2.42]))
    # lower-is-better labels move the other way: attacked images always get worse labels
    torch.testing.assert_close(adjusted_mos(mos, distance, 4.0, higher_is_better=False), torch.tensor([4.4, 2.58]))


def test_objective_trains_on_clean_and_attacked_with_adjusted_mos():
    seen = {}

    def recording_loss(prediction, target):
        seen["prediction"], seen["target"] = prediction.detach(), target.detach()
        return torch.nn.functional.l1_loss(prediction, target)

    images = toy_images(3, (32, 32), seed=7)
    targets = torch.tensor([70.0, 50.0, 30.0])
    attack = ToySignAttack(eps=8 / 255)
    objective = AdversarialTraining([attack], mos_span=60.0, measure="ssim", loss=recording_loss)
    model = TinyIQA()
    step = Step(0, 0, torch.device("cpu"), 0, False)
    loss, parts = objective(model, images, targets, step)
    assert seen["prediction"].shape == (6,)
    assert model.training  # restored after the attack ran in eval mode
    adversarial = attack(model.eval(), images)
    expected = targets - 60.0 * (1 - measures.ssim(images, adversarial))
    torch.testing.assert_close(seen["target"][:3], targets)
    torch.testing.assert_close(seen["target"][3:], expected)
    assert (seen["target"][3:] < targets).all()
    assert parts["linf"] == pytest.approx(8 / 255, rel=1e-4)
    loss.backward()


def test_measure_none_keeps_the_mos():
    objective = AdversarialTraining([ToySignAttack()], mos_span=10.0, measure="none")
    images = toy_images(2, (32, 32))
    _, parts = objective(TinyIQA(), images, torch.tensor([1.0, 2.0]), Step(0, 0, torch.device("cpu"), 0, False))
    assert parts["mos_shift"] == 0


def test_attacks_come_from_the_registry(toy_attack_registered):
    attacks = make_attacks({"name": "toy-sign"}, [2, 4, 8])
    assert [a.eps for a in attacks] == pytest.approx([2 / 255, 4 / 255, 8 / 255])


def test_missing_attack_names_the_package():
    with pytest.raises(MissingComponentError, match="iqa-attacks"):
        make_attacks({"name": "no-such-attack"}, [4])
