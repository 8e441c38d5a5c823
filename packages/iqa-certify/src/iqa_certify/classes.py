"""Discretisation of a metric's score into ordered quality classes (benchmark A.3.5).

The range ``[lower, upper]`` of the metric's bounds is split into ``n_classes`` equal bins;
one extra class takes the scores below ``lower`` and one those above ``upper``, so every score
has a class: ``n_classes + 2`` classes in all. Classes are ordered by quality: a higher class
means better quality, so for a metric whose lower scores are better (``higher_is_better =
False``) the order of the bins is reversed.

With ``w = (upper - lower) / n_classes`` and ascending order (``higher_is_better``):

* class ``0``: ``s < lower``;
* class ``k`` (``1 <= k <= n_classes``): ``lower + (k - 1) w <= s < lower + k w``, and the last
  bin is closed on the right (``s = upper`` is class ``n_classes``);
* class ``n_classes + 1``: ``s > upper``. NaN scores go to this class as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from iqa_core import Bounds


@dataclass(frozen=True)
class ScoreClasses:
    """``n_classes`` equal bins over ``bounds`` plus an underflow and an overflow class."""

    bounds: Bounds
    n_classes: int = 10
    higher_is_better: bool = True

    def __post_init__(self) -> None:
        if self.n_classes < 1:
            raise ValueError(f"n_classes must be >= 1, got {self.n_classes}")

    @property
    def total(self) -> int:
        """Number of classes, ``n_classes + 2``."""
        return self.n_classes + 2

    @property
    def width(self) -> float:
        """Width of one bin in score units."""
        return self.bounds.diam / self.n_classes

    def edges(self, device: torch.device | str = "cpu") -> Tensor:
        """The ``n_classes + 1`` bin edges, ascending, float64."""
        return torch.linspace(
            self.bounds.lower, self.bounds.upper, self.n_classes + 1, dtype=torch.float64, device=device
        )

    def classify(self, scores: Tensor) -> Tensor:
        """Class index (int64, same shape) of every score."""
        s = scores.detach().to(torch.float64)
        edges = self.edges(s.device)
        # right=True: edges[i-1] <= s < edges[i] -> i; s < lower -> 0; s >= upper -> n + 1
        idx = torch.bucketize(s, edges, right=True)
        idx = torch.where(s == edges[-1], torch.full_like(idx, self.n_classes), idx)
        idx = torch.where(torch.isnan(s), torch.full_like(idx, self.n_classes + 1), idx)
        if not self.higher_is_better:
            idx = (self.n_classes + 1) - idx
            idx = torch.where(torch.isnan(s), torch.full_like(idx, self.n_classes + 1), idx)
        return idx

    def _ascending(self, cls: int) -> int:
        if not 0 <= cls < self.total:
            raise ValueError(f"class must be in [0, {self.total - 1}], got {cls}")
        return cls if self.higher_is_better else (self.n_classes + 1) - cls

    def interval(self, cls: int) -> tuple[float, float]:
        """Score interval of class ``cls`` (``-inf``/``inf`` for the outer classes)."""
        k = self._ascending(cls)
        lower, width = self.bounds.lower, self.width
        if k == 0:
            return (-float("inf"), lower)
        if k == self.n_classes + 1:
            return (self.bounds.upper, float("inf"))
        return (lower + (k - 1) * width, lower + k * width)

    def representative(self, cls: int) -> float:
        """A score standing for class ``cls``: the bin centre; the nearer bound for the outer classes."""
        k = self._ascending(cls)
        if k == 0:
            return self.bounds.lower
        if k == self.n_classes + 1:
            return self.bounds.upper
        return self.bounds.lower + (k - 0.5) * self.width


__all__ = ["ScoreClasses"]
