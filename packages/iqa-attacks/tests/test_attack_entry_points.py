"""Every attack class is declared as an ``iqa.attacks`` entry point and, once installed, in the registry."""

import importlib
import importlib.metadata as md
import inspect
import tomllib
from pathlib import Path

import iqa_attacks
from iqa_core import available, registry
from iqa_core.catalogue import KNOWN_COMPONENTS

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _declared() -> dict[str, str]:
    data = tomllib.loads(PYPROJECT.read_text())
    return dict(data["project"]["entry-points"]["iqa.attacks"])


def _attack_classes() -> dict[str, type]:
    """Concrete attack classes exported by the package (those with a registry name and presets)."""
    out = {}
    for obj in vars(iqa_attacks).values():
        if inspect.isclass(obj) and not inspect.isabstract(obj) and obj.__dict__.get("presets"):
            out[obj.name] = obj
    return out


def test_every_attack_class_is_an_entry_point_under_its_name():
    declared = _declared()
    classes = _attack_classes()
    assert set(classes) <= set(declared), set(classes) - set(declared)
    for name, target in declared.items():
        module, _, attr = target.partition(":")
        cls = getattr(importlib.import_module(module), attr)
        assert cls.name == registry.normalise_name(name)
        assert list(cls.presets) == ["weak", "medium", "strong"]


def test_every_catalogue_attack_is_declared():
    assert iqa_attacks.__version__ == tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    assert set(KNOWN_COMPONENTS["attack"]) <= set(_declared())


def test_installed_entry_points_are_in_the_registry():
    """Every declared attack that the installed metadata carries is listed by the registry.

    The installed metadata follows pyproject.toml only after a re-sync (``uv sync``); once synced,
    every declared attack is installed and so must be available.
    """
    dist = md.distribution("iqa-attacks")
    installed = {registry.normalise_name(ep.name) for ep in dist.entry_points if ep.group == "iqa.attacks"}
    declared = {registry.normalise_name(n) for n in _declared()}
    names = set(available("attack"))
    assert "ifgsm" in installed
    for name in declared & installed:
        assert name in names, f"{name} is installed as an entry point but not in the registry"
        assert registry.presets("attack", name), f"{name} has no presets through the registry"
    if installed >= declared:
        assert declared <= names
