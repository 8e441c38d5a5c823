"""Shared machinery of the attacks: input checks, gradients of the loss, projections, query oracles."""

from __future__ import annotations

import abc
import math
from typing import Any, ClassVar

import torch
from torch import Tensor

from iqa_core import Budget, Metric, Threat, check_images, require_metric

from .loss import Direction, attack_loss


def check_direction(direction: str) -> Direction:
    if direction not in ("up", "down"):
        raise ValueError(f"direction must be 'up' or 'down', got {direction!r}")
    return direction  # type: ignore[return-value]


def check_positive(name: str, value: float) -> float:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be > 0, got {value}")
    return float(value)


def check_count(name: str, value: int, minimum: int = 1) -> int:
    if int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def rand(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Uniform [0, 1) draws from ``generator`` (on its own device), moved to ``device``."""
    gen_device = generator.device if generator is not None else device
    return torch.rand(shape, generator=generator, device=gen_device).to(device)


def randn(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Standard normal draws from ``generator`` (on its own device), moved to ``device``."""
    gen_device = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=gen_device).to(device)


def randint(
    high: Tensor | int, shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device
) -> Tensor:
    """Integers in ``[0, high)`` (``high`` broadcast against ``shape``) from ``generator``."""
    return (rand(shape, generator, device) * high).floor().long().clamp_min(0)


