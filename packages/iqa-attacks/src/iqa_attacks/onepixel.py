"""One Pixel attack (Su et al., 2019): differential evolution over ``pixels`` (x, y, r, g, b) tuples.

DE/rand/1 with scale ``F = 0.5`` and no crossover (as in the paper): every generation, each member
``i`` of the population gets a child ``p_r1 + F (p_r2 - p_r3)`` (three distinct others), clipped to
the valid ranges; the child replaces its parent when its loss is at least as high. Candidates are
applied by setting the chosen pixels to the chosen colours. Populations of all images are
evaluated together (batched in torch); ``popsize`` queries per image per generation, per-image
early stop. Restriction: L0 (at most ``pixels`` changed pixel positions), presets 10/20/40.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from iqa_core import Budget

from .base import BlackBoxAttack, QueryOracle, check_count, rand
from .calibration_spec import CalibrationSpec
from .loss import Direction


def apply_pixels(images: Tensor, candidates: Tensor) -> Tensor:
    """``images`` (M, 3, H, W) with the (x, y, r, g, b) rows of ``candidates`` (M, K, 5) painted in."""
    m, _, h, w = images.shape
    out = images.clone()
    xs = candidates[..., 0].round().long().clamp(0, w - 1)
    ys = candidates[..., 1].round().long().clamp(0, h - 1)
    rows = torch.arange(m, device=images.device)[:, None].expand_as(xs)
    colours = candidates[..., 2:5].clamp(0, 1).to(images.dtype)
    for ch in range(3):
        out[rows, ch, ys, xs] = colours[..., ch]
    return out


class OnePixel(BlackBoxAttack):
    """Differential-evolution pixel attack (see the module docstring)."""

    name = "onepixel"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "weak": {"pixels": 10},
        "medium": {"pixels": 20},
        "strong": {"pixels": 40},
    }
    default_preset = "medium"
    calibration = CalibrationSpec("pixels", 1, 60, "psnr", integer=True)

    def __init__(
        self,
        pixels: int = 20,
        max_queries: int = 1000,
        popsize: int = 20,
        scale: float = 0.5,
        direction: Direction = "up",
        stop_gain: float | None = None,
        target: float | None = None,
        batch_size: int = 64,
    ) -> None:
        pixels = check_count("pixels", pixels)
        super().__init__(
            Budget("l0", pixels),
            max_queries=max_queries,
            direction=direction,
            stop_gain=stop_gain,
            target=target,
            batch_size=batch_size,
        )
        self.pixels = pixels
        self.popsize = check_count("popsize", popsize, 4)
        if self.popsize * 2 > self.max_queries:
            raise ValueError(
                f"max_queries={self.max_queries} is too small for popsize={self.popsize}: need >= 2 x popsize"
            )
        if not 0 < scale <= 2:
            raise ValueError(f"scale must be in (0, 2], got {scale}")
        self.scale = float(scale)

    def _evaluate(self, oracle: QueryOracle, images: Tensor, index: Tensor, population: Tensor) -> Tensor:
        m, p = population.shape[:2]
        flat_index = index.repeat_interleave(p)
        chunk = max(1, oracle.batch_size // p) * p
        flat_pop = population.flatten(0, 1)
        local = torch.arange(m, device=images.device).repeat_interleave(p)
        out = []
        for start in range(0, m * p, chunk):
            rows = slice(start, start + chunk)
            src = images.index_select(0, local[rows])
            out.append(oracle.loss(apply_pixels(src, flat_pop[rows]), flat_index[rows]))
        return torch.cat(out).view(m, p)

    def search(self, oracle: QueryOracle, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        n, _, h, w = images.shape
        dev = images.device
        every = torch.arange(n, device=dev)
        clean = oracle.loss(images, every)
        stop = self.stop_threshold(oracle.metric, clean)
        p, k = self.popsize, self.pixels
        high = torch.tensor([w - 1, h - 1, 1.0, 1.0, 1.0], device=dev)
        population = rand((n, p, k, 5), generator, dev) * high
        fitness = self._evaluate(oracle, images, every, population)
        done = fitness.amax(1) >= stop
        while True:
            active = (~done & (oracle.queries + p <= self.max_queries)).nonzero().flatten()
            if active.numel() == 0:
                break
            m = active.numel()
            picks = rand((m, p, p - 1), generator, dev).argsort(2)[..., :3]
            own = torch.arange(p, device=dev).view(1, p, 1)
            picks = picks + (picks >= own).long()  # skip the member itself
            pop = population[active]
            gather = pop[torch.arange(m, device=dev).view(m, 1, 1), picks]  # (m, p, 3, k, 5)
            child = gather[:, :, 0] + self.scale * (gather[:, :, 1] - gather[:, :, 2])
            child = torch.minimum(child.clamp_min(0), high)
            child_fit = self._evaluate(oracle, images[active], active, child)
            keep = child_fit >= fitness[active]
            population[active] = torch.where(keep[..., None, None], child, pop)
            fitness[active] = torch.where(keep, child_fit, fitness[active])
            done[active] = fitness[active].amax(1) >= stop[active]
        best = population[every, fitness.argmax(1)]
        adv = apply_pixels(images, best)
        improved = fitness.amax(1) > clean
        return torch.where(improved.view(-1, 1, 1, 1), adv, images)
