"""iqa_metrics: NR-IQA metrics (ports and a pyiqa adapter), FR measures, weights and bounds.

Importing the package is cheap: the metric classes load on first access
(``iqa_metrics.LinearityIQA``) or through the registry (``iqa_core.create("metric", "linearity")``).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.4.2"

_LAZY: dict[str, str] = {
    "LinearityIQA": "linearity",
    "KonCept512": "koncept",
    "SPAQBaseline": "spaq",
    "FPRMetric": "fpr",
    "PyiqaMetric": "pyiqa_adapter",
    "PSNR": "fr",
    "SSIM": "fr",
    "MSSSIM": "fr",
    "MSE": "fr",
    "Linf": "fr",
    "LPIPS": "fr",
    "DISTS": "fr",
    "measure_bounds": "bounds",
    "measure_bounds_in_folder": "bounds",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = ["__version__", *_LAZY]