class WhiteBoxAttack(abc.ABC):
    """Base of gradient attacks. Subclasses implement :meth:`perturb` on a validated batch."""

    name: ClassVar[str] = "white-box"
    threat = Threat.WHITE_BOX
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    default_preset: ClassVar[str | None] = None

    def __init__(self, budget: Budget, direction: Direction = "up") -> None:
        self.budget = budget
        self.direction: Direction = check_direction(direction)

    def __call__(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        require_metric(metric, where=f"attack {self.name!r}")  # a bare nn.Module: the error names as_metric
        check_images(images)
        if not getattr(metric, "differentiable", True):
            raise ValueError(
                f"{self.name} needs gradients but metric {metric.name!r} is not differentiable; "
                "use a black-box attack (nes, square, ...) instead"
            )
        adv = self.perturb(metric, images.detach(), generator=generator)
        return adv.detach().clamp_(0, 1)

    @abc.abstractmethod
    def perturb(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        """Return the adversarial batch for a validated, detached ``images``."""

    def loss_and_grad(self, metric: Metric, x: Tensor) -> tuple[Tensor, Tensor]:
        """Per-image loss (detached) and its gradient w.r.t. ``x`` (not the metric's parameters)."""
        x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            loss = attack_loss(metric, metric(x), self.direction)
            (grad,) = torch.autograd.grad(loss.sum(), x)
        return loss.detach(), grad

    def __repr__(self) -> str:
        return f"{type(self).__name__}(budget={self.budget}, direction={self.direction!r})"


def optimiser_step(optimiser: torch.optim.Optimizer, loss: Tensor) -> None:
    """One step of ``optimiser`` on ``loss``, with gradients w.r.t. its own parameters only.

    ``loss.backward()`` would also fill ``.grad`` of every metric parameter: wasted backward work
    (weight gradients of every layer) and a side effect on the caller's model.
    """
    params = [p for group in optimiser.param_groups for p in group["params"]]
    optimiser.zero_grad(set_to_none=True)
    loss.backward(inputs=params)
    optimiser.step()


def project_linf(x: Tensor, reference: Tensor, eps: float) -> Tensor:
    """Project onto the Linf ball of radius ``eps`` around ``reference`` and onto [0, 1]."""
    return torch.min(torch.max(x, reference - eps), reference + eps).clamp_(0, 1)


def per_image(values: Tensor, like: Tensor) -> Tensor:
    """Reshape a ``(N,)`` tensor to broadcast against an ``(N, ...)`` batch."""
    return values.view(-1, *([1] * (like.ndim - 1)))


def fit_psnr(reference: Tensor, candidate: Tensor, min_psnr: float) -> Tensor:
    """Scale ``candidate - reference`` per image so that PSNR >= ``min_psnr`` (images stay in [0, 1]).

    Images already within the budget are returned unchanged; others get their perturbation
    shrunk by ``sqrt(target_mse / mse)`` (a convex combination with ``reference``, so the range
    is kept) with a tiny safety margin against rounding.
    """
    delta = candidate - reference
    mse = delta.pow(2).flatten(1).mean(1)
    target = 10 ** (-min_psnr / 10) * (1 - 1e-4)
    scale = torch.where(mse > target, (target / mse.clamp_min(1e-30)).sqrt(), torch.ones_like(mse))
    return (reference + per_image(scale, delta) * delta).clamp(0, 1)


class QueryOracle:
    """Score-only access to a metric with per-image query counters (black-box attacks).

    ``loss(x, index)`` returns the attack loss of the images ``x``, which belong to the source
    images ``index`` (several rows may share one index: populations, antithetic pairs); each row
    costs its image one query. Calls run under ``torch.no_grad`` in chunks of ``batch_size`` rows.
    """

    def __init__(self, metric: Metric, n_images: int, direction: Direction, batch_size: int, device: torch.device):
        self.metric = metric
        self.direction = direction
        self.batch_size = batch_size
        self.queries = torch.zeros(n_images, dtype=torch.long, device=device)

    @torch.no_grad()
    def loss(self, x: Tensor, index: Tensor) -> Tensor:
        out = [
            attack_loss(self.metric, self.metric(x[i : i + self.batch_size]), self.direction).float()
            for i in range(0, x.shape[0], self.batch_size)
        ]
        self.queries.index_add_(0, index, torch.ones_like(index))
        return torch.cat(out)


class BlackBoxAttack(abc.ABC):
    """Base of score-only attacks: a query budget per image, optional early stop, no gradients.

    Subclasses implement :meth:`search`. An image runs until its queries run out, unless the
    caller asks for an early stop: ``target`` (a score; the image stops once its score is at least
    as good as ``target`` in the attack's direction, i.e. ``>=`` for "up" on a higher-is-better
    metric and ``<=`` for a lower-is-better one) or ``stop_gain`` (a gain in loss units over the
    clean image); with both, the first reached stops it. The metric's ``bounds`` are never a stop:
    they are measured on a dataset, not limits of the score, so an attack may pass them.
    After a call, ``last_queries`` holds the queries each image used.
    """

    name: ClassVar[str] = "black-box"
    threat = Threat.BLACK_BOX
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    default_preset: ClassVar[str | None] = None

    def __init__(
        self,
        budget: Budget,
        *,
        max_queries: int,
        direction: Direction = "up",
        stop_gain: float | None = None,
        target: float | None = None,
        batch_size: int = 64,
    ) -> None:
        self.budget = budget
        self.direction: Direction = check_direction(direction)
        self.max_queries = check_count("max_queries", max_queries, 3)
        if stop_gain is not None:
            check_positive("stop_gain", stop_gain)
        self.stop_gain = stop_gain
        if target is not None and not math.isfinite(target):
            raise ValueError(f"target must be a finite score, got {target}")
        self.target = None if target is None else float(target)
        self.batch_size = check_count("batch_size", batch_size)
        self.last_queries: Tensor | None = None

    def __call__(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        require_metric(metric, where=f"attack {self.name!r}")
        check_images(images)
        x = images.detach()
        oracle = QueryOracle(metric, x.shape[0], self.direction, self.batch_size, x.device)
        adv = self.search(oracle, x, generator=generator)
        self.last_queries = oracle.queries.cpu()
        return adv.detach().clamp_(0, 1)

    def stop_threshold(self, metric: Metric, clean_loss: Tensor) -> Tensor:
        """Per-image loss at which an image is done (``inf``: run the whole query budget)."""
        stop = torch.full_like(clean_loss, math.inf)
        if self.stop_gain is not None:
            stop = torch.minimum(stop, clean_loss + self.stop_gain)
        if self.target is not None:
            goal = attack_loss(metric, torch.tensor(self.target, dtype=clean_loss.dtype), self.direction)
            stop = torch.minimum(stop, goal.to(clean_loss.device).expand_as(clean_loss))
        return stop

    @abc.abstractmethod
    def search(self, oracle: QueryOracle, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        """Return the adversarial batch using only ``oracle.loss``."""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(budget={self.budget}, max_queries={self.max_queries}, direction={self.direction!r})"
        )


def ssim_limit(reference: Tensor, render: Any, min_ssim: float, *, steps: int = 12) -> Tensor:
    """Largest per-image strength ``t`` in [0, 1] with SSIM(reference, render(t)) >= ``min_ssim``.

    ``render(t)`` maps a ``(N,)`` tensor of strengths to images, with ``render(0) == reference``
    (SSIM 1) and SSIM falling as ``t`` grows. Bisection over ``t``; the result always satisfies the
    budget (images whose full-strength result already does get ``t = 1``).
    """
    from iqa_core.measures import ssim

    n = reference.shape[0]
    ones = torch.ones(n, device=reference.device)
    with torch.no_grad():
        ok_full = ssim(reference, render(ones)) >= min_ssim
        if bool(ok_full.all()):
            return ones
        lo, hi = torch.zeros(n, device=reference.device), ones.clone()
        for _ in range(steps):
            mid = (lo + hi) / 2
            ok = ssim(reference, render(mid)) >= min_ssim
            lo = torch.where(ok, mid, lo)
            hi = torch.where(ok, hi, mid)
        return torch.where(ok_full, ones, lo)


def best_on_path(metric: Metric, direction: Direction, render: Any, t_max: Tensor, *, points: int = 4) -> Tensor:
    """``render(t)`` at the ``t`` in ``{0, t_max / points, ..., t_max}`` with the highest loss, per image.

    ``t = 0`` must render the source exactly, so the result never scores worse than the source.
    Costs ``points + 1`` forward passes of the metric.
    """
    with torch.no_grad():
        best = render(torch.zeros_like(t_max))
        best_loss = attack_loss(metric, metric(best), direction)
        for k in range(1, points + 1):
            candidate = render(t_max * (k / points))
            loss = attack_loss(metric, metric(candidate), direction)
            better = loss > best_loss
            best = torch.where(per_image(better, best), candidate, best)
            best_loss = torch.where(better, loss, best_loss)
    return best
