"""The contracts every component implements.

Tensor contract, everywhere in the project: an image batch is a ``torch.Tensor`` of shape
``(N, 3, H, W)``, dtype ``float32``, RGB, values in ``[0, 1]``; scores are a ``(N,)`` tensor.
Conversions from files, uint8 or other layouts happen at the edges only.

All protocols are ``runtime_checkable`` so that ``isinstance(obj, Metric)`` works, which checks
the presence of the members (not their types).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from .types import Bounds, Budget, Certificate, Threat


@runtime_checkable
class Metric(Protocol):
    """A no-reference IQA model as a differentiable function of the image.

    ``__call__(images)`` takes ``(N, 3, H, W)`` float32 RGB in ``[0, 1]`` and returns ``(N,)``
    scores. It must not disable autograd: attacks differentiate through it. ``bounds`` is the
    metric's score range (benchmark Table 6); ``higher_is_better`` says which way is "better
    quality"; ``differentiable`` is False for metrics whose scores have no useful gradient
    (NIQE, BRISQUE, ...): only black-box attacks apply to those.

    Optional attribute ``min_size``: the smallest input the model accepts, ``(height, width)`` or
    one int for both. The benchmark runner turns smaller images into failed rows naming both sizes
    instead of upscaling them (which would score another image).
    """

    name: str
    higher_is_better: bool
    bounds: Bounds
    differentiable: bool

    def __call__(self, images: Tensor) -> Tensor: ...


@runtime_checkable
class FullReferenceMetric(Protocol):
    """A full-reference measure (PSNR, SSIM, LPIPS, DISTS, ...): ``(N,3,H,W) x 2 -> (N,)``.

    Used as a constraint inside attacks and as an evaluation measure; differentiable in
    ``distorted`` where the measure allows it.
    """

    name: str
    higher_is_better: bool

    def __call__(self, reference: Tensor, distorted: Tensor) -> Tensor: ...


@runtime_checkable
class Attack(Protocol):
    """An adversarial attack that raises (by default) a metric's predicted quality.

    ``__call__(metric, images)`` returns adversarial images of the same shape, in ``[0, 1]``,
    within ``budget``. Randomness comes only from ``generator``.
    """

    name: str
    threat: Threat
    budget: Budget

    def __call__(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None = None) -> Tensor: ...


@runtime_checkable
class TrainableAttack(Attack, Protocol):
    """An attack that is fitted once on a training set (universal perturbation, generator)."""

    def fit(self, metric: Metric, images: Iterable[Tensor]) -> None: ...


@runtime_checkable
class Defence(Protocol):
    """An input purification ``P: images -> images`` of the same shape, in ``[0, 1]``.

    ``differentiable``: gradients through ``__call__`` are meaningful as they are.
    ``randomized``: two calls may differ; adaptive attacks then average over draws (EOT).
    A non-differentiable defence may define ``bpda_surrogate(images)``, a differentiable
    approximation used for gradients (BPDA); identity is assumed when it does not.
    """

    name: str
    differentiable: bool
    randomized: bool

    def __call__(self, images: Tensor, *, generator: torch.Generator | None = None) -> Tensor: ...


@runtime_checkable
class Denoiser(Protocol):
    """Removes Gaussian noise of a known ``sigma`` (for denoised smoothing)."""

    name: str

    def __call__(self, noisy: Tensor, sigma: float, *, generator: torch.Generator | None = None) -> Tensor: ...


@runtime_checkable
class Certifier(Protocol):
    """Certifies a metric's output under L2-bounded perturbations (randomized / median smoothing)."""

    name: str

    def certify(
        self, metric: Metric, images: Tensor, *, generator: torch.Generator | None = None
    ) -> list[Certificate]: ...


__all__ = [
    "Attack",
    "Bounds",
    "Budget",
    "Certificate",
    "Certifier",
    "Defence",
    "Denoiser",
    "FullReferenceMetric",
    "Metric",
    "Threat",
    "TrainableAttack",
]
