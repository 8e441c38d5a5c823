"""RS: randomized smoothing (Cohen et al., ICML 2019) of the discretised metric."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import ClassificationCertifier, classification_presets


class RS(ClassificationCertifier):
    """Randomized smoothing of the metric as an ordered classifier (Cohen et al., 2019).

    Noisy samples go straight to the metric. Defaults (benchmark A.3.5): ``sigma = 0.12``,
    ``n0 = 100``, ``n = 1000``, ``alpha = 0.001``, ``n_classes = 10`` (+2 outer classes).
    The ``paper`` preset (the registry's default) also clips every noisy sample to [0, 1]
    (``clamp=True``) at native size, as the benchmark's RS script (``ccrf/calc_rs_*.py``) does;
    the constructor's default ``clamp=False`` is Cohen et al.'s unclipped smoothing.
    See :class:`~iqa_certify.base.ClassificationCertifier` for ``certify`` and ``predict``.
    """

    name: ClassVar[str] = "rs"
    presets: ClassVar[dict[str, dict[str, Any]]] = classification_presets(clamp=True)

    def __init__(
        self,
        sigma: float = 0.12,
        n0: int = 100,
        n: int = 1000,
        alpha: float = 0.001,
        n_classes: int = 10,
        **options: Any,
    ) -> None:
        if options.get("denoiser") is not None:
            raise ValueError("RS does not denoise; use DRS, DDRS or DensePure for a denoiser")
        super().__init__(sigma, n0, n, alpha, n_classes, **options)


__all__ = ["RS"]
