"""DiffPure (Nie et al., 2022) with a diffusers UNet and DDPM scheduler."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ._common import PathLike, freeze, randn
from .base import PurificationDefence
from .guided_diffusion import GuidedDiffusionConfig, load_diffusion_model, model_output
from .tiling import run_tiled

T_VALUES = (5, 10, 20, 30, 50)


class DiffusionModule(nn.Module):
    """Shared holder of a diffusion UNet + DDPM scheduler with tiled, batched execution.

    ``model``: a diffusers ``UNet2DModel`` directory, an official guided-diffusion ``.pt`` file, or
    ``None`` for ``256x256_diffusion_uncond.pt`` (weights=PATH needed, see
    :mod:`iqa_purify.guided_diffusion`). ``unet``/``scheduler`` inject already-built objects.
    ``tile``: the tile side (default: the UNet's ``sample_size``); ``overlap``: pixels shared by
    neighbouring tiles.
    """

    alphas_cumprod: Tensor  # registered buffer

    def __init__(
        self,
        model: PathLike | None = None,
        *,
        unet: Any = None,
        scheduler: Any = None,
        config: GuidedDiffusionConfig | None = None,
        check_hash: bool = True,
        tile: int | None = None,
        overlap: int = 32,
        tile_batch: int = 8,
    ) -> None:
        super().__init__()
        if unet is None:
            unet, loaded_scheduler = load_diffusion_model(model, check_hash=check_hash, config=config)
            scheduler = scheduler or loaded_scheduler
        if scheduler is None:
            from .guided_diffusion import default_scheduler

            scheduler = default_scheduler(int(getattr(getattr(unet, "config", None), "out_channels", 3)))
        self.unet = unet
        if isinstance(unet, torch.nn.Module):
            freeze(unet)
        betas = getattr(scheduler, "betas", None)
        if isinstance(betas, Tensor):
            # guided-diffusion computes its schedule in float64 (numpy). diffusers' float32 cumprod loses
            # up to ~1e-3 relative accuracy in 1 - a_bar and in the posterior coefficients at small t (the
            # DiffPure regime: every step then differs from guided-diffusion's p_sample by ~1e-4).
            scheduler.alphas_cumprod = torch.cumprod(1 - betas.double(), dim=0)
        self.scheduler = scheduler
        cfg = getattr(unet, "config", None)
        sample = getattr(cfg, "sample_size", None) or 256
        self.tile = int(tile or (sample if isinstance(sample, int) else min(sample)))
        self.multiple = 2 ** (len(getattr(cfg, "block_out_channels", (0,))) - 1)
        if overlap < 0 or overlap >= self.tile:
            raise ValueError(f"overlap must be in [0, tile={self.tile}), got {overlap}")
        self.overlap = int(overlap)
        self.tile_batch = int(tile_batch)
        alphas = scheduler.alphas_cumprod.to(torch.float64)
        self.register_buffer("alphas_cumprod", alphas.float(), persistent=False)

    @property
    def num_train_timesteps(self) -> int:
        return int(self.scheduler.config.num_train_timesteps)

    def noise_to(self, x: Tensor, t: int, generator: torch.Generator | None) -> Tensor:
        """``x`` in [-1, 1] diffused to timestep index ``t`` (``q(x_t | x_0)``)."""
        a = self.alphas_cumprod[t].to(x.dtype)
        return a.sqrt() * x + (1 - a).sqrt() * randn(tuple(x.shape), generator, x.device).to(x.dtype)

    def reverse(self, x: Tensor, start: int, generator: torch.Generator | None) -> Tensor:
        """DDPM ancestral sampling from timestep ``start`` down to 0 (``p_sample`` of guided-diffusion)."""
        for step in range(start, -1, -1):
            out = model_output(self.unet, x, step)
            x = self.scheduler.step(out, step, x, generator=generator).prev_sample
        return x

    def tiled(self, fn: Any, images: Tensor) -> Tensor:
        return run_tiled(
            fn, images, tile=self.tile, overlap=self.overlap, multiple=self.multiple, tile_batch=self.tile_batch
        )


class DiffPure(DiffusionModule, PurificationDefence):
    """DiffPure: diffuse the image to step ``t`` and run the DDPM reverse process back; t presets 5 (default) ... 50.

    As DiffPure's guided-diffusion runner (``diffusion.type=ddpm, sample_step=1``): images scaled to
    [-1, 1], ``x_t = sqrt(a_bar[t-1]) x + sqrt(1 - a_bar[t-1]) eps``, then ``t`` ancestral steps
    ``t-1, ..., 0`` with the learned-range variance (diffusers ``DDPMScheduler`` on guided-diffusion's
    float64 schedule, predicted x0 clipped to [-1, 1]). The benchmark's wrapper (``SDE_Adv_Model``)
    resizes every image bilinearly to 256x256 and back, and runs the UNet in fp16 under
    ``torch.no_grad``; here images larger than the model are processed in overlapping tiles at native
    resolution and smaller ones whole (padded to the UNet's down-sampling factor), in the UNet's own
    precision. Randomized (noise from ``generator``) and differentiable (backpropagating through all
    ``t`` UNet calls: memory grows with ``t``).
    Weakest preset = fewest steps.
    """

    name = "diffpure"
    differentiable = True
    randomized = True
    presets: ClassVar[dict[str, dict[str, Any]]] = {f"t{t}": {"t": t} for t in T_VALUES}
    default_preset = "t5"

    def __init__(self, t: int = 5, model: PathLike | None = None, **kwargs: Any) -> None:
        super().__init__(model, **kwargs)
        if not 1 <= int(t) <= self.num_train_timesteps:
            raise ValueError(f"t must be in 1..{self.num_train_timesteps}, got {t}")
        self.t = int(t)

    def diffpure(self, images: Tensor, generator: torch.Generator | None) -> Tensor:
        """The DiffPure output in [0, 1] (before any add-on)."""

        def run(tiles: Tensor) -> Tensor:
            x = self.noise_to(tiles * 2 - 1, self.t - 1, generator)
            return (self.reverse(x, self.t - 1, generator) + 1) / 2

        return self.tiled(run, images).clamp(0, 1)

    def purify(self, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        return self.diffpure(images, generator)

    def extra_repr(self) -> str:
        return f"t={self.t}, tile={self.tile}, overlap={self.overlap}"
