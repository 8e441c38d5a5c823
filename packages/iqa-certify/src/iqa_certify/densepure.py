"""DensePure (Xiao et al., ICLR 2023) as the benchmark ran it, and the DensePure paper's majority vote."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iqa_core import Metric

from .base import ClassificationCertifier, classification_presets
from .classes import ScoreClasses
from .denoising import DenoiserFn, DenoiserLike, run_denoiser
from .densepure_reverse import densepure_reverse, is_diffusion_module
from .sampling import SampleFn


class _RespacedPurifier(nn.Module):
    """A diffusion purifier driven with the benchmark's respaced reverse chain (``reverse_steps`` steps)."""

    def __init__(self, diffusion: Any, steps: int) -> None:
        super().__init__()
        self.diffusion = diffusion  # a submodule when it is a module: .to(device) moves it
        self.steps = steps
        self.name = f"{getattr(diffusion, 'name', type(diffusion).__name__)}[{steps} steps]"

    def forward(self, noisy: Tensor, sigma: float, *, generator: torch.Generator | None = None) -> Tensor:
        return densepure_reverse(self.diffusion, noisy, sigma, self.steps, generator)


class DensePure(ClassificationCertifier):
    """Randomized smoothing whose base classifier purifies each noisy sample by reverse diffusion.

    **Defaults = what the benchmark ran** (katiashh/certified-iqa-defenses,
    ``DensePure-master/calc_dp_*.py``): every noisy sample ``x + noise`` (not clipped) is purified
    **once** (``runs = 1``, no vote) by the respaced reverse chain of ``reverse_steps = 2`` steps
    from the timestep matching ``2 sigma`` (:mod:`iqa_certify.densepure_reverse`), then scored and
    classified. The ``paper`` preset adds the benchmark's resize of every image to 256x256
    (``image_size=256``); ``paper-native`` certifies at native size.

    **The DensePure paper's variant** (preset ``original``: ``runs = 10``, ``reverse_steps =
    None``): the purifier's own full reverse chain (``diffusion-reverse``: DDPM from the matching
    timestep to 0) runs ``runs`` times per noisy sample with different randomness, and the most
    frequent class (ties: the lowest) is the base classifier's answer; about ``runs`` times the
    cost of the benchmark's setting, and other radii.

    ``purifier``: a registry denoiser name (default ``"diffusion-reverse"``, iqa-purify) or any
    object callable as ``purifier(noisy, sigma, *, generator=None) -> images`` drawing its
    randomness from ``generator``. ``reverse_steps`` applies to diffusion purifiers (objects with
    a ``unet`` and ``alphas_cumprod``, as iqa-purify's diffusion denoisers): an integer drives
    their UNet through that many respaced steps, ``None`` calls the purifier as it is. Any other
    purifier is always called as it is. With ``runs > 1`` the purifier receives ``runs`` copies of
    each chunk of noisy samples in one call (``runs * (batch_size // runs)`` images), repeated
    run-major. A deterministic purifier makes DensePure equal to DRS with that purifier.
    """

    name: ClassVar[str] = "densepure"
    default_denoiser: ClassVar[str] = "diffusion-reverse"
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        **classification_presets(runs=1, reverse_steps=2, image_size=256),
        "paper-native": classification_presets(runs=1, reverse_steps=2)["paper"],
        "original": classification_presets(runs=10, reverse_steps=None)["paper"],
    }

    def __init__(
        self,
        sigma: float = 0.12,
        n0: int = 100,
        n: int = 1000,
        alpha: float = 0.001,
        n_classes: int = 10,
        purifier: DenoiserLike | None = None,
        runs: int = 1,
        reverse_steps: int | None = 2,
        **options: Any,
    ) -> None:
        if "denoiser" in options:
            if purifier is not None:
                raise ValueError("pass either purifier or denoiser to DensePure, not both")
            purifier = options.pop("denoiser")
        if runs < 1:
            raise ValueError(f"runs must be >= 1, got {runs}")
        if reverse_steps is not None and reverse_steps < 1:
            raise ValueError(f"reverse_steps must be None or >= 1, got {reverse_steps}")
        chosen = self.default_denoiser if purifier is None else purifier
        super().__init__(sigma, n0, n, alpha, n_classes, denoiser=chosen, **options)
        self.runs = int(runs)
        self.reverse_steps = None if reverse_steps is None else int(reverse_steps)

    def __repr__(self) -> str:
        return f"{super().__repr__()[:-1]}, runs={self.runs}, reverse_steps={self.reverse_steps})"

    def _resolved_denoiser(self) -> DenoiserFn | None:
        resolved = super()._resolved_denoiser()
        if resolved is not None and self.reverse_steps is not None and is_diffusion_module(resolved):
            self._denoiser = resolved = _RespacedPurifier(resolved, self.reverse_steps)
        return resolved

    def _samples_per_call(self) -> int:
        return max(1, self.batch_size // self.runs)

    def _label_fn(self, metric: Metric, classes: ScoreClasses, generator: torch.Generator) -> SampleFn:
        purifier = self._denoiser
        if purifier is None:  # resolved in _run before sampling
            raise RuntimeError("DensePure's purifier was not resolved")
        runs, total = self.runs, classes.total
        if runs == 1:
            return super()._label_fn(metric, classes, generator)

        def vote(noisy: Tensor) -> Tensor:
            b = noisy.shape[0]
            repeated = noisy.repeat(runs, 1, 1, 1)  # run-major: rows r * b .. r * b + b - 1 are run r
            purified = run_denoiser(purifier, repeated, self.sigma, generator)
            labels = classes.classify(self._scores(metric, purified)).view(runs, b)
            votes = F.one_hot(labels, total).sum(0)  # (b, total)
            return torch.argmax(votes, dim=1)  # first maximum: ties go to the lowest class

        return vote


__all__ = ["DensePure"]
