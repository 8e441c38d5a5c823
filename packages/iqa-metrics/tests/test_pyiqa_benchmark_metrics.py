"""The five benchmark metrics that pyiqa provides, built offline with random backbones.

For each of paq2piq, maniqa, clipiqa+, metaiqa and topiq_nr: build it through the registry with no
network (random-weight backbones placed where their loaders look), write a checkpoint in the key
layout of the metric's release, load it back through the adapter's ``weights=PATH`` loader (and
check that pyiqa's own release loader reads the same file to the same network), score a batch of
4 images of 384 x 512 with gradients, and run the conformance kit.

The backbones come from ``iqa_metrics.offline`` (random weights in the official formats where the
loaders look: torch.hub's cache for paq2piq's ResNet-18, a Hugging Face snapshot for maniqa's ViT,
a TorchScript archive for clipiqa+'s CLIP RN50; metaiqa and topiq_nr need none).

MANIQA and MetaIQA run with the benchmark wrappers' preprocessing (the adapter's default; MANIQA: one
pass of ViT-B/8 on the image resized to 224). With ``preprocessing="pyiqa"`` MANIQA scores
``test_sample`` 224 px crops per image (pyiqa default 20; 1 in the stand-in options, which keeps a
4-image backward within a few GB of CPU memory).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from iqa_core import create
from iqa_core.protocols import Metric
from iqa_core.testing import check_metric, toy_images
from iqa_core.weights import WeightsNotFoundError
from iqa_metrics.offline import STAND_IN_OPTIONS, offline_backbones, stand_in_options
from iqa_metrics.pyiqa_adapter import BENCHMARK_BOUNDS, PyiqaMetric

#: pyiqa's CLIP loader reads OpenAI's TorchScript archives (the official format) with torch.jit.load.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")


# ---------------------------------------------------------------- checkpoints in the releases' layouts
def plain_state(net: nn.Module, path: Path) -> None:
    torch.save(net.state_dict(), path)


def params_state(net: nn.Module, path: Path) -> None:
    torch.save({"params": net.state_dict()}, path)


def learned_prompts(net: nn.Module, path: Path) -> None:
    torch.save(net.prompt_learner.ctx.detach().clone(), path)


def metaiqa_original(net: nn.Module, path: Path) -> None:
    """The original MetaIQA names: the regression head is ``net``; no normalisation buffers."""
    state = {("net." + k[len("head.") :] if k.startswith("head.") else k): v for k, v in net.state_dict().items()}
    torch.save({k: v for k, v in state.items() if k not in ("mean", "std")}, path)


def release_file(module: str, key: str) -> str:
    import importlib

    urls = importlib.import_module(f"pyiqa.archs.{module}").default_model_urls
    return Path(str(urls[key])).name


@dataclass(frozen=True)
class Case:
    registry_name: str
    pyiqa_name: str
    arch_module: str
    release_key: str
    save: Callable[[nn.Module, Path], None]


CASES: dict[str, Case] = {
    c.pyiqa_name: c
    for c in (
        Case("paq2piq", "paq2piq", "paq2piq_arch", "url", plain_state),
        Case("maniqa", "maniqa", "maniqa_arch", "koniq", plain_state),
        Case("clipiqa+", "clipiqa+", "clipiqa_arch", "clipiqa+", learned_prompts),
        Case("metaiqa", "metaiqa", "metaiqa_arch", "meta-infer-ready", metaiqa_original),
        Case("topiq-nr", "topiq_nr", "topiq_arch", "cfanet_nr_koniq_res50", params_state),
    )
}


def test_every_stand_in_is_covered_here() -> None:
    assert {c.registry_name for c in CASES.values()} == set(STAND_IN_OPTIONS)


def test_offline_backbones_restores_the_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.delenv("TORCH_HOME", raising=False)
    cache = huggingface_hub.constants.HF_HUB_CACHE
    with offline_backbones(tmp_path):
        assert os.environ["TORCH_HOME"] == str(tmp_path / "torch") and os.environ["HF_HUB_OFFLINE"] == "1"
        assert str(tmp_path / "hf") == huggingface_hub.constants.HF_HUB_CACHE
    assert "TORCH_HOME" not in os.environ and cache == huggingface_hub.constants.HF_HUB_CACHE


def test_unknown_stand_in_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="known: clipiqa\\+, maniqa"):
        stand_in_options("musiq", tmp_path)


def perturb(net: nn.Module, seed: int) -> None:
    """Move every learned value off its initialisation, so that any entry the loader skipped would show."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            scale = float(p.std()) if p.numel() > 1 else 1.0
            p.add_(0.05 * (scale or 1.0) * torch.randn(p.shape, generator=g))
        for m in net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                m.running_mean.add_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.mul_(1 + 0.2 * torch.rand(m.running_var.shape, generator=g))


