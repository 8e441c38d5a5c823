"""iqa-certify: randomized and median smoothing certificates for NR-IQA metrics.

Certifiers (registry group ``iqa.certifiers``): :class:`RS`, :class:`DRS`, :class:`DDRS`,
:class:`DensePure` (classification-based: the score is discretised into ordered classes and the
certificate is an L2 radius) and :class:`MS`, :class:`DMS` (median smoothing: a certified score
interval for an L2 ball of radius ``eps``). Denoisers come from the registry (``iqa.denoisers``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iqa_core import lazy

if TYPE_CHECKING:
    from .base import ClassificationCertifier, SmoothingCertifier
    from .classes import ScoreClasses
    from .ddrs import DDRS
    from .denoising import DenoiserNotAvailableError, resolve_denoiser
    from .densepure import DensePure
    from .dms import DMS
    from .drs import DRS
    from .ms import MS
    from .rs import RS
    from .sampling import MonteCarloSampler
    from .stats import (
        binomial_test_pvalue,
        clopper_pearson_interval,
        clopper_pearson_lower,
        lower_order_statistic_index,
        median_index,
        smoothing_radius,
        upper_order_statistic_index,
    )
    from .summary import (
        CertificationSummary,
        abstention_rate,
        certified_radius,
        certified_relative_delta,
        smoothed_score,
        smoothed_srocc,
        summarize,
    )

    CERTIFIERS: dict[str, type[Any]]

# public name -> submodule that defines it (imported on first access: importing the package stays cheap)
_LAZY: dict[str, str] = {
    "ClassificationCertifier": "base",
    "SmoothingCertifier": "base",
    "ScoreClasses": "classes",
    "DDRS": "ddrs",
    "DenoiserNotAvailableError": "denoising",
    "resolve_denoiser": "denoising",
    "DensePure": "densepure",
    "DMS": "dms",
    "DRS": "drs",
    "MS": "ms",
    "RS": "rs",
    "MonteCarloSampler": "sampling",
    "binomial_test_pvalue": "stats",
    "clopper_pearson_interval": "stats",
    "clopper_pearson_lower": "stats",
    "lower_order_statistic_index": "stats",
    "median_index": "stats",
    "smoothing_radius": "stats",
    "upper_order_statistic_index": "stats",
    "CertificationSummary": "summary",
    "abstention_rate": "summary",
    "certified_radius": "summary",
    "certified_relative_delta": "summary",
    "smoothed_score": "summary",
    "smoothed_srocc": "summary",
    "summarize": "summary",
}


def __getattr__(name: str) -> Any:
    if name == "CERTIFIERS":  # registry name -> class, built on first access
        globals()[name] = {
            cls.name: cls for cls in (__getattr__(n) for n in ("RS", "DRS", "DDRS", "DensePure", "MS", "DMS"))
        }
        return globals()[name]
    return lazy.resolve(__name__, _LAZY, name, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, "CERTIFIERS"})


__version__ = "0.2.1"


__all__ = [
    "CERTIFIERS",
    "DDRS",
    "DMS",
    "DRS",
    "MS",
    "RS",
    "CertificationSummary",
    "ClassificationCertifier",
    "DenoiserNotAvailableError",
    "DensePure",
    "MonteCarloSampler",
    "ScoreClasses",
    "SmoothingCertifier",
    "__version__",
    "abstention_rate",
    "binomial_test_pvalue",
    "certified_radius",
    "certified_relative_delta",
    "clopper_pearson_interval",
    "clopper_pearson_lower",
    "lower_order_statistic_index",
    "median_index",
    "resolve_denoiser",
    "smoothed_score",
    "smoothed_srocc",
    "smoothing_radius",
    "summarize",
    "upper_order_statistic_index",
]
