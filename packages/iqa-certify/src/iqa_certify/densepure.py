"""DensePure (Xiao et al., ICLR 2023): several reverse-diffusion runs per noisy sample, majority vote."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from iqa_core import Metric

from .base import ClassificationCertifier
from .classes import ScoreClasses
from .denoising import DenoiserLike, run_denoiser
from .sampling import SampleFn


class DensePure(ClassificationCertifier):
    """Randomized smoothing whose base classifier votes over ``runs`` stochastic purifications.

    For every noisy sample ``x + noise`` the purifier runs ``runs`` times (different randomness,
    drawn from the certifier's generator); each output is scored and classified, and the most
    frequent class (ties: the lowest) is the base classifier's answer for that sample. Smoothing
    and certification then follow :class:`~iqa_certify.base.ClassificationCertifier`.

    ``purifier``: a registry denoiser name (default ``"diffusion-reverse"``: reverse diffusion
    from the timestep matching ``sigma``, provided by iqa-purify) or any object callable as
    ``purifier(noisy, sigma, *, generator=None) -> images`` that draws its randomness from
    ``generator``. It receives ``runs`` copies of each chunk of noisy samples in one call
    (``runs * (batch_size // runs)`` images), repeated run-major. A deterministic purifier makes
    DensePure equal to DRS with that purifier. ``runs`` defaults to 10 (odd values avoid ties).
    """

    name: ClassVar[str] = "densepure"
    default_denoiser: ClassVar[str] = "diffusion-reverse"

    def __init__(
        self,
        sigma: float = 0.12,
        n0: int = 100,
        n: int = 1000,
        alpha: float = 0.001,
        n_classes: int = 10,
        purifier: DenoiserLike | None = None,
        runs: int = 10,
        **options: Any,
    ) -> None:
        if "denoiser" in options:
            if purifier is not None:
                raise ValueError("pass either purifier or denoiser to DensePure, not both")
            purifier = options.pop("denoiser")
        if runs < 1:
            raise ValueError(f"runs must be >= 1, got {runs}")
        chosen = self.default_denoiser if purifier is None else purifier
        super().__init__(sigma, n0, n, alpha, n_classes, denoiser=chosen, **options)
        self.runs = int(runs)

    def _samples_per_call(self) -> int:
        return max(1, self.batch_size // self.runs)

    def _label_fn(self, metric: Metric, classes: ScoreClasses, generator: torch.Generator) -> SampleFn:
        purifier = self._denoiser
        if purifier is None:  # resolved in _run before sampling
            raise RuntimeError("DensePure's purifier was not resolved")
        runs, total = self.runs, classes.total

        def vote(noisy: Tensor) -> Tensor:
            b = noisy.shape[0]
            repeated = noisy.repeat(runs, 1, 1, 1)  # run-major: rows r * b .. r * b + b - 1 are run r
            purified = run_denoiser(purifier, repeated, self.sigma, generator)
            labels = classes.classify(self._scores(metric, purified)).view(runs, b)
            votes = F.one_hot(labels, total).sum(0)  # (b, total)
            return torch.argmax(votes, dim=1)  # first maximum: ties go to the lowest class

        return vote


__all__ = ["DensePure"]
