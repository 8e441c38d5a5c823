"""NES attack (Ilyas et al., 2018), Linf: PGD on a gradient estimated by natural evolution strategies.

Each step estimates the gradient from ``n_samples`` queries with antithetic Gaussian pairs,
``g = 1 / (n sigma) * sum_i [L(x + sigma u_i) - L(x - sigma u_i)] u_i``, then takes a signed step
of ``alpha`` projected onto the Linf ball and [0, 1]; one more query scores the new point (per-image
early stop, and the best point seen is returned). Queries count per image.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from iqa_core import Budget

from .base import BlackBoxAttack, QueryOracle, check_count, check_positive, per_image, project_linf, randn
from .calibration_spec import CalibrationSpec
from .loss import Direction


class NES(BlackBoxAttack):
    """Query-limited NES attack with antithetic sampling (see the module docstring)."""

    name = "nes"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "weak": {"eps": 2 / 255},
        "medium": {"eps": 4 / 255},
        "strong": {"eps": 8 / 255},
    }
    default_preset = "medium"
    calibration = CalibrationSpec("eps", 1 / 255, 10 / 255, "linf", budget_param="eps")

    def __init__(
        self,
        eps: float = 4 / 255,
        max_queries: int = 1000,
        n_samples: int = 20,
        sigma: float = 1e-3,
        alpha: float | None = None,
        direction: Direction = "up",
        stop_gain: float | None = None,
        target: float | None = None,
        batch_size: int = 64,
    ) -> None:
        super().__init__(
            Budget("linf", check_positive("eps", eps)),
            max_queries=max_queries,
            direction=direction,
            stop_gain=stop_gain,
            target=target,
            batch_size=batch_size,
        )
        self.eps = float(eps)
        n_samples = check_count("n_samples", n_samples, 2)
        if n_samples % 2:
            raise ValueError(f"n_samples must be even (antithetic pairs), got {n_samples}")
        if n_samples + 2 > self.max_queries:
            raise ValueError(f"max_queries={self.max_queries} leaves no room for one step of n_samples={n_samples}")
        self.n_samples = n_samples
        self.sigma = check_positive("sigma", sigma)
        self.alpha = check_positive("alpha", alpha) if alpha is not None else self.eps / 5

    def search(self, oracle: QueryOracle, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        n = images.shape[0]
        dev = images.device
        every = torch.arange(n, device=dev)
        clean = oracle.loss(images, every)
        stop = self.stop_threshold(oracle.metric, clean)
        x, best, best_loss = images.clone(), images.clone(), clean.clone()
        done = best_loss >= stop
        half = self.n_samples // 2
        while True:
            active = (~done & (oracle.queries + self.n_samples + 1 <= self.max_queries)).nonzero().flatten()
            if active.numel() == 0:
                break
            m = active.numel()
            xa = x[active]
            u = randn((m, half, *images.shape[1:]), generator, dev)
            probes = torch.cat([xa[:, None] + self.sigma * u, xa[:, None] - self.sigma * u], 1).clamp(0, 1)
            index = active.repeat_interleave(self.n_samples)
            losses = oracle.loss(probes.flatten(0, 1), index).view(m, self.n_samples)
            diff = losses[:, :half] - losses[:, half:]
            grad = (diff.view(m, half, 1, 1, 1) * u).sum(1) / (self.n_samples * self.sigma)
            xa = project_linf(xa + self.alpha * grad.sign(), images[active], self.eps)
            x[active] = xa
            loss = oracle.loss(xa, active)
            better = loss > best_loss[active]
            best[active] = torch.where(per_image(better, xa), xa, best[active])
            best_loss[active] = torch.where(better, loss, best_loss[active])
            done[active] = best_loss[active] >= stop[active]
        return best
