"""DRS: denoised randomized smoothing (Salman et al., NeurIPS 2020)."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import ClassificationCertifier, classification_presets
from .denoising import DenoiserLike


class DRS(ClassificationCertifier):
    """Randomized smoothing with a denoiser before the metric (Salman et al., 2020).

    Base classifier: ``class(metric(denoiser(x + noise, sigma)))``. ``denoiser`` is a registry
    name (default ``"dncnn"``, provided by iqa-purify) or any object callable as
    ``denoiser(noisy, sigma, *, generator=None)``. Other parameters as :class:`~iqa_certify.rs.RS`.
    The ``paper`` preset clips noisy samples to [0, 1] before the denoiser and certifies at native
    size, as the benchmark's DRS (``ccrf/calc_clear_rs_*.py`` with ``dn=True``) does.
    """

    name: ClassVar[str] = "drs"
    default_denoiser: ClassVar[str] = "dncnn"
    presets: ClassVar[dict[str, dict[str, Any]]] = classification_presets(clamp=True)

    def __init__(
        self,
        sigma: float = 0.12,
        n0: int = 100,
        n: int = 1000,
        alpha: float = 0.001,
        n_classes: int = 10,
        denoiser: DenoiserLike | None = None,
        **options: Any,
    ) -> None:
        chosen = self.default_denoiser if denoiser is None else denoiser
        super().__init__(sigma, n0, n, alpha, n_classes, denoiser=chosen, **options)


__all__ = ["DRS"]
