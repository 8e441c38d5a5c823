"""Attack overhead benchmark (issue "done when"): wall time against the metric's own cost.

White-box: ``overhead = wall / (gradient passes x t_fb)``, ``t_fb`` the metric's pure
forward + backward time on the same batch; 1.0 means the attack adds nothing to the metric's
gradient cost (the target for the gradient attacks is below 1.15). Black-box: queries per second.
The metric is wrapped to count its calls; attacks that need extra score-only passes (stAdv's and
cAdv's final line search, for example) pay for them in the ratio.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from iqa_core import Metric, Threat


class CountingMetric(nn.Module):
    """Wraps a metric and counts gradient passes (calls under autograd) and scored images."""

    def __init__(self, metric: Metric) -> None:
        super().__init__()
        self.inner = metric
        self.name = metric.name
        self.higher_is_better = metric.higher_is_better
        self.bounds = metric.bounds
        self.differentiable = metric.differentiable
        self.gradient_passes = 0
        self.images_scored = 0

    def forward(self, images: Tensor) -> Tensor:
        if torch.is_grad_enabled() and images.requires_grad:
            self.gradient_passes += 1
        self.images_scored += images.shape[0]
        return self.inner(images)


@dataclass(frozen=True)
class BenchResult:
    attack: str
    threat: str
    batch: int
    wall_s: float
    gradient_passes: int
    forward_backward_s: float
    overhead: float | None
    queries: int
    queries_per_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def forward_backward_time(metric: Metric, images: Tensor, repeats: int = 5) -> float:
    """Median seconds of one ``metric(x).sum().backward()`` w.r.t. the input on ``images``."""
    times = []
    for _ in range(repeats + 1):
        x = images.detach().clone().requires_grad_(True)
        start = time.perf_counter()
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(metric(x).sum(), x)
        if grad.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])  # the first run warms up


def bench_attack(attack: Any, metric: Metric, images: Tensor, *, seed: int = 0, repeats: int = 3) -> BenchResult:
    """Run ``attack`` on ``images`` and relate its wall time to the metric's cost.

    White-box attacks run once to warm up, then ``repeats`` times, each run followed by a fresh
    measurement of ``t_fb`` on the same batch; the overhead is the median of the per-run ratios,
    so that a burst of load from elsewhere on the machine hits numerator and denominator alike
    instead of making the ratio. Black-box attacks (query-bound, slow) run once.
    """
    counting = CountingMetric(metric)
    if hasattr(attack, "fit") and not getattr(attack, "fitted", True):
        attack.fit(metric, images, generator=torch.Generator().manual_seed(seed))
    white = attack.threat is Threat.WHITE_BOX
    walls, t_fbs, ratios = [], [], []
    for run in range(1 + repeats if white else 1):
        counting.gradient_passes = 0
        start = time.perf_counter()
        out = attack(counting, images, generator=torch.Generator(device=images.device).manual_seed(seed))
        if out.is_cuda:
            torch.cuda.synchronize()
        wall = time.perf_counter() - start
        if white and run == 0:
            continue  # warm-up
        walls.append(wall)
        if white:
            t_fbs.append(forward_backward_time(metric, images))
            if counting.gradient_passes:
                ratios.append(wall / (counting.gradient_passes * t_fbs[-1]))
    passes = counting.gradient_passes
    wall = statistics.median(walls)
    t_fb = statistics.median(t_fbs) if t_fbs else 0.0
    overhead = statistics.median(ratios) if ratios else None
    queries = int(attack.last_queries.sum()) if getattr(attack, "last_queries", None) is not None else 0
    return BenchResult(
        attack=attack.name,
        threat=attack.threat.value,
        batch=images.shape[0],
        wall_s=wall,
        gradient_passes=passes,
        forward_backward_s=t_fb,
        overhead=overhead,
        queries=queries,
        queries_per_s=queries / wall if queries and wall > 0 else None,
    )