@dataclass
class Built:
    case: Case
    original: PyiqaMetric
    reloaded: PyiqaMetric
    checkpoint: Path
    options: dict[str, Any]
    root: Path


@pytest.fixture(scope="module", params=list(CASES))
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """One metric at a time (pytest groups the tests by metric and frees each before building the next).

    Built under ``offline_backbones``, the helper users and ``nox -s perf`` rely on, so these tests
    also prove that it points every loader at the stand-ins (a miss would try the network and fail).
    """
    case = CASES[request.param]
    root = tmp_path_factory.mktemp(case.registry_name.replace("+", "plus"))
    with offline_backbones(root):
        options = stand_in_options(case.registry_name, root)
        options.pop("pretrained")  # the original is random; the reload reads the checkpoint
        try:
            torch.manual_seed(1)
            original = create("metric", case.registry_name, pretrained=False, **options)
            perturb(original.inner.net, seed=11)
            checkpoint = root / release_file(case.arch_module, case.release_key)
            case.save(original.inner.net, checkpoint)
            torch.manual_seed(2)  # a different initialisation: only the checkpoint can make the two equal
            reloaded = create("metric", case.registry_name, weights=checkpoint, **options)
            yield Built(case, original, reloaded, checkpoint, options, root)
        finally:
            gc.collect()


