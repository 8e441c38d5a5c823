"""Attacks, metrics and full-reference measures come from the registry only (never by import).

A missing plugin raises :class:`MissingComponentError` that names the package to install (the
registry knows which package provides each name of the papers' catalogue).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

import iqa_core
from iqa_core import ComponentNotFoundError
from iqa_core import measures as core_measures

PROVIDERS = {"attack": "iqa-attacks", "metric": "iqa-metrics", "measure": "iqa-metrics", "defence": "iqa-purify"}


class MissingComponentError(LookupError):
    """A component needed for training is not installed."""


@dataclass(frozen=True)
class ComponentSpec:
    """A registry component: ``name``, optional ``preset`` and parameter overrides."""

    name: str
    preset: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any, what: str) -> ComponentSpec:
        """From a name or a mapping ``{name, preset, params}``."""
        if isinstance(value, ComponentSpec):
            return value
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, Mapping):
            unknown = set(value) - {"name", "preset", "params"}
            if unknown:
                raise ValueError(f"{what}: unknown keys {sorted(unknown)}; use name, preset, params")
            if not isinstance(value.get("name"), str):
                raise ValueError(f"{what}: 'name' (a registry name) is required")
            params = value.get("params") or {}
            if not isinstance(params, Mapping):
                raise ValueError(f"{what}: 'params' must be a mapping, got {type(params).__name__}")
            preset = value.get("preset")
            if preset is not None and not isinstance(preset, str):
                raise ValueError(f"{what}: 'preset' must be a string")
            return cls(value["name"], preset, dict(params))
        raise ValueError(f"{what}: expected a registry name or a mapping with 'name', got {type(value).__name__}")


def create(kind: str, spec: ComponentSpec | str, purpose: str, **extra: Any) -> Any:
    """``iqa_core.create(kind, name, preset, **params)`` with an error saying what needed it."""
    spec = ComponentSpec.parse(spec, purpose)
    params = {**dict(spec.params), **extra}
    try:
        return iqa_core.create(kind, spec.name, spec.preset, **params)
    except ComponentNotFoundError as error:
        provider = PROVIDERS.get(kind, "the package that provides it")
        raise MissingComponentError(
            f"{purpose} needs the {kind} {spec.name!r} from the registry, which is not available: {error} "
            f"(the {kind}s of the papers come with `pip install {provider}`)"
        ) from error


Measure = Callable[[Tensor, Tensor], Tensor]


def one_minus_ssim(reference: Tensor, distorted: Tensor) -> Tensor:
    """``1 - SSIM`` per image (iqa_core's SSIM: 11x11 Gaussian window, sigma 1.5)."""
    return 1.0 - core_measures.ssim(reference, distorted)


def no_change(reference: Tensor, distorted: Tensor) -> Tensor:
    """``M = 0``: attacked images keep the clean MOS."""
    return torch.zeros(reference.shape[0], device=reference.device, dtype=reference.dtype)


def distance_measure(name: str, device: torch.device) -> Measure:
    """The distance ``M(x, x')`` of the MOS adjustment: ``ssim`` (1 - SSIM), ``lpips`` (registry) or ``none``."""
    key = name.strip().lower()
    if key in ("ssim", "1-ssim"):
        return one_minus_ssim
    if key == "none":
        return no_change
    if key in ("lpips", "dists"):
        fr = create("measure", key, f"the MOS adjustment M = {key.upper()}", device=str(device))
        if hasattr(fr, "eval"):
            fr.eval()
        higher = bool(getattr(fr, "higher_is_better", False))

        def measure(reference: Tensor, distorted: Tensor) -> Tensor:
            value = fr(reference, distorted).float().flatten()
            return 1.0 - value if higher else value

        return measure
    raise ValueError(f"unknown MOS-adjustment measure {name!r}; use ssim, lpips, dists or none")
