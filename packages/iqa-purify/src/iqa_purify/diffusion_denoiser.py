"""Diffusion denoisers for denoised smoothing: one step (Carlini et al., 2023) and multi-step (DensePure)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from iqa_core import check_images

from ._common import PathLike
from .diffpure import DiffusionModule
from .guided_diffusion import model_output


def matching_timestep(alphas_cumprod: Tensor, sigma: float, rule: str = "first-reaching") -> int:
    """The first timestep ``t >= 1`` whose noise-to-signal ratio ``sqrt((1 - a_bar) / a_bar)`` reaches ``2 sigma``.

    Images in [0, 1] with noise sigma become images in [-1, 1] with noise ``2 sigma`` (the catalogue's
    "noise level matches 2 sigma"); ``x_t = sqrt(a_bar) * (2 x_noisy - 1)`` then carries the
    forward-process noise of (about) that timestep. The rule is that of Carlini et al.'s official
    code, which the benchmark's certified DDRS scripts copy: ``t = 0; while ratio[t] < 2 sigma:
    t += 1`` (so the ratio at ``t`` is the first one >= 2 sigma, not the closest one; they differ
    by one step at sigma = 0.25 and 0.5). The last timestep when none reaches ``2 sigma``.
    ``rule="closest"``: DensePure's rule (the benchmark's ``DensePure-master/calc_*_dp_*.py``), the
    timestep whose ratio is closest to ``2 sigma``, the smaller one on ties.
    """
    ratio = ((1 - alphas_cumprod) / alphas_cumprod).sqrt()
    if rule == "closest":
        return int((ratio - 2 * float(sigma)).abs().argmin())
    if rule != "first-reaching":
        raise ValueError(f"rule must be 'first-reaching' or 'closest', got {rule!r}")
    reached = torch.nonzero(ratio[1:] >= 2 * float(sigma))
    return int(reached[0, 0]) + 1 if len(reached) else len(ratio) - 1


class OneStepDiffusionDenoiser(DiffusionModule):
    """Denoiser: scale to the matching timestep, predict the noise once, return the x0 estimate (DDRS).

    ``x_t = sqrt(a_bar_t) (2 x_noisy - 1)``, ``x0 = (x_t - sqrt(1 - a_bar_t) eps(x_t, t)) / sqrt(a_bar_t)``,
    clipped to [-1, 1] and mapped back to [0, 1]. Deterministic. Same model options and tiling as
    :class:`~iqa_purify.diffpure.DiffPure` (a diffusers ``UNet2DModel`` directory, a guided-diffusion
    checkpoint, or ``unet=``); for 6-channel (learned-variance) models the first 3 channels are eps.
    """

    name = "diffusion-one-step"
    randomized = False

    def __init__(self, model: PathLike | None = None, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)

    timestep_rule = "first-reaching"  # Carlini et al. / the benchmark's DDRS

    def timestep(self, sigma: float) -> int:
        alphas = getattr(self.scheduler, "alphas_cumprod", None)
        alphas = (alphas if isinstance(alphas, Tensor) else self.alphas_cumprod).double()
        return matching_timestep(alphas, sigma, self.timestep_rule)

    def forward(self, noisy: Tensor, sigma: float, *, generator: torch.Generator | None = None) -> Tensor:
        check_images(noisy, what="noisy", check_range=False)
        t = self.timestep(sigma)
        a = self.alphas_cumprod[t].to(noisy.dtype)

        def run(tiles: Tensor) -> Tensor:
            x_t = a.sqrt() * (2 * tiles - 1)
            eps = model_output(self.unet, x_t, t)[:, :3]
            x0 = ((x_t - (1 - a).sqrt() * eps) / a.sqrt()).clamp(-1, 1)
            return (x0 + 1) / 2

        return self.tiled(run, noisy).clamp(0, 1)


class MultiStepDiffusionDenoiser(OneStepDiffusionDenoiser):
    """Denoiser for DensePure: from the timestep closest to 2 sigma (its rule), the DDPM reverse chain to 0.

    Each call is one reverse-diffusion sample; DensePure calls it with different seeds and takes a
    majority vote of the metric's classes (done by the certifier).
    """

    name = "diffusion-reverse"
    randomized = True
    timestep_rule = "closest"  # DensePure

    def forward(self, noisy: Tensor, sigma: float, *, generator: torch.Generator | None = None) -> Tensor:
        check_images(noisy, what="noisy", check_range=False)
        t = self.timestep(sigma)
        a = self.alphas_cumprod[t].to(noisy.dtype)

        def run(tiles: Tensor) -> Tensor:
            return (self.reverse(a.sqrt() * (2 * tiles - 1), t, generator) + 1) / 2

        return self.tiled(run, noisy).clamp(0, 1)
