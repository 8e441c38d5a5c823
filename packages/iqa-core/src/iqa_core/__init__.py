"""iqa-core: the contracts, value types, registry and batching Scorer of the NR-IQA robustness toolkit.

Tensor contract: images are ``(N, 3, H, W)`` float32 RGB in ``[0, 1]``; scores are ``(N,)``.

Importing the package does not import torch: the registry, the value types and the errors load
at once; everything that needs torch (protocols, adapters, Scorer, measures, ...) loads on first
access, so command lines start fast (``--help``, listing components).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import lazy, registry
from .registry import ComponentNotFoundError, PresetNotFoundError, available, create, presets
from .types import Bounds, Budget, Certificate, Threat

if TYPE_CHECKING:
    from . import measures, weights
    from .adapters import as_defence, as_metric, require_metric
    from .defended import DefendedMetric, defended, purify_for_gradients
    from .precision import Precision, with_precision
    from .protocols import Attack, Certifier, Defence, Denoiser, FullReferenceMetric, Metric, TrainableAttack
    from .scorer import OutOfMemoryAtBatchOne, Scorer, resolve_device
    from .validation import ImageContractError, check_images

__version__ = "0.2.2"

# public name -> submodule that defines it (imported on first access)
_LAZY: dict[str, str] = {
    "as_defence": "adapters",
    "as_metric": "adapters",
    "require_metric": "adapters",
    "DefendedMetric": "defended",
    "defended": "defended",
    "purify_for_gradients": "defended",
    "Attack": "protocols",
    "Certifier": "protocols",
    "Defence": "protocols",
    "Denoiser": "protocols",
    "FullReferenceMetric": "protocols",
    "Metric": "protocols",
    "TrainableAttack": "protocols",
    "Precision": "precision",
    "with_precision": "precision",
    "OutOfMemoryAtBatchOne": "scorer",
    "Scorer": "scorer",
    "resolve_device": "scorer",
    "ImageContractError": "validation",
    "check_images": "validation",
}
_SUBMODULES = frozenset({"measures", "weights"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    return lazy.resolve(__name__, _LAZY, name, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBMODULES})


# Importing the submodule ``iqa_core.defended`` must not replace the function ``iqa_core.defended``.
lazy.keep_exports_over_submodules(__name__, _LAZY)

__all__ = [
    "Attack",
    "Bounds",
    "Budget",
    "Certificate",
    "Certifier",
    "ComponentNotFoundError",
    "Defence",
    "DefendedMetric",
    "Denoiser",
    "FullReferenceMetric",
    "ImageContractError",
    "Metric",
    "OutOfMemoryAtBatchOne",
    "Precision",
    "PresetNotFoundError",
    "Scorer",
    "Threat",
    "TrainableAttack",
    "__version__",
    "as_defence",
    "as_metric",
    "available",
    "check_images",
    "create",
    "defended",
    "measures",
    "presets",
    "purify_for_gradients",
    "registry",
    "require_metric",
    "resolve_device",
    "weights",
    "with_precision",
]
