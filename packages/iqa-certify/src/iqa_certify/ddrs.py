"""DDRS: diffusion denoised smoothing (Carlini et al., ICLR 2023)."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import classification_presets
from .drs import DRS


class DDRS(DRS):
    """Denoised smoothing with a one-step diffusion denoiser (Carlini et al., 2023).

    Identical to :class:`~iqa_certify.drs.DRS` except for the default denoiser, the registry's
    ``"diffusion-one-step"`` (iqa-purify): it maps ``x + noise`` to the first diffusion timestep
    whose noise ratio ``sqrt((1 - a_t) / a_t)`` reaches ``2 * sigma`` (images scaled to [-1, 1];
    the loop of Carlini et al.'s code, which the benchmark's DDRS scripts copy) and takes one
    denoising step.
    That logic belongs to the denoiser; any registry name or denoiser object can replace it.

    The ``paper`` preset resizes every image to 256x256 before certifying (``image_size=256``)
    and does not clip the noisy samples, as the benchmark's DDRS script
    (``ccrf/calc_ddrs_*.py``: ``cv2.resize(im, (256, 256))``; the noise enters through the
    diffusion's ``q_sample``, unclipped) does; ``paper-native`` certifies at native size.
    """

    name: ClassVar[str] = "ddrs"
    default_denoiser: ClassVar[str] = "diffusion-one-step"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        **classification_presets(image_size=256),
        "paper-native": classification_presets()["paper"],
    }


__all__ = ["DDRS"]
