"""The purification the benchmark's DensePure ran: a few respaced reverse-diffusion steps, one sample.

The benchmark's certified code (katiashh/certified-iqa-defenses, ``DensePure-master/calc_dp_*.py``,
``num_t_steps = 2``) purifies each noisy sample ``x + noise`` (not clipped) once:

1. ``x_T = s * (2 (x + noise) - 1)`` with ``s = 1 / sqrt(1 + (2 sigma)^2)``, and ``T`` the timestep
   whose ``sqrt(1 / a_bar - 1)`` is closest to ``2 sigma`` (ties: the smaller timestep);
2. the DDPM chain respaced to the timesteps ``[T, round(T / 2)]`` (Python's ``round``, halves to
   even) and 0: respaced ``beta_i = min(1 - a_bar[t_{i+1}] / a_bar[t_i], 0.999)`` over
   ``0, round(T / 2), T`` (``a_bar[0]`` is the first cumulative product, not 1), posterior
   mean and learned-range variance from those betas, the UNet evaluated at the original
   timestep, the predicted ``x_0`` clipped to [-1, 1]; noise is added at every step but the last;
3. the result is mapped back with ``(x + 1) / 2`` and given to the metric (no clipping).

:func:`densepure_reverse` does the same on any diffusion module that exposes ``unet`` (called as
``unet(x, timesteps)``, output ``.sample`` or a tensor; 6 output channels = eps + variance
values, 3 = eps with the fixed-small variance), ``alphas_cumprod`` and, optionally, ``tiled(fn,
images)`` (iqa-purify's :class:`~iqa_purify.diffusion_denoiser.MultiStepDiffusionDenoiser` does).
Randomness comes from ``generator``; the reference instead keeps one torch RNG stream seeded with
0 across all calls, so the two agree in distribution, not sample by sample.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor


def densepure_timestep(alphas_cumprod: Tensor, sigma: float) -> int:
    """The timestep whose ``sqrt(1 / a_bar - 1)`` is closest to ``2 sigma`` (ties: the smaller one)."""
    ratio = (1.0 / alphas_cumprod.double() - 1.0).sqrt()
    return int((ratio - 2.0 * float(sigma)).abs().argmin())


def respaced_timesteps(start: int, steps: int) -> list[int]:
    """``[round(start - i * start / steps) for i in range(steps)]`` (the reference's indices)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    inter = start / steps
    return [round(start - i * inter) for i in range(steps)]


def _unet_output(unet: Any, x: Tensor, t: int) -> Tensor:
    timesteps = torch.full((x.shape[0],), int(t), device=x.device, dtype=torch.long)
    out = unet(x, timesteps)
    return out.sample if hasattr(out, "sample") else out


def respaced_reverse(
    unet: Any, alphas_cumprod: Tensor, x: Tensor, timesteps: list[int], generator: torch.Generator | None
) -> Tensor:
    """Reverse diffusion of ``x`` (at ``timesteps[0]``) through ``timesteps`` and 0; see the module docstring."""
    a = alphas_cumprod.double().cpu()
    chain = [0, *reversed(timesteps)]  # ascending: 0, t_k, ..., t_1
    betas = [min(1.0 - float(a[chain[i + 1]] / a[chain[i]]), 0.999) for i in range(len(chain) - 1)]
    b = torch.tensor(betas, dtype=torch.float64)
    acp = torch.cumprod(1.0 - b, 0)
    acp_prev = torch.cat([torch.ones(1, dtype=torch.float64), acp[:-1]])
    post_var = b * (1.0 - acp_prev) / (1.0 - acp)
    log_var_clipped = torch.log(torch.cat([post_var[1:2], post_var[1:]])) if len(b) > 1 else torch.log(b)
    coef1 = b * acp_prev.sqrt() / (1.0 - acp)
    coef2 = (1.0 - acp_prev) * (1.0 - b).sqrt() / (1.0 - acp)
    for i, real_t in enumerate(timesteps):
        k = len(timesteps) - 1 - i  # index in the respaced chain
        out = _unet_output(unet, x, real_t)
        eps = out[:, :3]
        x0 = (x / math.sqrt(float(acp[k])) - math.sqrt(1.0 / float(acp[k]) - 1.0) * eps).clamp(-1.0, 1.0)
        mean = float(coef1[k]) * x0 + float(coef2[k]) * x
        if out.shape[1] >= 6:
            frac = (out[:, 3:6] + 1) / 2
            log_var = frac * math.log(float(b[k])) + (1 - frac) * float(log_var_clipped[k])
        else:  # fixed-small variance
            log_var = torch.full_like(x, float(log_var_clipped[k]))
        noise = torch.randn(x.shape, generator=generator, device=_draw_device(generator, x.device)).to(x)
        x = mean + (0.0 if k == 0 else 1.0) * torch.exp(0.5 * log_var) * noise
    return x


def _draw_device(generator: torch.Generator | None, device: torch.device) -> torch.device:
    return generator.device if generator is not None else device


def densepure_reverse(
    diffusion: Any, noisy: Tensor, sigma: float, steps: int, generator: torch.Generator | None = None
) -> Tensor:
    """The benchmark's DensePure purification of ``noisy`` (images + noise, [0, 1] scale) with ``steps`` steps."""
    alphas_cumprod = diffusion.alphas_cumprod
    start = densepure_timestep(alphas_cumprod, sigma)
    timesteps = respaced_timesteps(start, steps)
    scale = 1.0 / math.sqrt(1.0 + (2.0 * float(sigma)) ** 2)

    def run(tiles: Tensor) -> Tensor:
        x = respaced_reverse(diffusion.unet, alphas_cumprod, scale * (2 * tiles - 1), timesteps, generator)
        return (x + 1) / 2

    tiled = getattr(diffusion, "tiled", None)
    return tiled(run, noisy) if callable(tiled) else run(noisy)


def is_diffusion_module(obj: Any) -> bool:
    """True for objects :func:`densepure_reverse` can drive (a ``unet`` and ``alphas_cumprod``)."""
    return hasattr(obj, "unet") and isinstance(getattr(obj, "alphas_cumprod", None), Tensor)


__all__ = ["densepure_reverse", "densepure_timestep", "is_diffusion_module", "respaced_reverse", "respaced_timesteps"]
