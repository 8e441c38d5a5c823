"""Every component this package registers: in pyproject's entry points, importable, and in the registry."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

from iqa_core import registry
from iqa_metrics.pyiqa_names import PYIQA_NR_NAMES, PyiqaFactory

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
PORTS = {"demo-cnniqa", "linearity", "koncept512", "spaq", "fpr"}
MEASURES = {"psnr", "ssim", "ms-ssim", "mse", "linf", "lpips", "dists"}
BENCHMARK_NINE = {"linearity", "metaiqa", "koncept512", "spaq", "paq2piq", "maniqa", "clipiqa+", "topiq_nr", "fpr"}


def entry_points(group: str = "iqa.metrics") -> dict[str, str]:
    data = tomllib.loads(PYPROJECT.read_text())
    return data["project"]["entry-points"][group]


def test_pyproject_lists_every_metric_and_the_script() -> None:
    names = set(entry_points())
    assert PORTS | set(PYIQA_NR_NAMES) | BENCHMARK_NINE == names
    assert set(entry_points("iqa.measures")) == MEASURES
    scripts = tomllib.loads(PYPROJECT.read_text())["project"]["scripts"]
    assert scripts["iqa-metrics"] == "iqa_metrics.cli:main"


def test_every_entry_point_target_loads_without_pyiqa_import() -> None:
    for name, target in {**entry_points(), **entry_points("iqa.measures")}.items():
        module_name, _, attr = target.partition(":")
        if module_name == "iqa_metrics.demo":
            continue  # the demo metric's module and data belong to the demo work
        obj = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
        assert callable(obj), name
        if isinstance(obj, PyiqaFactory):
            assert obj.pyiqa_name == name


def test_registry_lists_them_after_install() -> None:
    """Entry points become visible after the workspace is synced (``uv sync``) with this pyproject."""
    registry.refresh()
    available = set(registry.available("metric"))
    expected = {registry.normalise_name(n) for n in entry_points()}
    assert expected <= available, f"not installed yet (re-sync): {sorted(expected - available)[:10]}"


def test_every_public_name_resolves() -> None:
    import iqa_metrics

    for name in iqa_metrics.__all__:
        assert getattr(iqa_metrics, name) is not None, name
    assert iqa_metrics.MSSSIM.name == "ms-ssim"


def test_full_reference_measures_are_their_own_kind() -> None:
    """PSNR & co. take (reference, distorted): listed and created as ``measure``, never as a ``metric``."""
    from iqa_core import ComponentNotFoundError, FullReferenceMetric, Metric

    registry.refresh()
    assert set(registry.available("measure")) >= MEASURES
    assert not MEASURES & set(registry.available("metric"))
    psnr = registry.create("measure", "psnr")
    assert isinstance(psnr, FullReferenceMetric) and not isinstance(psnr, Metric)
    with pytest.raises(ComponentNotFoundError, match=r"not a metric but a measure: use create\('measure', 'psnr'\)"):
        registry.create("metric", "psnr")
