"""pyiqa adapter: offline-buildable metrics score with gradients; breakages give clear errors offline."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from iqa_core.protocols import Metric
from iqa_core.testing import check_metric
from iqa_core.weights import WeightsNotFoundError
from iqa_metrics import pyiqa_adapter
from iqa_metrics.pyiqa_adapter import (
    BENCHMARK_BOUNDS,
    NOT_DIFFERENTIABLE,
    PyiqaMetric,
    default_bounds,
    parse_score_range,
    resolve_name,
)
from iqa_metrics.pyiqa_names import EXCLUDED, PYIQA_NR_NAMES, PyiqaFactory, attribute_name

OFFLINE_BUILDABLE = {
    "topiq_nr": {"pretrained": False, "backbone_pretrain": False},
    "metaiqa": {"pretrained": False},
    "cnniqa": {"pretrained": None},
    "musiq": {"pretrained": False},
}


def test_names_follow_the_installed_pyiqa() -> None:
    import pyiqa

    assert set(PYIQA_NR_NAMES) == set(pyiqa.list_models(metric_mode="NR")) - set(EXCLUDED)


def test_every_name_has_bounds_and_flags() -> None:
    from pyiqa.default_model_configs import DEFAULT_CONFIGS

    for name in PYIQA_NR_NAMES:
        bounds = default_bounds(name, DEFAULT_CONFIGS[name].get("score_range"))
        assert bounds.diam > 0, name
    assert {n: (b.lower, b.upper) for n, b in BENCHMARK_BOUNDS.items()} == {
        "metaiqa": (0.0, 1.0),
        "maniqa": (0.0, 1.0),
        "clipiqa+": (0.0, 1.0),
        "topiq_nr": (0.22, 0.82),
        "paq2piq": (58.38, 84.17),
    }
    assert {"niqe", "brisque"} <= NOT_DIFFERENTIABLE <= set(PYIQA_NR_NAMES)


def test_score_range_parsing() -> None:
    assert parse_score_range("~0, ~1") == parse_score_range("0, 1")
    assert (parse_score_range("~-3, ~3").lower, parse_score_range("1, 10").upper) == (-3.0, 10.0)
    with pytest.raises(ValueError):
        parse_score_range("0, ~")


def test_registry_spellings_resolve() -> None:
    assert resolve_name("topiq-nr") == "topiq_nr"
    assert resolve_name("CLIPIQA+-vitl14-512") == "clipiqa+_vitL14_512"
    with pytest.raises(ValueError, match="dataset-level"):
        resolve_name("fid")
    with pytest.raises(ValueError, match="no pyiqa"):
        resolve_name("nonsense")
    factory = PyiqaFactory("maniqa")
    assert "maniqa" in (factory.__doc__ or "")
    assert attribute_name("qualiclip+-clive") == "qualiclip_plus_clive"


@pytest.fixture(scope="module")
def offline_metrics(tmp_path_factory: pytest.TempPathFactory) -> dict[str, PyiqaMetric]:
    mp = pytest.MonkeyPatch()
    mp.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch-home")))
    try:
        return {name: PyiqaMetric(name, **opts) for name, opts in OFFLINE_BUILDABLE.items()}
    finally:
        mp.undo()


@pytest.mark.parametrize("name", list(OFFLINE_BUILDABLE))
def test_offline_metric_conforms_with_gradients(name: str, offline_metrics: dict[str, PyiqaMetric]) -> None:
    metric = offline_metrics[name]
    assert isinstance(metric, Metric)
    assert metric.name == name and metric.higher_is_better and metric.differentiable
    metric.train()
    assert not metric.training and not metric.inner.net.training
    size = 64 if name == "cnniqa" else 32  # cnniqa needs whole 32 px patches plus context; keep the rest cheap
    x = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    check_metric(metric, x, atol=1e-4)  # includes: gradients reach the input, finite and non-zero


def test_benchmark_bounds_are_used(offline_metrics: dict[str, PyiqaMetric]) -> None:
    assert (offline_metrics["topiq_nr"].bounds.lower, offline_metrics["topiq_nr"].bounds.upper) == (0.22, 0.82)
    assert (offline_metrics["musiq"].bounds.lower, offline_metrics["musiq"].bounds.upper) == (0.0, 100.0)


def test_backbone_download_is_refused_before_connecting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    import urllib.request

    original = urllib.request.urlopen
    with pytest.raises(WeightsNotFoundError) as info:
        PyiqaMetric("paq2piq", pretrained=False)  # torchvision ResNet-18 backbone
    message = str(info.value)
    assert "resnet18-" in message and "download.pytorch.org" in message and "iqa-metrics download paq2piq" in message
    assert urllib.request.urlopen is original  # guard restored


def test_hugging_face_backbone_offline_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match="iqa-metrics download maniqa"):
        PyiqaMetric("maniqa", pretrained=False)


def test_missing_pkg_resources_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    real = pyiqa_adapter.importlib.util.find_spec

    def fake(name: str, *args: object) -> object:
        return None if name == "pkg_resources" else real(name, *args)

    monkeypatch.setattr(pyiqa_adapter.importlib.util, "find_spec", fake)
    with pytest.raises(ImportError, match="setuptools < 81"):
        PyiqaMetric("clipiqa+")


def test_preprocessing_is_checked_and_shown() -> None:
    """``preprocessing``: "benchmark" (default, the benchmark wrappers' input path) or "pyiqa"."""
    with pytest.raises(ValueError, match="preprocessing must be"):
        PyiqaMetric("metaiqa", pretrained=False, preprocessing="native")  # type: ignore[arg-type]
    metric = PyiqaMetric("metaiqa", pretrained=False)
    assert metric.preprocessing == "benchmark" and "preprocessing='benchmark'" in repr(metric)
    assert set(pyiqa_adapter.BENCHMARK_PREPROCESSING) == {"maniqa", "metaiqa"}
