"""iqa-core: the contracts, value types, registry and batching Scorer of the NR-IQA robustness toolkit.

Tensor contract: images are ``(N, 3, H, W)`` float32 RGB in ``[0, 1]``; scores are ``(N,)``.
"""

from . import measures, registry, weights
from .adapters import as_defence, as_metric, require_metric
from .defended import DefendedMetric, defended, purify_for_gradients
from .protocols import Attack, Certifier, Defence, Denoiser, FullReferenceMetric, Metric, TrainableAttack
from .registry import ComponentNotFoundError, PresetNotFoundError, available, create, presets
from .scorer import OutOfMemoryAtBatchOne, Scorer, resolve_device
from .types import Bounds, Budget, Certificate, Threat
from .validation import ImageContractError, check_images

__version__ = "0.2.0"

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
]
