"""Optimised-UAP and FACPA: fit, apply, save and load."""

import pytest
import torch

from iqa_attacks import FACPA, UAP
from iqa_attacks.uap import tile_to
from iqa_core import TrainableAttack
from iqa_core.testing import ToyMetric, check_attack, toy_images

FACTORIES = {
    "uap": lambda **kw: UAP(amplitude=0.078, size=16, epochs=3, **kw),
    "facpa": lambda **kw: FACPA(amplitude=0.04, width=8, epochs=8, lr=1e-2, **kw),
}


def _train():
    return toy_images(6, (32, 32), seed=7)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_fit_apply_save_load_round_trip(name, tmp_path):
    metric, x = ToyMetric(), toy_images(2, (40, 40), seed=1)
    attack = FACTORIES[name]()
    assert isinstance(attack, TrainableAttack)
    attack.fit(metric, _train(), generator=torch.Generator().manual_seed(0))
    adv = check_attack(attack, metric, x)
    path = attack.save(tmp_path / f"{name}.pt")
    loaded = FACTORIES[name](weights=str(path))
    assert torch.equal(loaded(metric, x), adv)
    other = FACTORIES[name]()
    other.load(path)
    assert torch.equal(other(metric, x), adv)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_unfitted_attack_says_what_to_do(name, tmp_path):
    with pytest.raises(RuntimeError, match="fit"):
        FACTORIES[name]()(ToyMetric(), toy_images(1, (16, 16)))
    bogus = tmp_path / "bogus.pt"
    torch.save({"kind": "something-else"}, bogus)
    with pytest.raises(ValueError, match="not a saved"):
        FACTORIES[name]().load(bogus)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_fit_is_deterministic_under_a_generator_and_accepts_iterables(name):
    metric = ToyMetric()
    a, b = FACTORIES[name](), FACTORIES[name]()
    a.fit(metric, _train(), generator=torch.Generator().manual_seed(3))
    b.fit(metric, [img for img in _train()], generator=torch.Generator().manual_seed(3))  # (3,H,W) items
    x = toy_images(2, (32, 32))
    if name == "facpa":
        assert torch.allclose(a(metric, x), b(metric, x), atol=1e-5)  # batch of 6 vs items of 1
    else:
        assert not torch.equal(a(metric, x), x)


def test_uap_is_universal_and_uses_its_full_amplitude():
    metric = ToyMetric()
    attack = UAP(amplitude=0.078, size=16, epochs=2)
    attack.fit(metric, _train(), generator=torch.Generator().manual_seed(0))
    x = 0.3 + 0.4 * toy_images(2, (48, 40))
    adv = attack(metric, x)
    delta = adv - x
    assert torch.allclose(delta[0], delta[1], atol=1e-6)  # the same perturbation for every image
    assert abs(float(delta.abs().max()) - 0.078) < 1e-5
    assert torch.allclose(delta[0], 0.078 * tile_to(attack.pattern, 48, 40), atol=1e-6)
