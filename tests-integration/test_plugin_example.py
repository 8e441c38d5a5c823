"""The worked plugin package (tests-integration/plugin_example) as a user installs it.

Builds the plugin and iqa-core as wheels, installs both alone in a fresh venv (third-party
dependencies at the uv.lock versions) and checks there that the registry finds the plugin's
metric, attack and defence through their entry points and that they pass iqa_core.testing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools" / "release"))

from smoke_wheels import Venv, build_wheels, lock_constraints, run, uv  # noqa: E402

PLUGIN = Path(__file__).resolve().parent / "plugin_example"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    work = tmp_path_factory.mktemp("plugin")
    wheels = build_wheels(work / "dist", packages=["iqa-core"])
    run([uv(), "build", "--wheel", "--no-sources", "--quiet", "--out-dir", work / "dist", PLUGIN])
    (plugin_wheel,) = (work / "dist").glob("iqa_plugin_example-*.whl")
    env = Venv.create(work / "venv")
    env.install(plugin_wheel, wheels["iqa-core"], constraints=lock_constraints(work / "constraints.txt"))
    return env


def test_only_core_and_the_plugin_are_installed(venv: Venv) -> None:
    out = venv.python_run(
        "import importlib.metadata as md\n"
        "print(sorted(d.metadata['Name'] for d in md.distributions() if d.metadata['Name'].startswith('iqa')))"
    )
    assert out.strip() == "['iqa-core', 'iqa-plugin-example']"


def test_registry_lists_and_describes_the_plugin(venv: Venv) -> None:
    out = venv.python_run(
        """
        import iqa_core
        from iqa_core import registry
        assert iqa_core.available("metric") == ["example-sharpness"], iqa_core.available("metric")
        assert iqa_core.available("attack") == ["example-rfgsm"], iqa_core.available("attack")
        assert iqa_core.available("defence") == ["example-box-blur"], iqa_core.available("defence")
        info = registry.describe("defence", "example-box-blur")
        assert info.source == "iqa-plugin-example==0.1.0", info.source
        assert info.target == "iqa_plugin_example.defence:BoxBlur"
        assert list(info.presets) == ["k3", "k5", "k7"] and info.default_preset == "k3"
        assert iqa_core.create("defence", "Example_Box_Blur", preset="k7").kernel == 7
        assert list(iqa_core.presets("attack", "example-rfgsm")) == ["weak", "medium", "strong"]
        print("registry ok")
        """
    )
    assert "registry ok" in out


def test_components_pass_the_conformance_kit(venv: Venv) -> None:
    out = venv.python_run(
        """
        import torch
        import iqa_core
        from iqa_core.testing import check_attack, check_defence, check_metric
        from iqa_core.testing.toys import ToyMetric, toy_images

        metric = iqa_core.create("metric", "example-sharpness")
        check_metric(metric)
        for preset in iqa_core.presets("defence", "example-box-blur"):
            check_defence(iqa_core.create("defence", "example-box-blur", preset=preset))
        for preset in iqa_core.presets("attack", "example-rfgsm"):
            attack = iqa_core.create("attack", "example-rfgsm", preset=preset)
            check_attack(attack, ToyMetric())
            check_attack(attack, metric)
        print("conformance ok")
        """
    )
    assert "conformance ok" in out


def test_adaptive_attack_through_the_plugin_defence(venv: Venv) -> None:
    out = venv.python_run(
        """
        import torch
        import iqa_core
        from iqa_core.testing.toys import toy_images

        metric = iqa_core.create("metric", "example-sharpness")
        blur = iqa_core.create("defence", "example-box-blur", preset="k5")
        attack = iqa_core.create("attack", "example-rfgsm", preset="strong")
        x = toy_images(4, (64, 64))
        target = iqa_core.defended(metric, blur)
        adv = attack(target, x, generator=torch.Generator().manual_seed(0))
        assert float((adv - x).abs().max()) <= 8 / 255 + 1e-6
        with torch.no_grad():
            clean, attacked = metric(blur(x)).mean(), metric(blur(adv)).mean()
        assert attacked > clean, (float(clean), float(attacked))
        scores = iqa_core.Scorer(device="cpu", batch_size=2).score(metric, x)
        assert scores.shape == (4,)
        print(f"adaptive ok {float(clean):.4f} -> {float(attacked):.4f}")
        """
    )
    assert "adaptive ok" in out