def assert_same_state(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    differing = [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert not differing, f"{len(differing)} entries differ, first: {differing[:5]}"


# ---------------------------------------------------------------- the four requirements, per metric
def test_built_through_the_registry_offline(built: Built) -> None:
    metric = built.reloaded
    assert isinstance(metric, PyiqaMetric) and isinstance(metric, Metric)
    assert metric.name == built.case.pyiqa_name and metric.weights == built.checkpoint
    assert metric.higher_is_better and metric.differentiable
    assert metric.bounds == BENCHMARK_BOUNDS[built.case.pyiqa_name]
    metric.train()
    assert not metric.training and not metric.inner.net.training


def test_release_layout_loads_exactly(built: Built) -> None:
    assert_same_state(built.reloaded.inner.net, built.original.inner.net)
    x = toy_images(2, (96, 128), seed=7)
    with torch.no_grad():
        assert torch.equal(built.reloaded(x), built.original(x))


def test_pyiqa_release_loader_reads_the_same_file(built: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checkpoint placed in pyiqa's cache under the release's name: pyiqa's default load gives the same network."""
    from pyiqa.utils import download_util

    cache = built.root / "pyiqa-cache"
    cache.mkdir(exist_ok=True)
    (cache / built.checkpoint.name).write_bytes(built.checkpoint.read_bytes())
    monkeypatch.setattr(download_util, "DEFAULT_CACHE_DIR", str(cache))
    options = dict(built.options)
    if built.case.pyiqa_name == "clipiqa+":  # pyiqa reads the prompt file only for backbone="RN50"
        from pyiqa.archs import clipiqa_arch

        backbone = options.pop("backbone")
        real_load = clipiqa_arch.load
        monkeypatch.setattr(clipiqa_arch, "load", lambda name, device: real_load(backbone, device))
    via_pyiqa = PyiqaMetric(built.case.pyiqa_name, **options)  # pretrained default: the release, from the cache
    assert_same_state(via_pyiqa.inner.net, built.original.inner.net)


def test_batch_of_four_384x512_with_input_gradients(built: Built) -> None:
    x = toy_images(4, (384, 512), seed=3).requires_grad_(True)
    scores = built.reloaded(x)
    assert scores.shape == (4,) and scores.dtype == torch.float32
    assert torch.isfinite(scores).all()
    (grad,) = torch.autograd.grad(scores.sum(), x)
    assert torch.isfinite(grad).all()
    per_image = grad.abs().flatten(1).sum(1)
    assert (per_image > 0).all(), f"zero input gradient for some images: {per_image.tolist()}"


def test_conformance_kit(built: Built) -> None:
    check_metric(built.reloaded, toy_images(2, (64, 96), seed=5), atol=1e-4)


# ---------------------------------------------------------------- the weights=PATH loader's refusals (metaiqa: cheap)
@pytest.fixture(scope="module")
def metaiqa_net() -> nn.Module:
    torch.manual_seed(3)
    return PyiqaMetric("metaiqa", pretrained=False).inner.net


def test_missing_file_is_refused_before_building(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="not found at"):
        PyiqaMetric("maniqa", weights=tmp_path / "absent.pt")


def test_release_named_by_a_string_is_switched_off_too(tmp_path: Path) -> None:
    """CNNIQA's ``pretrained`` names a release (``"koniq10k"``): weights=PATH turns it to None, not False."""
    torch.manual_seed(4)
    net = PyiqaMetric("cnniqa", pretrained=None).inner.net
    path = tmp_path / "cnniqa.pth"
    torch.save({"params": net.state_dict()}, path)
    assert_same_state(PyiqaMetric("cnniqa", weights=path).inner.net, net)


def test_weights_and_pretrained_do_not_mix(tmp_path: Path, metaiqa_net: nn.Module) -> None:
    path = tmp_path / "m.pth"
    torch.save(metaiqa_net.state_dict(), path)
    with pytest.raises(ValueError, match="leave pretrained"):
        PyiqaMetric("metaiqa", weights=path, pretrained=True)


def test_pyiqa_wrapped_layout_loads_too(tmp_path: Path, metaiqa_net: nn.Module) -> None:
    """pyiqa-style files: ``params`` wrapper, pyiqa's own names, ``module.`` prefixes."""
    path = tmp_path / "m.pth"
    torch.save({"params": {f"module.{k}": v for k, v in metaiqa_net.state_dict().items()}}, path)
    assert_same_state(PyiqaMetric("metaiqa", weights=path).inner.net, metaiqa_net)


def test_wrong_layout_is_refused_naming_keys(tmp_path: Path, metaiqa_net: nn.Module) -> None:
    state = metaiqa_net.state_dict()
    state.pop("head.fc3.bias")
    state["extra.weight"] = torch.zeros(1)
    state["head.fc1.weight"] = torch.zeros(3, 3)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match=r"missing keys.*head\.fc3\.bias.*unexpected keys.*extra\.weight.*shape"):
        PyiqaMetric("metaiqa", weights=path)


def test_bare_tensor_only_for_learned_prompts(tmp_path: Path) -> None:
    path = tmp_path / "ctx.pth"
    torch.save(torch.zeros(2, 16, 512), path)
    with pytest.raises(ValueError, match="learned-prompt"):
        PyiqaMetric("metaiqa", weights=path)


def test_pickled_modules_are_not_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "model.pth"
    torch.save(nn.Linear(2, 2), path)
    with pytest.raises(ValueError, match="cannot load checkpoint"):
        PyiqaMetric("metaiqa", weights=path)
