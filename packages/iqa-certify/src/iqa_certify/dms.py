"""DMS: denoised median smoothing (Chiang et al., NeurIPS 2020)."""

from __future__ import annotations

from typing import Any, ClassVar

from .denoising import DenoiserLike
from .ms import MS


class DMS(MS):
    """Median smoothing of ``metric(denoiser(x + noise, sigma))``; bounds as :class:`~iqa_certify.ms.MS`.

    ``denoiser`` is a registry name (default ``"dncnn"``, provided by iqa-purify) or any object
    callable as ``denoiser(noisy, sigma, *, generator=None)``. The ``paper`` preset clips noisy
    samples to [0, 1] before the denoiser at native size, as the benchmark's DMS
    (``ccrf/calc_nms_*.py`` with ``dn=True``) does.
    """

    name: ClassVar[str] = "dms"
    default_denoiser: ClassVar[str] = "dncnn"

    def __init__(
        self,
        sigma: float = 0.12,
        eps: float = 0.05,
        n: int = 1000,
        alpha: float = 0.001,
        denoiser: DenoiserLike | None = None,
        bonferroni: bool = True,
        **options: Any,
    ) -> None:
        chosen = self.default_denoiser if denoiser is None else denoiser
        super().__init__(sigma, eps, n, alpha, bonferroni, denoiser=chosen, **options)


__all__ = ["DMS"]
