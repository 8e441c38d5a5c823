"""The attack objective of the benchmark (eq. 1): ``L = s * f(x') / diam(f)``.

``s = +1`` when the metric is higher-is-better, so maximising ``L`` raises predicted quality;
``direction="down"`` flips the sign for attacks that lower it.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from iqa_core import Metric

Direction = Literal["up", "down"]


def attack_sign(metric: Metric, direction: Direction = "up") -> float:
    """+1 or -1: the sign that turns "better predicted quality" into "larger loss"."""
    if direction not in ("up", "down"):
        raise ValueError(f"direction must be 'up' or 'down', got {direction!r}")
    better = 1.0 if metric.higher_is_better else -1.0
    return better if direction == "up" else -better


def attack_loss(metric: Metric, scores: Tensor, direction: Direction = "up") -> Tensor:
    """Per-image loss to maximise: ``sign * score / diam``."""
    return attack_sign(metric, direction) * scores / metric.bounds.diam
