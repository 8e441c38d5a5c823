"""Optimised-UAP and FACPA: fit, apply, save and load; budgets and schedule of the reference code."""

import inspect
import logging
import warnings

import pytest
import torch

from iqa_attacks import FACPA, UAP
from iqa_attacks.uap import tile_to
from iqa_core import TrainableAttack
from iqa_core.testing import ToyMetric, check_attack, toy_images

pytestmark = pytest.mark.filterwarnings("ignore:.*fitting on .* images:UserWarning")

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
    attack = UAP(amplitude=0.078, size=16, epochs=3, lr=0.05)  # a large lr: the pattern saturates its clamp
    attack.fit(metric, _train(), generator=torch.Generator().manual_seed(0))
    x = 0.3 + 0.4 * toy_images(2, (48, 40))
    adv = attack(metric, x)
    delta = adv - x
    assert torch.allclose(delta[0], delta[1], atol=1e-6)  # the same perturbation for every image
    assert abs(float(delta.abs().max()) - 0.0078) < 1e-6  # k * 0.1, the budget
    assert torch.allclose(delta[0], 0.078 * tile_to(attack.pattern, 48, 40), atol=1e-6)


# --- issue 13, defect 3: the declared budget is the Linf the reference applies at each preset ---


@pytest.mark.parametrize(("cls", "per_amplitude"), [(UAP, 0.1), (FACPA, 100 / 255)], ids=["uap", "facpa"])
def test_trainable_budgets_are_the_reference_linf(cls, per_amplitude):
    """UAP: x + k * p with p clamped to +-0.1; FACPA: x + tanh(G) * (10/255) * k * 10 -> 2/4/8 per 255."""
    linf = [cls(**cls.presets[p]).budget.value * 255 for p in ("weak", "medium", "strong")]
    assert linf == pytest.approx([2, 4, 8], abs=0.02)
    attack = cls(amplitude=0.05)
    assert attack.budget.kind == "linf" and attack.budget.value == pytest.approx(0.05 * per_amplitude)


def test_uap_applies_amplitude_times_a_pattern_clamped_to_a_tenth():
    attack = UAP(amplitude=0.157, size=8, epochs=2, lr=0.5)
    attack.fit(ToyMetric(), _train(), generator=torch.Generator().manual_seed(0))
    assert float(attack.pattern.abs().max()) == pytest.approx(0.1)
    x = 0.3 + 0.4 * toy_images(1, (16, 16))
    assert float((attack(ToyMetric(), x) - x).abs().max()) == pytest.approx(attack.budget.value, abs=1e-6)
    assert attack.budget.value == pytest.approx(0.0157)


def test_facpa_applies_tanh_times_amplitude_times_100_over_255():
    attack = FACPA(amplitude=0.04, width=4, epochs=1)
    attack.fit(ToyMetric(), _train(), generator=torch.Generator().manual_seed(0))
    x = 0.3 + 0.4 * toy_images(1, (16, 16))
    with torch.no_grad():
        expected = (x + 0.04 * 100 / 255 * torch.tanh(attack.generator_net(x))).clamp(0, 1)
    assert torch.allclose(attack(ToyMetric(), x), expected, atol=1e-6)
    assert float((attack(ToyMetric(), x) - x).abs().max()) <= attack.budget.value + 1e-7


# --- issue 13, defect 4: the reference's training schedule, logged, with a warning on small sets ---


@pytest.mark.parametrize("cls", [UAP, FACPA], ids=["uap", "facpa"])
def test_default_schedule_is_the_reference_train_py(cls):
    """methods/uap/train.py and methods/cnn-attack/train.py: Adam, lr 1e-3, 5 epochs, batch 8."""
    defaults = {k: v.default for k, v in inspect.signature(cls).parameters.items()}
    assert (defaults["epochs"], defaults["lr"], defaults["batch_size"]) == (5, 1e-3, 8)
    if cls is UAP:
        assert defaults["size"] == 256


def test_uap_starts_from_the_reference_initial_pattern():
    """p starts at 1e-4 (not random noise): one Adam step of lr 1e-3 moves each entry by about 1e-3."""
    attack = UAP(size=8, epochs=1, batch_size=8)
    attack.fit(ToyMetric(), toy_images(4, (8, 8), seed=7), generator=torch.Generator().manual_seed(0))
    assert float(attack.pattern.abs().max()) <= 1e-4 + 1e-3 + 1e-9


@pytest.mark.parametrize(
    "make",
    [lambda: UAP(size=8, epochs=2, lr=0.01), lambda: FACPA(width=4, epochs=2)],
    ids=["uap", "facpa"],
)
def test_fit_logs_the_training_loss_and_the_applied_linf(make, caplog):
    attack = make()
    with caplog.at_level(logging.INFO, logger=f"iqa_attacks.{attack.name}"):
        attack.fit(ToyMetric(), _train(), generator=torch.Generator().manual_seed(0))
    assert [h["epoch"] for h in attack.history] == [1, 2]
    for entry in attack.history:
        assert 0 < entry["linf"] <= attack.budget.value + 1e-9
        assert torch.isfinite(torch.tensor(entry["loss"]))
    messages = [r.getMessage() for r in caplog.records if r.name == f"iqa_attacks.{attack.name}"]
    assert len(messages) == 2 and all("training loss" in m and "Linf" in m for m in messages)
    if isinstance(attack, UAP):
        assert attack.history[-1]["linf"] == pytest.approx(attack.applied_linf)


@pytest.mark.parametrize(
    "make", [lambda: UAP(size=8, epochs=1), lambda: FACPA(width=4, epochs=1)], ids=["uap", "facpa"]
)
def test_fit_warns_on_far_fewer_images_than_the_reference(make):
    with pytest.warns(UserWarning, match=r"fitting on 6 images; the reference trained on 9999"):
        make().fit(ToyMetric(), _train(), generator=torch.Generator().manual_seed(0))


def test_fit_does_not_warn_on_a_reference_sized_set():
    big = torch.rand(1000, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        UAP(size=4, epochs=1, batch_size=500).fit(ToyMetric(), big, generator=torch.Generator().manual_seed(0))


def test_old_unit_linf_uap_files_load_with_the_reference_convention(tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"kind": "iqa-attacks/uap", "pattern": torch.tensor([1.0, -0.5]).repeat(3, 2, 1), "size": 2}, path)
    attack = UAP(amplitude=0.157, weights=str(path))
    assert float(attack.pattern.abs().max()) == pytest.approx(0.1)
