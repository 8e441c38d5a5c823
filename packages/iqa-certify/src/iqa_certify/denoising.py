"""Denoisers for denoised smoothing, taken from the registry (group ``iqa.denoisers``) or given as objects.

iqa-certify never imports the package that provides denoisers (iqa-purify): a certifier takes
either a :class:`iqa_core.Denoiser` object (anything callable as
``denoiser(noisy, sigma, *, generator=None) -> images``) or a registry name, resolved on first
use so that building a certifier never fails for a missing plugin.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

import iqa_core
from iqa_core import ComponentNotFoundError

DenoiserFn = Callable[..., Tensor]
DenoiserLike = str | DenoiserFn


class DenoiserNotAvailableError(LookupError):
    """A certifier's denoiser is not installed (it is provided by iqa-purify)."""


def resolve_denoiser(
    denoiser: DenoiserLike,
    *,
    certifier: str,
    preset: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> DenoiserFn:
    """The denoiser object for ``denoiser`` (a registry name or an object, returned as is).

    A denoiser built from the registry is put in ``eval()`` mode when it is a module (it belongs
    to the certifier); an object passed in is left as it is.
    """
    if isinstance(denoiser, str):
        try:
            obj = iqa_core.create("denoiser", denoiser, preset=preset, **dict(params or {}))
        except ComponentNotFoundError as error:
            raise DenoiserNotAvailableError(
                f"certifier {certifier!r} needs the denoiser {denoiser!r} from the registry (entry-point group "
                f"'iqa.denoisers'); denoisers are provided by the package iqa-purify: install it with "
                f"`pip install iqa-purify`, or pass denoiser=<an object callable as "
                f"denoiser(noisy, sigma, *, generator=None)>. The registry said: {error}"
            ) from error
        if isinstance(obj, nn.Module):
            obj.eval()
        return obj
    if not callable(denoiser):
        raise TypeError(
            f"certifier {certifier!r}: denoiser must be a registry name or a callable "
            f"denoiser(noisy, sigma, *, generator=None), got {type(denoiser).__name__}"
        )
    return denoiser


def run_denoiser(denoiser: DenoiserFn, noisy: Tensor, sigma: float, generator: torch.Generator) -> Tensor:
    """Apply ``denoiser`` and check that it kept the batch shape."""
    out = denoiser(noisy, sigma, generator=generator)
    if not isinstance(out, Tensor) or out.shape != noisy.shape:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"the denoiser returned {shape} for noisy images of shape {tuple(noisy.shape)}")
    return out


def denoiser_name(denoiser: DenoiserLike) -> str:
    """A readable name for a denoiser given as a name or an object."""
    if isinstance(denoiser, str):
        return denoiser
    return str(getattr(denoiser, "name", type(denoiser).__name__))


__all__ = ["DenoiserLike", "DenoiserNotAvailableError", "denoiser_name", "resolve_denoiser", "run_denoiser"]
