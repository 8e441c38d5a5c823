"""Loading official checkpoints: path resolution, ``weights_only`` loading, strict key-layout checks."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from iqa_core.weights import WeightsNotFoundError, check_recorded, fetch, load_checkpoint

from .specs import OfficialWeights

PathLike = str | os.PathLike[str]


def resolve_weights(official: OfficialWeights, weights: PathLike | None) -> Path:
    """The local file to load for ``official``.

    ``weights`` (a user file) wins and is only checked for existence, so fine-tuned checkpoints of
    the same architecture load too. Otherwise a verified spec goes through
    :func:`iqa_core.weights.fetch` (cache, download, sha256); an unverified one (no published
    sha256) is taken from the cache if present - trusted on first use, then checked against the
    sha256 recorded beside it on every use (:func:`iqa_core.weights.check_recorded`) - and never
    downloaded.
    """
    if weights is not None:
        return fetch(official.spec(), path=weights, check=False)
    if official.verified:
        return fetch(official.spec())
    target = official.cache_path
    if target.is_file():
        return check_recorded(official.spec(), target, replace_hint=official.replace_hint)
    raise WeightsNotFoundError(
        f"weights for {official.metric!r} not found at {target}. The official file {official.filename} has no "
        f"published sha256, so it is not downloaded automatically: download it from {official.url} "
        f"(source: {official.source}), then run `iqa-metrics download {official.metric} --from FILE` to check its "
        f"key layout and copy it into the cache, or pass weights=PATH"
    )


def _numpy_safe_globals() -> list[Any]:
    """Numpy types that hold plain data (scalars, arrays, dtypes): safe to allow in ``weights_only`` loading.

    Official checkpoints saved numbers computed with numpy (LinearityIQA's ``k`` and ``b``).
    """
    import numpy as np

    allowed: list[Any] = [np.ndarray, np.dtype]
    core = getattr(np, "_core", None) or getattr(np, "core", None)
    multiarray = getattr(core, "multiarray", None)
    for name in ("scalar", "_reconstruct"):
        obj = getattr(multiarray, name, None)
        if obj is not None:
            allowed.append(obj)
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        allowed.extend(
            getattr(dtypes, n)
            for n in ("Float64DType", "Float32DType", "Int64DType", "Int32DType", "BoolDType")
            if hasattr(dtypes, n)
        )
    return allowed


@contextlib.contextmanager
def _allow_numpy() -> Iterator[None]:
    with torch.serialization.safe_globals(_numpy_safe_globals()):
        yield


def read_checkpoint(path: PathLike) -> Any:
    """``torch.load(weights_only=True)`` through :func:`iqa_core.weights.load_checkpoint`, numpy data allowed."""
    with _allow_numpy():
        return load_checkpoint(path, weights_only=True)


def extract_state_dict(
    checkpoint: Any, path: PathLike, *, keys: tuple[str, ...] = ("state_dict",)
) -> dict[str, Tensor]:
    """The tensor state_dict of a checkpoint: the object itself, or the first of ``keys`` it holds."""
    if isinstance(checkpoint, Mapping):
        for key in keys:
            inner = checkpoint.get(key)
            if isinstance(inner, Mapping):
                checkpoint = inner
                break
    if not isinstance(checkpoint, Mapping) or not checkpoint:
        raise ValueError(f"checkpoint {path} holds no state_dict (looked for a tensor dict or the keys {keys})")
    state = {str(k): v for k, v in checkpoint.items()}
    prefix = "module."
    if all(k.startswith(prefix) for k in state):  # saved from nn.DataParallel
        state = {k[len(prefix) :]: v for k, v in state.items()}
    bad = [k for k, v in state.items() if not isinstance(v, Tensor)]
    if bad:
        raise ValueError(f"checkpoint {path}: entries {bad[:5]} are not tensors; is this the right file?")
    return state


def layout_of(module: nn.Module) -> dict[str, tuple[int, ...]]:
    """``state_dict`` key -> shape of a module (the "key layout" of its checkpoints)."""
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def check_layout(state: Mapping[str, Tensor], expected: Mapping[str, tuple[int, ...]], *, what: str) -> None:
    """Raise ``ValueError`` naming missing, unexpected and mis-shaped keys unless the layouts match exactly."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k}: {tuple(state[k].shape)} != {tuple(expected[k])}"
        for k in expected
        if k in state and tuple(state[k].shape) != tuple(expected[k])
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (first: {missing[:3]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (first: {unexpected[:3]})")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches (first: {shapes[:3]})")
        raise ValueError(f"{what} does not have the official key layout: " + "; ".join(parts))


def load_into(module: nn.Module, state: Mapping[str, Tensor], *, what: str) -> None:
    """Check the layout, then ``load_state_dict(strict=True)`` (dtype converted to the module's)."""
    check_layout(state, layout_of(module), what=what)
    module.load_state_dict(dict(state), strict=True)


__all__ = [
    "check_layout",
    "extract_state_dict",
    "layout_of",
    "load_into",
    "read_checkpoint",
    "resolve_weights",
]
