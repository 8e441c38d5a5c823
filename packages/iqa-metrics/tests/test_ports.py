"""The four ported metrics: official key layouts, the real loader on random-weight checkpoints, gradients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from iqa_core.protocols import Metric
from iqa_core.testing import check_metric
from iqa_core.weights import ChecksumError, WeightsNotFoundError, sha256_of
from iqa_metrics._base import IMAGENET_MEAN, IMAGENET_STD, normalise, resize
from iqa_metrics._checkpoint import layout_of, resolve_weights
from iqa_metrics.cli import main as cli_main
from iqa_metrics.fpr import FPRMetric, fpr_patches
from iqa_metrics.koncept import KonCept512
from iqa_metrics.linearity import LinearityIQA
from iqa_metrics.spaq import SPAQBaseline, patch_starts, shorter_side_to
from iqa_metrics.specs import OFFICIAL_WEIGHTS

LAYOUTS = Path(__file__).parent / "layouts"


def official_layout(name: str) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v) for k, v in json.loads((LAYOUTS / f"{name}.json").read_text()).items()}


def randomise_statistics(module: torch.nn.Module, seed: int) -> None:
    """Non-trivial BatchNorm statistics, so that a load that skipped them would show."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
            m.running_var.copy_(1 + 0.2 * torch.rand(m.running_var.shape, generator=g))


