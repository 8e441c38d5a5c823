"""Random-weight stand-ins for the backbones pyiqa's benchmark metrics download on construction.

PaQ-2-PiQ, MANIQA and CLIP-IQA+ fetch ImageNet / CLIP backbone weights while they are being built,
even with ``pretrained=False``. On a machine without network (CI, tests, benchmarks of speed rather
than accuracy) these helpers put random weights, in the official file formats, where the loaders look:

* PaQ-2-PiQ: torchvision's ResNet-18 ImageNet file in torch.hub's checkpoint cache
  (``$TORCH_HOME/hub/checkpoints/resnet18-<hash>.pth``; torch.hub does not re-check a cached file);
* MANIQA: a Hugging Face cache snapshot of timm's ``vit_base_patch8_224`` default tag
  (``model.safetensors``), read under ``HF_HUB_OFFLINE=1``;
* CLIP-IQA+: OpenAI CLIP RN50 as a TorchScript archive, passed as ``backbone=PATH`` (pyiqa checks the
  sha256 of its own ``RN50`` cache entry, so a random file cannot stand in there).

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
    "STAND_IN_OPTIONS",
    "offline_backbones",
    "place_timm_hf_weights",
    "place_torchvision_resnet18",
    "stand_in_options",
    "write_clip_rn50_archive",
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


def place_torchvision_resnet18(torch_home: str | Path) -> Path:
    """torchvision's ImageNet ResNet-18 file name in torch.hub's checkpoint cache, random weights."""
    import torchvision
    from torchvision.models import ResNet18_Weights

    target = Path(torch_home) / "hub" / "checkpoints" / Path(ResNet18_Weights.IMAGENET1K_V1.url).name
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(torchvision.models.resnet18().state_dict(), target)
    return target


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
