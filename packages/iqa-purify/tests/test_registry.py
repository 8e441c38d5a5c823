import tomllib
from pathlib import Path

import pytest

import iqa_purify
from iqa_core import registry
from iqa_core.catalogue import KNOWN_COMPONENTS

PYPROJECT = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
ENTRY_POINTS = PYPROJECT["project"]["entry-points"]


def _target(cls):
    return f"{cls.__module__}:{cls.__qualname__}"


def test_every_class_is_an_entry_point_under_its_name():
    defences = ENTRY_POINTS["iqa.defences"]
    denoisers = ENTRY_POINTS["iqa.denoisers"]
    assert {defences[c.name] for c in iqa_purify.DEFENCES} == {_target(c) for c in iqa_purify.DEFENCES}
    assert {denoisers[c.name] for c in iqa_purify.DENOISERS} == {_target(c) for c in iqa_purify.DENOISERS}
    assert len(defences) == 20 and len(denoisers) == len(iqa_purify.DENOISERS)


def test_the_catalogue_names_are_all_provided():
    assert set(KNOWN_COMPONENTS["defence"]) == set(ENTRY_POINTS["iqa.defences"])
    assert set(KNOWN_COMPONENTS["denoiser"]) <= set(ENTRY_POINTS["iqa.denoisers"])


def test_version_matches_pyproject():
    assert iqa_purify.__version__ == PYPROJECT["project"]["version"]


@pytest.mark.parametrize(("kind", "group"), [("defence", "iqa.defences"), ("denoiser", "iqa.denoisers")])
def test_installed_registry_lists_every_entry_point(kind, group):
    # Passes once the workspace is re-synced (entry points are read from the installed metadata).
    registry.refresh()
    assert set(ENTRY_POINTS[group]) <= set(registry.available(kind))


def test_presets_are_five_weak_to_strong_with_a_default_where_the_paper_varies_a_parameter():
    for cls in iqa_purify.DEFENCES:
        if cls.presets:
            assert len(cls.presets) == 5, cls.name
            assert cls.default_preset in cls.presets, cls.name
        else:
            assert cls.default_preset is None, cls.name
