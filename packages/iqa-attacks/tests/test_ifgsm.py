import pytest
import torch

from iqa_attacks import IFGSM
from iqa_core import create, defended, presets
from iqa_core.testing import ToyMetric, ToyNoiseDefence, ToyQuantizeDefence, check_attack, toy_images


@pytest.mark.parametrize("preset", ["weak", "medium", "strong"])
def test_presets_conform_and_hold_their_budget(preset):
    attack = create("attack", "ifgsm", preset=preset)
    check_attack(attack)


def test_presets_are_ordered_weak_to_strong_and_hit_catalogue_targets():
    table = presets("attack", "ifgsm")
    assert list(table) == ["weak", "medium", "strong"]
    assert [round(p["eps"] * 255, 6) for p in table.values()] == [2, 4, 8]
    gains = []
    metric, x = ToyMetric(), toy_images(4, (48, 48))
    for name in table:
        adv = create("attack", "ifgsm", preset=name)(metric, x)
        gains.append(float((metric(adv) - metric(x)).mean()))
    assert gains[0] < gains[1] < gains[2]


def test_batch_result_equals_per_image_result():
    attack, metric, x = IFGSM(eps=4 / 255, iterations=5), ToyMetric(), toy_images(3, (40, 40))
    batched = attack(metric, x)
    single = torch.cat([attack(metric, x[i : i + 1]) for i in range(3)])
    assert torch.allclose(batched, single, atol=1e-6)


def test_direction_down_lowers_the_score():
    metric, x = ToyMetric(), toy_images(2, (48, 48))
    adv = IFGSM(eps=8 / 255, direction="down")(metric, x)
    assert (metric(adv) < metric(x)).all()


def test_lower_is_better_metric_is_pushed_down():
    class Inverted(ToyMetric):
        higher_is_better = False

    metric, x = Inverted(), toy_images(2, (48, 48))
    assert (metric(IFGSM()(metric, x)) < metric(x)).all()


@pytest.mark.parametrize("defence", [ToyQuantizeDefence(levels=16), ToyNoiseDefence(sigma=0.02)])
def test_adaptive_attack_through_defended_metric_raises_defended_score(defence):
    metric, x = ToyMetric(), toy_images(2, (48, 48))
    target = defended(metric, defence, eot_samples=4, generator=torch.Generator().manual_seed(0))
    adv = IFGSM(eps=8 / 255)(target, x)
    with torch.no_grad():
        assert float(target(adv).mean()) > float(target(x).mean())


def test_clear_errors():
    with pytest.raises(ValueError, match="eps must be > 0"):
        IFGSM(eps=0)

    class Flat(ToyMetric):
        differentiable = False

    with pytest.raises(ValueError, match="black-box attack"):
        IFGSM()(Flat(), toy_images(1))
    with pytest.raises(ValueError, match="unsqueeze"):
        IFGSM()(ToyMetric(), toy_images(1)[0])
