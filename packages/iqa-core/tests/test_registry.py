import pytest

from iqa_core import registry
from iqa_core.registry import ComponentNotFoundError, PresetNotFoundError, Registry
from iqa_core.testing import ToyBlurDefence, ToySignAttack


@pytest.fixture
def reg():
    return Registry()


def test_register_create_with_presets_and_overrides(reg):
    reg.register("attack", "toy-sign", ToySignAttack)
    assert "toy-sign" in reg.available("attack")
    assert list(reg.presets("attack", "toy-sign")) == ["weak", "medium", "strong"]
    assert reg.create("attack", "toy-sign").eps == pytest.approx(4 / 255)  # default preset
    assert reg.create("attack", "toy-sign", preset="strong").eps == pytest.approx(8 / 255)
    assert reg.create("attack", "TOY_SIGN", preset="weak", eps=0.5).eps == 0.5  # params override presets


def test_runtime_presets_for_plain_factories(reg):
    reg.register(
        "defence", "blur", lambda kernel=3: ToyBlurDefence(kernel), presets={"a": {"kernel": 5}}, default_preset="a"
    )
    assert reg.create("defence", "blur").kernel == 5
    with pytest.raises(PresetNotFoundError, match="no preset 'zzz'; its presets: a"):
        reg.create("defence", "blur", preset="zzz")


def test_unknown_names_suggest_close_matches(reg):
    reg.register("defence", "toy-blur", ToyBlurDefence)
    with pytest.raises(ComponentNotFoundError, match="did you mean 'toy-blur'"):
        reg.create("defence", "toy-blurr")
    with pytest.raises(ValueError, match="did you mean 'defence'"):
        reg.available("defense")


def test_a_name_of_another_kind_says_which_kind(reg):
    reg.register("measure", "toy-distance", lambda: lambda reference, distorted: (reference - distorted).abs())
    with pytest.raises(
        ComponentNotFoundError, match=r"'toy-distance' is not a metric but a measure: use create\('measure'"
    ):
        reg.create("metric", "toy-distance")
    # catalogue names count too, installed or not: PSNR is a full-reference measure
    with pytest.raises(ComponentNotFoundError, match=r"not a metric but a measure.*full-reference"):
        reg.create("metric", "psnr")


def test_catalogue_names_name_the_package_to_install(monkeypatch):
    import importlib.metadata as md

    monkeypatch.setattr(md, "entry_points", lambda group: [])  # nothing installed, whatever this venv has
    reg = Registry()
    monkeypatch.setattr("iqa_core.registry._is_installed", lambda dist: False)
    with pytest.raises(ComponentNotFoundError, match="pip install iqa-certify"):
        reg.create("certifier", "dms")
    monkeypatch.setattr("iqa_core.registry._is_installed", lambda dist: True)
    with pytest.raises(ComponentNotFoundError, match="upgrade"):
        reg.create("certifier", "dms")


def test_duplicate_registration_needs_replace(reg):
    reg.register("attack", "x", ToySignAttack)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("attack", "x", ToySignAttack)
    reg.register("attack", "x", ToySignAttack, replace=True)
    reg.unregister("attack", "x")
    assert "x" not in reg.available("attack")


def test_bad_parameters_name_the_component(reg):
    reg.register("attack", "toy-sign", ToySignAttack)
    with pytest.raises(TypeError, match="cannot create attack 'toy-sign'"):
        reg.create("attack", "toy-sign", bogus=1)


def test_entry_points_are_discovered(monkeypatch):
    import importlib.metadata as md

    ep = md.EntryPoint(name="toy-blur", value="iqa_core.testing.toys:ToyBlurDefence", group="iqa.defences")

    def fake_entry_points(group):
        return [ep] if group == "iqa.defences" else []

    monkeypatch.setattr(md, "entry_points", fake_entry_points)
    reg = Registry()
    assert reg.available("defence") == ["toy-blur"]
    info = reg.describe("defence", "toy-blur")
    assert info.target == "iqa_core.testing.toys:ToyBlurDefence" and info.default_preset == "k3"
    assert isinstance(reg.create("defence", "toy-blur", preset="k5"), ToyBlurDefence)


def test_conflicting_entry_points_are_reported(monkeypatch):
    import importlib.metadata as md

    eps = [
        md.EntryPoint(name="blur", value="a:Blur", group="iqa.defences"),
        md.EntryPoint(name="blur", value="b:Blur", group="iqa.defences"),
    ]
    monkeypatch.setattr(md, "entry_points", lambda group: eps if group == "iqa.defences" else [])
    with pytest.raises(ComponentNotFoundError, match="several packages"):
        Registry().create("defence", "blur")


def test_module_level_api_is_bound_to_the_global_registry():
    assert registry.create.__self__ is registry.REGISTRY
