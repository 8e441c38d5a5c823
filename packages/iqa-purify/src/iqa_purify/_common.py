"""Helpers shared by the defences: seeded random draws, weight resolution, padding."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from iqa_core.weights import WeightsNotFoundError, WeightSpec, fetch, load_checkpoint

PathLike = str | os.PathLike[str]


def _draw_device(generator: torch.Generator | None, device: torch.device) -> torch.device:
    return generator.device if generator is not None else device


def rand(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Uniform [0, 1) draws from ``generator`` (its own device), moved to ``device``."""
    return torch.rand(shape, generator=generator, device=_draw_device(generator, device)).to(device)


def randn(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Standard normal draws from ``generator`` (its own device), moved to ``device``."""
    return torch.randn(shape, generator=generator, device=_draw_device(generator, device)).to(device)


def randint(high: int, shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Integers in ``[0, high)`` from ``generator``."""
    return torch.randint(0, max(int(high), 1), shape, generator=generator, device=_draw_device(generator, device)).to(
        device
    )


def check_odd_kernel(kernel_size: int, what: str) -> int:
    k = int(kernel_size)
    if k < 1 or k % 2 == 0:
        raise ValueError(f"{what} kernel size must be an odd integer >= 1, got {kernel_size}")
    return k


def pad_to_multiple(images: Tensor, multiple: int) -> tuple[Tensor, tuple[int, int]]:
    """Pad bottom/right to a multiple of ``multiple`` (reflect where possible, else replicate)."""
    h, w = images.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return images, (h, w)
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(images, (0, pw, 0, ph), mode=mode), (h, w)


def resolve_weights(spec: WeightSpec, weights: PathLike | None, *, check_hash: bool = True) -> Path:
    """A local checkpoint for ``spec``: ``weights`` when given, else the verified download.

    Specs with an empty ``sha256`` have no verifiable direct download (Google-Drive-only releases):
    they need ``weights=PATH``; a given path is then used as is.
    """
    if weights is not None:
        return fetch(spec, path=weights, check=check_hash and bool(spec.sha256))
    if not spec.sha256:
        raise WeightsNotFoundError(
            f"the official weights for {spec.name!r} have no direct, checksummed download; get "
            f"{spec.file_name} from {spec.url} and pass weights=PATH"
        )
    return fetch(spec)


def state_dict_from(checkpoint: Any, keys: tuple[str, ...] = ("params_ema", "params", "state_dict", "model")) -> dict:
    """The state dict inside a checkpoint (first of ``keys`` present, else the checkpoint itself).

    A leading ``module.`` (saved from ``DataParallel``) is stripped.
    """
    sd = checkpoint
    if isinstance(checkpoint, Mapping):
        for key in keys:
            if key in checkpoint and isinstance(checkpoint[key], Mapping):
                sd = checkpoint[key]
                break
    if not isinstance(sd, Mapping):
        raise ValueError(f"checkpoint holds no state dict (found {type(sd).__name__})")
    return {(k[7:] if k.startswith("module.") else k): v for k, v in sd.items()}


def load_state(path: PathLike, keys: tuple[str, ...] = ("params_ema", "params", "state_dict", "model")) -> dict:
    """``load_checkpoint`` + :func:`state_dict_from`."""
    return state_dict_from(load_checkpoint(path), keys)


def freeze(module: torch.nn.Module) -> None:
    """Inference mode for a defence network: eval, no parameter gradients (input gradients still flow)."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
