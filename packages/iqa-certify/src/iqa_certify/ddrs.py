"""DDRS: diffusion denoised smoothing (Carlini et al., ICLR 2023)."""

from __future__ import annotations

from typing import ClassVar

from .drs import DRS


class DDRS(DRS):
    """Denoised smoothing with a one-step diffusion denoiser (Carlini et al., 2023).

    Identical to :class:`~iqa_certify.drs.DRS` except for the default denoiser, the registry's
    ``"diffusion-one-step"`` (iqa-purify): it maps ``x + noise`` to the diffusion timestep whose
    noise level matches ``2 * sigma`` (images scaled to [-1, 1]) and takes one denoising step.
    That logic belongs to the denoiser; any registry name or denoiser object can replace it.
    """

    name: ClassVar[str] = "ddrs"
    default_denoiser: ClassVar[str] = "diffusion-one-step"


__all__ = ["DDRS"]
