"""``registry.spec``: a component described from its package's components.json without importing it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from iqa_core import registry
from iqa_core.registry import SPEC_FILE, Registry, _Entry


def _plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, document: dict | None) -> Registry:
    """A package ``spec_probe`` whose import fails loudly, registered as attack ``probe``."""
    package = tmp_path / "spec_probe"
    package.mkdir()
    (package / "__init__.py").write_text("raise RuntimeError('spec_probe was imported')\n")
    if document is not None:
        (package / SPEC_FILE).write_text(json.dumps(document))
    monkeypatch.syspath_prepend(str(tmp_path))

    def load() -> object:
        raise RuntimeError("the factory was loaded")

    found: dict[str, dict[str, list[_Entry]]] = {k: {} for k in registry.KINDS}
    found["attack"]["probe"] = [_Entry("probe", "attack", "spec-probe==1.0", "spec_probe.attack:Probe", load)]
    reg = Registry()
    reg._entry_points = found
    return reg


def _document(target: str = "spec_probe.attack:Probe") -> dict:
    item = {"target": target, "summary": "A probe.", "default_preset": "b", "presets": {"a": {"eps": 1}, "b": {}}}
    return {"format": registry.SPEC_FORMAT, "components": {"attack": {"probe": item}}}


def test_spec_reads_the_shipped_file_without_importing_the_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = _plugin(tmp_path, monkeypatch, _document())
    info = reg.spec("attack", "PROBE")
    assert (info.name, info.summary, info.default_preset) == ("probe", "A probe.", "b")
    assert list(info.presets) == ["a", "b"] and info.presets["a"] == {"eps": 1}
    assert "spec_probe" not in sys.modules


@pytest.mark.parametrize("document", [None, _document(target="spec_probe.moved:Probe"), {"format": 99}])
def test_without_a_matching_spec_the_plugin_is_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, document: dict | None
) -> None:
    reg = _plugin(tmp_path, monkeypatch, document)
    with pytest.raises(RuntimeError, match="the factory was loaded"):
        reg.spec("attack", "probe")


def test_runtime_registrations_are_described_from_the_factory() -> None:
    def factory(eps: float = 1.0) -> object:
        """Runtime probe."""
        return object()

    reg = Registry()
    reg._entry_points = {k: {} for k in registry.KINDS}
    reg.register("attack", "rt-probe", factory, presets={"x": {"eps": 2.0}}, default_preset="x")
    info = reg.spec("attack", "rt-probe")
    assert (info.summary, info.default_preset, info.presets) == ("Runtime probe.", "x", {"x": {"eps": 2.0}})


def test_unknown_component_is_refused_as_by_create() -> None:
    with pytest.raises(registry.ComponentNotFoundError):
        registry.spec("attack", "no-such-attack-anywhere")
