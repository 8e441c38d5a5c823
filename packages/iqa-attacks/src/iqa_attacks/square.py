"""Square Attack (Andriushchenko et al., 2020), Linf: random search with square-shaped updates.

Initialisation with vertical stripes of ``+-eps``; every iteration, each image draws a square
window (side ``round(sqrt(p * H * W))``, ``p`` halved on the schedule of the paper, rescaled to
``max_queries``) and sets it to ``+-eps`` per channel around the source; the candidate is kept
when it raises the loss. One query per image per iteration; images stop early (see
:class:`~iqa_attacks.base.BlackBoxAttack`). Candidates identical to the current best inside the
window are redrawn (up to 10 times, vectorised) instead of the reference code's unbounded loop.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from iqa_core import Budget

from .base import BlackBoxAttack, QueryOracle, check_positive, per_image, rand, randint
from .calibration_spec import CalibrationSpec
from .loss import Direction


def p_schedule(p_init: float, iteration: int, total: int) -> float:
    """Square attack's fraction of pixels changed per step, halved on the paper's 10,000-step schedule."""
    it = int(iteration / max(total, 1) * 10000)
    for bound, div in (
        (10, 1),
        (50, 2),
        (200, 4),
        (500, 8),
        (1000, 16),
        (2000, 32),
        (4000, 64),
        (6000, 128),
        (8000, 256),
    ):
        if it <= bound:
            return p_init / div
    return p_init / 512


def window_mask(top: Tensor, left: Tensor, size: int | Tensor, h: int, w: int) -> Tensor:
    """``(N, 1, H, W)`` bool mask of the squares ``[top, top + size) x [left, left + size)``."""
    size_t = torch.as_tensor(size, device=top.device).expand_as(top)
    rows = torch.arange(h, device=top.device)
    cols = torch.arange(w, device=top.device)
    in_rows = (rows[None] >= top[:, None]) & (rows[None] < (top + size_t)[:, None])
    in_cols = (cols[None] >= left[:, None]) & (cols[None] < (left + size_t)[:, None])
    return (in_rows[:, :, None] & in_cols[:, None, :]).unsqueeze(1)


def random_signs(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    return torch.where(rand(shape, generator, device) < 0.5, -1.0, 1.0)


class Square(BlackBoxAttack):
    """Score-based Square Attack within an Linf ball (see the module docstring)."""

    name = "square"
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
        p_init: float = 0.05,
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
        if not 0 < p_init <= 1:
            raise ValueError(f"p_init must be in (0, 1], got {p_init}")
        self.p_init = float(p_init)

    def search(self, oracle: QueryOracle, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        n, c, h, w = images.shape
        dev = images.device
        every = torch.arange(n, device=dev)
        clean = oracle.loss(images, every)
        stop = self.stop_threshold(oracle.metric, clean)
        best = (images + self.eps * random_signs((n, c, 1, w), generator, dev)).clamp(0, 1)
        best_loss = oracle.loss(best, every)
        done = best_loss >= stop
        for i in range(self.max_queries - 2):
            active = (~done & (oracle.queries < self.max_queries)).nonzero().flatten()
            if active.numel() == 0:
                break
            x, cur = images[active], best[active]
            m = active.numel()
            side = max(1, min(round((p_schedule(self.p_init, i, self.max_queries - 2) * h * w) ** 0.5), h - 1, w - 1))
            top = randint(h - side + 1, (m,), generator, dev)
            left = randint(w - side + 1, (m,), generator, dev)
            mask = window_mask(top, left, side, h, w)
            values = self.eps * random_signs((m, c, 1, 1), generator, dev)
            for _ in range(10):
                candidate_window = (x + values).clamp(0, 1)
                same = ((candidate_window - cur).abs() < 1e-7) | ~mask
                unchanged = same.flatten(1).all(1)
                if not bool(unchanged.any()):
                    break
                redraw = self.eps * random_signs((m, c, 1, 1), generator, dev)
                values = torch.where(per_image(unchanged, values), redraw, values)
            candidate = torch.where(mask, (x + values).clamp(0, 1), cur)
            loss = oracle.loss(candidate, active)
            better = loss > best_loss[active]
            best[active] = torch.where(per_image(better, candidate), candidate, cur)
            best_loss[active] = torch.where(better, loss, best_loss[active])
            done[active] = best_loss[active] >= stop[active]
        return best
