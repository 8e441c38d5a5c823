"""MS: median smoothing (Chiang et al., NeurIPS 2020) of the metric's score.

The smoothed score is the median of ``f(x + noise)``, ``noise ~ N(0, sigma^2 I)``. With
``h_p(x) = sup{y : P(f(x + noise) <= y) <= p}`` (the ``p``-quantile), Chiang et al. show that
for every ``||d||_2 <= eps``

    h_{p_lo}(x) <= h_{1/2}(x + d) <= h_{p_hi}(x),   p_lo = Phi(-eps / sigma), p_hi = Phi(eps / sigma).

From ``n`` samples sorted in ascending order, ``Y_(k_lo)`` is a one-sided lower confidence bound
of ``h_{p_lo}(x)`` and ``Y_(k_hi)`` a one-sided upper confidence bound of ``h_{p_hi}(x)``
(:func:`~iqa_certify.stats.lower_order_statistic_index`,
:func:`~iqa_certify.stats.upper_order_statistic_index`). **Combination**: with
``bonferroni=True`` (the constructor's default) each bound is taken at level ``alpha / 2``, so
both hold together with probability at least ``1 - alpha``, and then the smoothed score of every
image within ``eps`` of ``x`` lies in ``[lower, upper]``. With ``bonferroni=False`` each bound is
taken at level ``alpha`` (together: ``1 - 2 alpha``), as the benchmark's scripts
(``conf_thres = 1 - alpha`` per bound) and Chiang et al.'s code do; the ``paper`` presets use it.

The reported score is the sample median ``Y_((n + 1) // 2)`` (0-based index ``(n - 1) // 2``:
the lower middle value for even ``n``, as the ``torch.median`` the benchmark's
``ccrf/calc_nms_*.py`` call). The certified delta is the largest distance from that score to a
bound, ``max(upper - score, score - lower)``; the relative delta is ``delta / diam`` of the
metric's bounds. When ``n`` is too small for a bound to exist the certifier abstains (bounds and
delta infinite).

The reference code (Ping-C/CertifiedObjectDetection's ``estimated_qu_ql``, which the benchmark
calls) finds the 1-based rank ``k`` of each order statistic and then uses it as a 0-based index:
Ping-C's ascending ``k(q)`` takes ``Y_(k + 1)`` for both bounds (the lower one is one rank too
high, i.e. not a valid bound); the benchmark sorts descending and reads
``sorted[q]`` = ascending index ``n - 1 - q``, one rank *below* the valid indices for both bounds
(its upper bound is one rank too low), with the two columns swapped back on return. Here the
indices are derived directly in ascending order (see :mod:`iqa_certify.stats`): at
``bonferroni=False`` they lie exactly between the two references' (golden
``tests/goldens/certify_median.json``), and the case without a bound is an abstention instead of
an out-of-range index. The ``paper`` presets also clip every noisy sample to [0, 1] before the
denoiser/metric (``clamp=True``) at native size, as the benchmark's MS/DMS scripts do.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import torch
from scipy import stats
from torch import Tensor

from iqa_core import Certificate, Metric, require_metric

from .base import SmoothingCertifier
from .sampling import MonteCarloSampler, SampleFn
from .stats import lower_order_statistic_index, median_index, upper_order_statistic_index


class MS(SmoothingCertifier):
    """Median smoothing certificate of the metric's score (Chiang et al., 2020); see the module docstring.

    Defaults (benchmark A.3.5): ``sigma = 0.12``, ``eps = 0.05``, ``n = 1000``, ``alpha = 0.001``;
    the ``paper`` preset (the registry's default) adds ``clamp=True`` and ``bonferroni=False``, the
    benchmark's settings (see the module docstring). There is no selection phase (``n0 = 0``).
    ``radius`` stays 0 (no class is certified); the
    L2 radius the delta holds for is ``eps`` (also in ``extra["eps"]``).
    """

    name: ClassVar[str] = "ms"
    certificate_kind: ClassVar[Literal["classification", "regression"] | None] = "regression"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {"sigma": 0.12, "eps": 0.05, "n": 1000, "alpha": 0.001, "clamp": True, "bonferroni": False},
        "sigma-0.25": {"sigma": 0.25, "eps": 0.05, "n": 1000, "alpha": 0.001, "clamp": True, "bonferroni": False},
        "fast": {"sigma": 0.12, "eps": 0.05, "n": 256, "alpha": 0.001, "clamp": True, "bonferroni": False},
    }
    default_preset: ClassVar[str] = "paper"

    def __init__(
        self,
        sigma: float = 0.12,
        eps: float = 0.05,
        n: int = 1000,
        alpha: float = 0.001,
        bonferroni: bool = True,
        **options: Any,
    ) -> None:
        if type(self) is MS and options.get("denoiser") is not None:
            raise ValueError("MS does not denoise; use DMS for a denoiser")
        super().__init__(sigma=sigma, n=n, alpha=alpha, **options)
        if not (math.isfinite(eps) and eps >= 0):
            raise ValueError(f"eps must be a finite number >= 0, got {eps}")
        self.eps = float(eps)
        self.p_lower = float(stats.norm.cdf(-self.eps / self.sigma))
        self.p_upper = float(stats.norm.cdf(self.eps / self.sigma))
        self.bonferroni = bool(bonferroni)
        level = self.alpha / 2 if self.bonferroni else self.alpha  # per one-sided bound
        self.index_lower = lower_order_statistic_index(self.n, self.p_lower, level)
        self.index_upper = upper_order_statistic_index(self.n, self.p_upper, level)

    def _score_fn(self, metric: Metric, generator: torch.Generator) -> SampleFn:
        def scores(noisy: Tensor) -> Tensor:
            return self._scores(metric, self._purify(noisy, generator)).float()

        return scores

    def _sorted_scores(
        self, metric: Metric, image: Tensor, sampler: MonteCarloSampler, gen: torch.Generator, n: int
    ) -> Tensor:
        samples = sampler.sample(self._score_fn(metric, gen), image, n, gen)
        if bool(torch.isnan(samples).any()):
            raise ValueError(f"metric {getattr(metric, 'name', '?')!r} returned NaN scores on noisy images")
        return torch.sort(samples).values.double().cpu()

    def certify(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None = None) -> list[Certificate]:
        """One certificate per image: smoothed score, certified bounds, delta and relative delta."""
        require_metric(metric, where=f"certifier {type(self).__name__}")
        diam = self.metric_bounds(metric).diam

        def one(image: Tensor, sampler: MonteCarloSampler, gen: torch.Generator) -> Certificate:
            ordered = self._sorted_scores(metric, image, sampler, gen, self.n)
            score = float(ordered[median_index(self.n)])
            lower = -math.inf if self.index_lower is None else float(ordered[self.index_lower])
            upper = math.inf if self.index_upper is None else float(ordered[self.index_upper])
            delta = max(upper - score, score - lower)
            extra = {
                "eps": self.eps,
                "sigma": self.sigma,
                "alpha": self.alpha,
                "bonferroni": float(self.bonferroni),
                "p_lower": self.p_lower,
                "p_upper": self.p_upper,
                "index_lower": -1.0 if self.index_lower is None else float(self.index_lower),
                "index_upper": -1.0 if self.index_upper is None else float(self.index_upper),
            }
            return Certificate(
                abstained=not math.isfinite(delta),
                score=score,
                lower=lower,
                upper=upper,
                delta=delta,
                relative_delta=delta / diam,
                n0=0,
                n=self.n,
                extra=extra,
            )

        return self._run(metric, images, generator, one)

    def predict(
        self, metric: Metric, images: Tensor, *, generator: torch.Generator | None = None, n: int | None = None
    ) -> list[Certificate]:
        """The smoothed score (sample median of ``n`` noisy scores) of each image, without bounds."""
        num = self.n if n is None else int(n)
        if num < 1:
            raise ValueError(f"n must be >= 1, got {num}")

        def one(image: Tensor, sampler: MonteCarloSampler, gen: torch.Generator) -> Certificate:
            ordered = self._sorted_scores(metric, image, sampler, gen, num)
            return Certificate(abstained=False, score=float(ordered[median_index(num)]), n=num)

        return self._run(metric, images, generator, one)


__all__ = ["MS"]
