"""iqa-certify: randomized and median smoothing certificates for NR-IQA metrics.

Certifiers (registry group ``iqa.certifiers``): :class:`RS`, :class:`DRS`, :class:`DDRS`,
:class:`DensePure` (classification-based: the score is discretised into ordered classes and the
certificate is an L2 radius) and :class:`MS`, :class:`DMS` (median smoothing: a certified score
interval for an L2 ball of radius ``eps``). Denoisers come from the registry (``iqa.denoisers``).
"""

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

__version__ = "0.2.0"

CERTIFIERS = {cls.name: cls for cls in (RS, DRS, DDRS, DensePure, MS, DMS)}

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
