"""Random-weight stand-ins for the backbones pyiqa's benchmark metrics download on construction.

PaQ-2-PiQ, MANIQA and CLIP-IQA+ fetch ImageNet / CLIP backbone weights while they are being built,
even with ``pretrained=False``. On a machine without network (CI, tests, benchmarks of speed rather
than accuracy) these helpers put random weights, in the official file formats, where the loaders look:

* PaQ-2-PiQ: torchvision's ResNet-18 ImageNet file in torch.hub's checkpoint cache
  (``$TORCH_HOME/hub/checkpoints/resnet18-<hash>.pth``; torch.hub does not re-check a cached file);
* MANIQA: a Hugging Face cache snapshot of timm's ``vit_base_patch8_224`` default tag
  (``model.safetensors``), read under ``HF_HUB_OFFLINE=1``;
* CLIP-IQA+: OpenAI CLIP RN50 as a TorchScript archive, passed as ``backbone=PATH`` (pyiqa checks the
  sha256 of its own ``RN50`` cache entry, so a random file cannot stand in there);
* the LPIPS and DISTS measures: torchvision's AlexNet / VGG16 ImageNet files in torch.hub's cache;
  LPIPS's calibrated linear heads as a local checkpoint in the official key layout
  (``lin{k}.model.1.weight``, non-negative like the trained ones, so distances stay >= 0), passed as
  ``pretrained_model_path``; DISTS with ``pretrained=False``.

Scores computed with stand-ins are meaningless; shapes, gradients and speed are those of the real
networks. Never use these for evaluation. Needs the `pyiqa` extra (timm, safetensors, openai-clip).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "MEASURE_STAND_IN_OPTIONS",
    "STAND_IN_OPTIONS",
    "measure_stand_in_options",
    "offline_backbones",
    "place_timm_hf_weights",
    "place_torchvision_backbone",
    "place_torchvision_resnet18",
    "stand_in_options",
    "write_clip_rn50_archive",
    "write_lpips_heads",
]

#: Any 40-hex revision names the fake Hugging Face snapshot.
SNAPSHOT = "0123456789abcdef0123456789abcdef01234567"

#: Registry options that build each pyiqa benchmark metric without a download (besides the backbone
#: files placed by :func:`stand_in_options`). MANIQA's default (the benchmark's wrapper) is one pass on
#: the image resized to 224; ``test_sample=1`` only matters with ``preprocessing="pyiqa"`` (1 crop
#: instead of pyiqa's 20, so that a backward pass on a CPU batch fits in a few GB).
STAND_IN_OPTIONS: dict[str, dict[str, Any]] = {
    "paq2piq": {"pretrained": False},
    "maniqa": {"pretrained": False, "test_sample": 1},
    "clipiqa+": {"pretrained": False},
    "metaiqa": {"pretrained": False},
    "topiq-nr": {"pretrained": False, "backbone_pretrain": False},
}


#: Registry options that build each full-reference measure without its calibrated head's download
#: (the ImageNet backbone comes from :func:`measure_stand_in_options`).
MEASURE_STAND_IN_OPTIONS: dict[str, dict[str, Any]] = {
    "lpips": {},  # + pretrained_model_path: the heads written by write_lpips_heads
    "dists": {"pretrained": False},
}

#: Feature channels of the five layers LPIPS compares, per backbone (the heads' input widths).
LPIPS_CHANNELS: dict[str, tuple[int, ...]] = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}


def place_torchvision_backbone(torch_home: str | Path, architecture: str) -> Path:
    """torchvision's ImageNet file of ``architecture`` (``resnet18``, ``alexnet``, ``vgg16``) in torch.hub's
    checkpoint cache, with random weights (torchvision's own initialisation, seeded).

    A ``classifier.*`` tensor (AlexNet, VGG: unused by LPIPS and DISTS) is stored as zeros expanded from
    one element, so the VGG16 file is 59 MB instead of 528 MB and still loads strictly into the model.
    """
    import torchvision

    weights = torchvision.models.get_model_weights(architecture).IMAGENET1K_V1
    target = Path(torch_home) / "hub" / "checkpoints" / Path(weights.url).name
    target.parent.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        state = torchvision.models.get_model(architecture).state_dict()
    state = {k: torch.zeros(()).expand(v.shape) if k.startswith("classifier.") else v for k, v in state.items()}
    torch.save(state, target)
    return target


def place_torchvision_resnet18(torch_home: str | Path) -> Path:
    """torchvision's ImageNet ResNet-18 file name in torch.hub's checkpoint cache, random weights."""
    return place_torchvision_backbone(torch_home, "resnet18")


def place_timm_hf_weights(hf_cache: str | Path, architecture: str) -> Path:
    """A Hugging Face cache snapshot of timm's default pretrained tag for ``architecture``, random weights."""
    import safetensors.torch
    import timm
    from huggingface_hub.file_download import repo_folder_name

    config = timm.models.get_pretrained_cfg(architecture)
    if config is None or not config.hf_hub_id:
        raise ValueError(f"timm has no Hugging Face weights for {architecture!r}")
    repo_id = str(config.hf_hub_id)
    repo = Path(hf_cache) / repo_folder_name(repo_id=repo_id, repo_type="model")
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(SNAPSHOT)
    snapshot = repo / "snapshots" / SNAPSHOT
    snapshot.mkdir(parents=True, exist_ok=True)
    state = timm.create_model(architecture, pretrained=False).state_dict()
    target = snapshot / "model.safetensors"
    safetensors.torch.save_file({k: v.contiguous() for k, v in state.items()}, target)
    return target


def write_clip_rn50_archive(path: str | Path, state_dict: Mapping[str, torch.Tensor] | None = None) -> Path:
    """OpenAI CLIP RN50 with random weights (or ``state_dict``), saved as the official files are: a TorchScript archive.

    pyiqa's CLIP loader reads only archives: a plain state_dict file fails there (it retries
    ``torch.load`` on the file object ``torch.jit.load`` has already consumed).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openai-clip imports pkg_resources
        import clip
        from clip.model import CLIP

    model = CLIP(
        embed_dim=1024,
        image_resolution=224,
        vision_layers=(3, 4, 6, 3),
        vision_width=64,
        vision_patch_size=None,
        context_length=77,
        vocab_size=49408,
        transformer_width=512,
        transformer_heads=8,
        transformer_layers=12,
    ).eval()
    if state_dict is not None:
        model.load_state_dict(state_dict, strict=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on data-dependent branches; jit deprecation notices
        traced = torch.jit.trace(model, (torch.rand(1, 3, 224, 224), clip.tokenize(["a photo"])), check_trace=False)
        torch.jit.save(traced, str(path))
    return Path(path)


def stand_in_options(name: str, root: str | Path) -> dict[str, Any]:
    """Place the stand-in backbone ``name`` needs under ``root``; return the registry options to build it.

    ``root`` must be the directory :func:`offline_backbones` points the caches at.
    """
    if name not in STAND_IN_OPTIONS:
        raise KeyError(f"no offline stand-in for {name!r}; known: {', '.join(sorted(STAND_IN_OPTIONS))}")
    root = Path(root)
    options = dict(STAND_IN_OPTIONS[name])
    if name == "paq2piq":
        place_torchvision_resnet18(root / "torch")
    elif name == "maniqa":
        place_timm_hf_weights(root / "hf", "vit_base_patch8_224")
    elif name == "clipiqa+":
        options["backbone"] = str(write_clip_rn50_archive(root / "RN50-random.pt"))
    return options


def write_lpips_heads(path: str | Path, net: str = "alex", *, seed: int = 0) -> Path:
    """LPIPS's five linear heads (1x1 convolutions, no bias) with random non-negative weights, in the
    key layout of the official ``LPIPS_v0.1_<net>`` files, which pyiqa loads from
    ``pretrained_model_path``."""
    if net not in LPIPS_CHANNELS:
        raise ValueError(f"no offline stand-in for lpips with net={net!r}; use net='alex' or net='vgg'")
    g = torch.Generator().manual_seed(seed)
    state = {
        f"lin{k}.model.1.weight": torch.rand(1, width, 1, 1, generator=g) for k, width in enumerate(LPIPS_CHANNELS[net])
    }
    torch.save(state, path)
    return Path(path)


def measure_stand_in_options(name: str, root: str | Path, **options: Any) -> dict[str, Any]:
    """Place the backbone (and, for LPIPS, the heads) the measure ``name`` (``lpips`` with
    ``net="alex"|"vgg"``, ``dists``) needs under ``root``; return the registry options.

    ``root`` must be the directory :func:`offline_backbones` points the caches at.
    """
    if name not in MEASURE_STAND_IN_OPTIONS:
        raise KeyError(
            f"no offline stand-in for measure {name!r}; known: {', '.join(sorted(MEASURE_STAND_IN_OPTIONS))}"
        )
    net = options.get("net", "alex") if name == "lpips" else "vgg"
    architecture = {"alex": "alexnet", "vgg": "vgg16"}.get(net)
    if architecture is None:
        raise ValueError(f"no offline stand-in for {name} with net={net!r}; use net='alex' or net='vgg'")
    place_torchvision_backbone(Path(root) / "torch", architecture)
    extra = dict(MEASURE_STAND_IN_OPTIONS[name])
    if name == "lpips":
        extra["pretrained_model_path"] = str(write_lpips_heads(Path(root) / f"lpips-{net}-random.pth", net))
    return {**options, **extra}


@contextmanager
def offline_backbones(root: str | Path) -> Iterator[Path]:
    """Point torch.hub and the Hugging Face cache at ``root`` (offline) for the duration of the block."""
    import huggingface_hub.constants

    root = Path(root)
    saved_env = {key: os.environ.get(key) for key in ("TORCH_HOME", "HF_HUB_OFFLINE")}
    constants = huggingface_hub.constants
    saved_cache, saved_offline = constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE
    os.environ["TORCH_HOME"] = str(root / "torch")
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE = str(root / "hf"), True
    try:
        yield root
    finally:
        constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE = saved_cache, saved_offline
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
