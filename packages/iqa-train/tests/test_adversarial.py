"""Adversarial training: the adjusted MOS y' = y - span * M(x, x') and the 1:1 clean/attacked batch."""

from __future__ import annotations

import pytest
import torch
from conftest import TinyIQA

from iqa_core import measures
from iqa_core.testing import ToySignAttack, toy_images
from iqa_train import AdversarialTraining, MissingComponentError, adjusted_mos, make_attacks
from iqa_train.adversarial import TrainingLossObjective
from iqa_train.components import one_minus_ssim
from iqa_train.losses import get_loss
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
        if prediction.numel() == 6:  # the training step (the attack evaluates images one by one)
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
    objective_metric = TrainingLossObjective(
        model.eval(),
        images,
        targets,
        measure=one_minus_ssim,
        mos_span=60.0,
        loss=recording_loss,
        model_higher_is_better=True,
    )
    adversarial = attack(objective_metric, images)
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


def test_training_attack_raises_the_training_loss_not_the_score():
    """Benchmark A.3.5: the AT attack increases the model's loss against the adjusted MOS y'.

    With targets far above the predictions, raising the score would *lower* the loss; the attack
    must push the predictions away from y' (down here) and raise every image's loss.
    """
    model = TinyIQA(seed=3).eval()
    images = toy_images(4, (32, 32), seed=5)
    with torch.no_grad():
        clean = model(images).flatten()
    targets = clean + 50.0  # y (and y' = y - span * M, M small) is above every prediction
    step = Step(0, 0, torch.device("cpu"), 0, False)
    objective = AdversarialTraining([ToySignAttack(eps=4 / 255)], mos_span=10.0, measure="ssim", loss="l1")
    adversarial = objective.attack(model, images, targets, step)
    with torch.no_grad():
        attacked = model(adversarial).flatten()
        shifted = adjusted_mos(targets, 1 - measures.ssim(images, adversarial), 10.0)
    assert (attacked < clean).all(), "the attack must move predictions away from y', here downwards"
    assert ((attacked - shifted).abs() > (clean - targets).abs()).all()


def test_training_loss_objective_is_the_per_image_loss_against_the_adjusted_mos():
    model = TinyIQA(seed=1).eval()
    images = toy_images(3, (32, 32), seed=2)
    targets = torch.tensor([10.0, 50.0, 90.0])
    candidates = (images + 0.02).clamp(0, 1)
    objective = TrainingLossObjective(
        model,
        images,
        targets,
        measure=one_minus_ssim,
        mos_span=80.0,
        loss=get_loss("mse"),
        model_higher_is_better=False,
    )
    value = objective(candidates)
    with torch.no_grad():
        expected_target = targets + 80.0 * (1 - measures.ssim(images, candidates))  # lower-is-better: labels rise
        expected = (model(candidates).flatten() - expected_target) ** 2
    torch.testing.assert_close(value.detach(), expected)
    assert objective.higher_is_better and objective.bounds.diam == 80.0
    with pytest.raises(ValueError, match="whole batch"):
        objective(candidates[:2])