def images(n: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------ fixtures: random model + reloaded copy
def _pair(tmp_path_factory: pytest.TempPathFactory, cls: Any, seed: int, save: Any, **kw: Any) -> tuple[Any, Any, Path]:
    torch.manual_seed(seed)
    original = cls(pretrained=False, **kw)
    randomise_statistics(original.net, seed)
    path = tmp_path_factory.mktemp(cls.name) / original.official.filename
    save(original, path)
    reloaded = cls(weights=path, **kw)
    return original, reloaded, path


@pytest.fixture(scope="session")
def linearity(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
    def save(model: LinearityIQA, path: Path) -> None:
        # as the official main.py saves it: k and b computed with numpy (index 0 maps the final output y[-1],
        # indices 1 and 2 the side regressors), optimizer state beside the model
        k = [np.float64(12.5), np.float64(3.0), np.float64(0.5)]
        b = [np.float64(40.0), np.float64(-7.0), np.float64(2.0)]
        torch.save({"model": model.net.state_dict(), "optimizer": {"state": {}}, "k": k, "b": b}, path)

    return _pair(tmp_path_factory, LinearityIQA, 1, save, resize=(64, 80))


@pytest.fixture(scope="session")
def koncept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
    return _pair(
        tmp_path_factory,
        KonCept512,
        2,
        lambda m, p: torch.save(m.net.state_dict(), p),
        resize=(80, 80),
        pooling="global",
    )


@pytest.fixture(scope="session")
def spaq(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
    return _pair(
        tmp_path_factory, SPAQBaseline, 3, lambda m, p: torch.save({"state_dict": m.net.state_dict()}, p), resize=None
    )


@pytest.fixture(scope="session")
def fpr(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
    return _pair(
        tmp_path_factory, FPRMetric, 4, lambda m, p: torch.save({"state_dict": m.net.state_dict(), "epoch": 3}, p)
    )


PORTS = {
    "linearity": ("linearity", (64, 80)),
    "koncept512": ("koncept", (64, 64)),
    "spaq": ("spaq", (224, 224)),
    "fpr": ("fpr", (64, 128)),
}


@pytest.mark.parametrize("name", list(PORTS))
def test_state_dict_has_the_official_layout(name: str, request: pytest.FixtureRequest) -> None:
    original, _, _ = request.getfixturevalue(PORTS[name][0])
    assert layout_of(original.net) == official_layout(name)
    assert original.name == name


@pytest.mark.parametrize("name", list(PORTS))
def test_real_loader_reproduces_scores_exactly(name: str, request: pytest.FixtureRequest) -> None:
    original, reloaded, _ = request.getfixturevalue(PORTS[name][0])
    x = images(2, *PORTS[name][1])
    with torch.no_grad():
        expected, got = original(x), reloaded(x)
    if name == "linearity":  # the reloaded model applies the checkpoint's k, b
        expected = expected * 12.5 + 40.0
    assert torch.equal(got, expected)


@pytest.mark.parametrize("name", list(PORTS))
def test_conformance_and_gradients(name: str, request: pytest.FixtureRequest) -> None:
    _, reloaded, _ = request.getfixturevalue(PORTS[name][0])
    assert isinstance(reloaded, Metric)
    assert reloaded.higher_is_better and reloaded.differentiable
    assert not reloaded.training
    check_metric(reloaded, images(2, *PORTS[name][1], seed=5))


def test_bounds_are_the_catalogue_ones() -> None:
    expected = {
        "linearity": (25.78, 83.23),
        "koncept512": (26.40, 66.87),
        "spaq": (21.75, 77.75),
        "fpr": (47.22, 77.05),
    }
    classes = {"linearity": LinearityIQA, "koncept512": KonCept512, "spaq": SPAQBaseline, "fpr": FPRMetric}
    for name, (lo, hi) in expected.items():
        b = classes[name].default_bounds
        assert (b.lower, b.upper) == (lo, hi)


def test_linearity_k_b_and_resize(linearity: tuple[Any, Any, Path]) -> None:
    _, reloaded, _ = linearity
    assert (reloaded.k, reloaded.b) == (12.5, 40.0)
    assert LinearityIQA.__init__.__kwdefaults__["resize"] == (498, 664)


def test_linearity_maps_the_final_output_with_k0_b0(linearity: tuple[Any, Any, Path]) -> None:
    """Regression (issue 13, defect 1): official test_demo.py reports ``y[-1] * k[0] + b[0]``, not k[-1], b[-1]."""
    original, reloaded, _ = linearity
    x = images(2, 64, 80, seed=11)
    with torch.no_grad():
        y = original.net(normalise(resize(x, (64, 80)), IMAGENET_MEAN, IMAGENET_STD))
        got = reloaded(x)
    assert torch.allclose(got, y[:, -1] * 12.5 + 40.0, rtol=1e-6, atol=1e-5)
    assert not torch.allclose(got, y[:, -1] * 0.5 + 2.0, rtol=1e-3)  # the side regressor's mapping (old port)
    # gradients scale with k[0] as well
    x.requires_grad_(True)
    reloaded(x).sum().backward()
    reference = x.detach().clone().requires_grad_(True)
    original(reference).sum().backward()
    assert reference.grad is not None and x.grad is not None
    assert torch.allclose(x.grad, 12.5 * reference.grad, rtol=1e-4, atol=1e-7)


def test_koncept_official_pooling_is_the_top_left_8x8_window(koncept: tuple[Any, Any, Path]) -> None:
    net = koncept[0].net
    features = torch.randn(2, 1536, 10, 14)
    assert torch.equal(net.pool(features, "official"), features[..., :8, :8].mean(dim=(2, 3)))
    assert torch.allclose(net.pool(features, "global"), features.mean(dim=(2, 3)))
    with pytest.raises(ValueError, match="8x8"):
        net.pool(torch.randn(1, 1536, 7, 9), "official")


def test_koncept_default_transform_scores_any_size(koncept: tuple[Any, Any, Path]) -> None:
    _, _, path = koncept
    model = KonCept512(weights=path, resize=(299, 299))  # official pooling; the trunk maps 299 px to 8 x 8
    with torch.no_grad():
        score = model(images(1, 50, 70))
    assert score.shape == (1,) and torch.isfinite(score).all()
    assert KonCept512.__init__.__kwdefaults__["resize"] == (384, 512)


def test_spaq_patch_grid_matches_the_official_one() -> None:
    assert patch_starts(512) == [0, 112, 224, 288]
    assert patch_starts(683) == [0, 112, 224, 336, 448, 459]
    assert patch_starts(224) == [0]
    x = images(3, 384, 512)
    assert shorter_side_to(x, 512).shape[-2:] == (512, 682)
    with pytest.raises(ValueError, match="224"):
        patch_starts(200)


def test_spaq_patches_of_a_batch(spaq: tuple[Any, Any, Path]) -> None:
    model = spaq[1]
    model.short_side = 512
    try:
        patches = model.patches(images(2, 256, 300))  # shorter side 256 -> 512 x 600
    finally:
        model.short_side = None
    assert patches.shape == (2, 4 * 5, 3, 224, 224)


def test_fpr_patch_order_is_column_major_and_deterministic() -> None:
    x = torch.zeros(1, 3, 128, 192)
    for row in range(2):
        for col in range(3):
            x[:, :, row * 64 : (row + 1) * 64, col * 64 : (col + 1) * 64] = 10 * col + row
    patches = fpr_patches(x)
    assert patches.shape == (1, 6, 3, 64, 64)
    assert [int(p[0, 0, 0]) for p in patches[0]] == [0, 1, 10, 11, 20, 21]
    assert fpr_patches(x, max_patches=4).shape[1] == 4
    with pytest.raises(ValueError, match="64x64"):
        fpr_patches(torch.zeros(1, 3, 60, 128))


def test_fpr_batch_of_different_images_matches_one_by_one(fpr: tuple[Any, Any, Path]) -> None:
    model = fpr[1]
    x = images(3, 64, 128, seed=9)
    with torch.no_grad():
        batched = model(x)
        alone = torch.cat([model(x[i : i + 1]) for i in range(3)])
    assert torch.allclose(batched, alone, atol=1e-5)


def test_wrong_layout_is_refused_with_the_keys(tmp_path: Path, fpr: tuple[Any, Any, Path]) -> None:
    state = fpr[0].net.state_dict()
    state.pop("srl2.bias")
    state["extra.weight"] = torch.zeros(1)
    bad = tmp_path / "bad.pkl"
    torch.save(state, bad)
    with pytest.raises(ValueError, match=r"missing keys.*srl2\.bias.*unexpected keys.*extra\.weight"):
        FPRMetric(weights=bad)


def test_missing_weights_offline_name_the_file_and_the_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IQA_HOME", str(tmp_path))
    for name, official in OFFICIAL_WEIGHTS.items():
        with pytest.raises(WeightsNotFoundError) as info:
            resolve_weights(official, None)
        message = str(info.value)
        assert official.filename in message and "weights=PATH" in message and official.url in message
        assert f"iqa-metrics download {name} --from" in message
    with pytest.raises(WeightsNotFoundError, match=r"model_best_kadid_0\.pkl"):
        FPRMetric()


def test_cached_official_file_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fpr: tuple[Any, Any, Path]
) -> None:
    monkeypatch.setenv("IQA_HOME", str(tmp_path))
    target = OFFICIAL_WEIGHTS["fpr"].cache_path
    target.parent.mkdir(parents=True)
    target.write_bytes(fpr[2].read_bytes())
    model = FPRMetric()  # placed by hand: trusted on first use, its sha256 recorded
    assert target.with_name(target.name + ".sha256").read_text().strip() == sha256_of(target)
    x = images(1, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), fpr[0](x))


def test_download_from_file_records_the_hash_and_a_replaced_cache_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fpr: tuple[Any, Any, Path]
) -> None:
    """Regression (issue 13, defect 13): ``download --from`` records the sha256; later uses verify it."""
    monkeypatch.setenv("IQA_HOME", str(tmp_path / "home"))
    official = OFFICIAL_WEIGHTS["fpr"]
    assert cli_main(["download", "fpr", "--from", str(fpr[2])]) == 0
    target = official.cache_path
    record = target.with_name(target.name + ".sha256")
    recorded = sha256_of(fpr[2])
    assert record.read_text().strip() == recorded
    FPRMetric()  # verified against the record
    other = tmp_path / "other.pkl"  # same layout, other weights: a silently replaced cache file
    state = {k: v + 1 if v.is_floating_point() else v for k, v in fpr[0].net.state_dict().items()}
    torch.save({"state_dict": state}, other)
    target.write_bytes(other.read_bytes())
    with pytest.raises(ChecksumError) as info:
        FPRMetric()
    message = str(info.value)
    assert str(target) in message and recorded in message and sha256_of(other) in message
    assert "iqa-metrics download fpr --from FILE" in message
    assert cli_main(["download", "fpr", "--from", str(other)]) == 0  # the documented fix re-records it
    assert record.read_text().strip() == sha256_of(other)
    FPRMetric()
