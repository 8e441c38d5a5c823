"""What a user does across packages: attack with every attack, purify with every defence, attack
adaptively through every defence, certify with every certifier — all through the registry.

Components whose published weights cannot exist offline must say so clearly; the neural defences'
loading paths are tested in iqa-purify on checkpoints its tests create.
"""

from __future__ import annotations

import pytest
import torch

from iqa_core import Scorer, available, create, defended, measures
from iqa_core.testing import ToyDenoiser, ToyMetric, check_certifier, toy_images
from iqa_core.weights import WeightsNotFoundError

NEEDS_PUBLISHED_WEIGHTS = {
    "attack": {"cadv", "zhang-lpips", "zhang-dists"},
    "defence": {"mprnet", "real-esrgan", "disco", "diffpure", "diffpure-edge", "diffpure-unsharp", "fcn-filter"},
}


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(2)


def weight_free(kind: str) -> list[str]:
    return [n for n in available(kind) if n not in NEEDS_PUBLISHED_WEIGHTS.get(kind, set())]


def test_the_catalogue_is_installed():
    assert len(available("attack")) >= 22
    assert len(available("defence")) >= 20
    assert set(available("certifier")) >= {"rs", "drs", "ddrs", "densepure", "ms", "dms"}
    assert {"demo-cnniqa", "linearity", "koncept512", "spaq", "fpr", "maniqa", "topiq-nr"} <= set(available("metric"))


@pytest.mark.parametrize("kind", ["attack", "defence"])
def test_components_without_offline_weights_fail_clearly(kind):
    x = toy_images(1, (32, 32))
    for name in sorted(NEEDS_PUBLISHED_WEIGHTS[kind]):
        with pytest.raises(WeightsNotFoundError) as info:
            component = create(kind, name)
            component(ToyMetric(), x) if kind == "attack" else component(x)
        assert "download" in str(info.value)  # every message says how to get the file


@pytest.fixture(scope="module")
def defences():
    return {name: create("defence", name) for name in weight_free("defence")}


@pytest.mark.parametrize("attack_name", weight_free("attack"))
def test_every_attack_then_every_defence(attack_name, defences):
    metric, x = ToyMetric(), toy_images(2, (48, 48))
    attack = create("attack", attack_name, preset="weak")
    if hasattr(attack, "fit"):
        attack.fit(metric, [x[0], x[1]])
    adv = attack(metric, x, generator=torch.Generator().manual_seed(0))
    assert adv.shape == x.shape and bool(measures.within_budget(attack.budget.kind, attack.budget.value, x, adv).all())
    scorer = Scorer("cpu", batch_size=2)
    for name, defence in defences.items():
        purified = scorer.apply(defence, adv, generator=torch.Generator().manual_seed(0))
        assert purified.shape == x.shape and float(purified.min()) >= 0 and float(purified.max()) <= 1, name
        assert torch.isfinite(scorer.score(metric, purified)).all(), name


@pytest.mark.parametrize("defence_name", weight_free("defence"))
def test_adaptive_attack_through_every_defence(defence_name):
    metric, x = ToyMetric(), toy_images(2, (48, 48))
    defence = create("defence", defence_name)
    target = defended(metric, defence, eot_samples=4, generator=torch.Generator().manual_seed(0))
    adv = create("attack", "ifgsm", preset="strong")(target, x)
    assert float((adv - x).abs().max()) <= 8 / 255 + 1e-6
    assert float((adv - x).abs().max()) > 0  # gradients reached the input through the defence (or BPDA)
    with torch.no_grad():
        before = defended(metric, defence, eot_samples=8, generator=torch.Generator().manual_seed(1))(x)
        after = defended(metric, defence, eot_samples=8, generator=torch.Generator().manual_seed(1))(adv)
    assert float(after.mean()) > float(before.mean()) - 1e-3, f"{defence_name}: {before.tolist()} -> {after.tolist()}"


@pytest.mark.parametrize("certifier_name", ["rs", "drs", "ddrs", "densepure", "ms", "dms"])
def test_certify_with_every_certifier(certifier_name):
    params = {}
    if certifier_name in ("drs", "ddrs", "dms"):
        params["denoiser"] = ToyDenoiser()
    if certifier_name == "densepure":
        params["purifier"] = ToyDenoiser()
    certifier = create("certifier", certifier_name, preset="fast", **params)
    check_certifier(certifier, ToyMetric(), toy_images(2, (16, 16)))
