"""Shared machinery of the smoothing certifiers: parameters, device and generator handling, the per-image loop.

:class:`SmoothingCertifier` holds what every certifier has (noise level, sample counts,
confidence, batching, an optional denoiser). :class:`ClassificationCertifier` implements
randomized smoothing of the discretised metric (Cohen et al., 2019) on top of it; RS, DRS,
DDRS and DensePure are its configurations. Median smoothing lives in :mod:`iqa_certify.ms`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from iqa_core import Bounds, Certificate, Metric, check_images, require_metric

from .classes import ScoreClasses
from .denoising import DenoiserFn, DenoiserLike, denoiser_name, resolve_denoiser, run_denoiser
from .sampling import MonteCarloSampler, SampleFn, device_generator, pick_device
from .stats import binomial_test_pvalue, clopper_pearson_lower, smoothing_radius

BoundsLike = Bounds | tuple[float, float]


def _as_size(size: int | tuple[int, int] | Sequence[int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    pair = (int(size), int(size)) if isinstance(size, int) else tuple(int(v) for v in size)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"image_size must be None, a positive int or (height, width), got {size!r}")
    return (pair[0], pair[1])


def resize_images(images: Tensor, size: tuple[int, int] | None) -> Tensor:
    """``images`` resized to ``size`` (bilinear, half-pixel centres, no antialiasing; as ``cv2.resize``)."""
    if size is None or tuple(images.shape[-2:]) == size:
        return images
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=False)


def _as_bounds(bounds: BoundsLike | None) -> Bounds | None:
    if bounds is None or isinstance(bounds, Bounds):
        return bounds
    lower, upper = bounds
    return Bounds(float(lower), float(upper))


class SmoothingCertifier:
    """Common parameters and the per-image loop of all smoothing certifiers.

    Parameters
    ----------
    sigma: standard deviation of the Gaussian noise, in image units (images in [0, 1]).
    n: Monte-Carlo samples for the certificate (the estimation samples).
    alpha: the certificate fails with probability at most ``alpha``.
    batch_size: noisy samples per forward call (halved on out-of-memory).
    device: compute device; ``None`` = the metric's device (the images' device for a metric
        that is not a module).
        The metric (and a module denoiser) is moved there when a device is given.
    clamp: clip noisy images to [0, 1] before the denoiser/metric. The guarantee is unaffected
        (it is then the smoothing of ``f(clip(.))``). Off by default (Cohen et al.'s
        locuslab/smoothing does not clip); the ``paper`` presets of RS, DRS, MS and DMS turn it on,
        as the benchmark's certified code (katiashh/certified-iqa-defenses) clips every noisy
        sample to [0, 1] before the denoiser/metric there (its DDRS and DensePure scripts do not).
    image_size: ``None`` (certify at native size) or ``S``/``(H, W)``: each image is resized to
        that size (bilinear, no antialiasing, like ``cv2.resize``'s default) before noise is
        added, and the certificate is for the resized image. The benchmark's DDRS and DensePure
        scripts resize to 256x256 (their ``paper`` presets); its RS/DRS/MS/DMS scripts do not.
    autocast, channels_last: passed to the :class:`iqa_core.Scorer`.
    bounds: score range used instead of ``metric.bounds`` (classes, relative delta).
    denoiser: ``None`` (no denoising), a registry name (group ``iqa.denoisers``, provided by
        iqa-purify) or an object callable as ``denoiser(noisy, sigma, *, generator=None)``.
    denoiser_preset, denoiser_params: used when ``denoiser`` is a registry name.
    """

    name: ClassVar[str] = "smoothing"
    #: ``Certificate.kind`` of this certifier's certificates (``None``: left for the reader to infer)
    certificate_kind: ClassVar[Literal["classification", "regression"] | None] = None

    def __init__(
        self,
        *,
        sigma: float,
        n: int,
        alpha: float,
        batch_size: int = 200,
        device: str | torch.device | None = None,
        clamp: bool = False,
        image_size: int | tuple[int, int] | None = None,
        autocast: bool = False,
        channels_last: bool = False,
        bounds: BoundsLike | None = None,
        denoiser: DenoiserLike | None = None,
        denoiser_preset: str | None = None,
        denoiser_params: dict[str, Any] | None = None,
    ) -> None:
        if not (math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"sigma must be a finite number > 0, got {sigma}")
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.sigma = float(sigma)
        self.n = int(n)
        self.alpha = float(alpha)
        self.batch_size = int(batch_size)
        self.device = device
        self.clamp = clamp
        self.image_size = _as_size(image_size)
        self.autocast = autocast
        self.channels_last = channels_last
        self.bounds = _as_bounds(bounds)
        self.denoiser = denoiser
        self.denoiser_preset = denoiser_preset
        self.denoiser_params = dict(denoiser_params or {})
        self._denoiser: DenoiserFn | None = None

    # ---------------------------------------------------------------- helpers
    def __repr__(self) -> str:
        parts = [f"sigma={self.sigma}", f"n={self.n}", f"alpha={self.alpha}"]
        if self.denoiser is not None:
            parts.append(f"denoiser={denoiser_name(self.denoiser)!r}")
        if self.clamp:
            parts.append("clamp=True")
        if self.image_size is not None:
            parts.append(f"image_size={self.image_size}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def metric_bounds(self, metric: Metric) -> Bounds:
        """The score range in use: ``bounds`` when given, else ``metric.bounds``."""
        return self.bounds if self.bounds is not None else metric.bounds

    def _resolved_denoiser(self) -> DenoiserFn | None:
        if self.denoiser is None:
            return None
        if self._denoiser is None:
            self._denoiser = resolve_denoiser(
                self.denoiser, certifier=self.name, preset=self.denoiser_preset, params=self.denoiser_params
            )
        return self._denoiser

    def _purify(self, noisy: Tensor, generator: torch.Generator) -> Tensor:
        """The denoising step applied to every noisy sample (identity without a denoiser)."""
        denoiser = self._denoiser
        return noisy if denoiser is None else run_denoiser(denoiser, noisy, self.sigma, generator)

    def _scores(self, metric: Metric, images: Tensor) -> Tensor:
        scores = metric(images)
        if not isinstance(scores, Tensor) or scores.numel() != images.shape[0]:
            shape = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
            raise ValueError(
                f"the metric returned {shape} for a batch of {images.shape[0]} images; expected ({images.shape[0]},)"
            )
        return scores.reshape(images.shape[0])

    def _samples_per_call(self) -> int:
        """Noisy samples per forward call (DensePure divides by its number of runs)."""
        return self.batch_size

    def _run(
        self,
        metric: Metric,
        images: Tensor,
        generator: torch.Generator | None,
        per_image: Callable[[Tensor, MonteCarloSampler, torch.Generator], Certificate],
    ) -> list[Certificate]:
        check_images(images)
        device = pick_device(metric, self.device, images.device)
        denoiser = self._resolved_denoiser()
        if isinstance(denoiser, nn.Module):
            denoiser.to(device)
        sampler = MonteCarloSampler(
            self.sigma,
            self._samples_per_call(),
            device,
            clamp=self.clamp,
            autocast=self.autocast,
            channels_last=self.channels_last,
        )
        gen = device_generator(generator, device)
        images = resize_images(images.to(device), self.image_size)
        certificates = []
        for image in images:
            start = time.perf_counter()
            cert = per_image(image, sampler, gen)
            seconds = time.perf_counter() - start
            certificates.append(replace(cert, seconds=seconds, kind=cert.kind or self.certificate_kind))
        return certificates


def classification_presets(**paper: Any) -> dict[str, dict[str, Any]]:
    """Presets of a classification certifier: benchmark A.3.5 parameters plus ``paper``, the options its scripts used.

    ``paper``'s options (clamping, resizing, DensePure's runs) go into every preset, so the
    presets differ only in the smoothing parameters.
    """
    common = {"n0": 100, "n": 1000, "alpha": 0.001, "n_classes": 10}
    return {
        "paper": {"sigma": 0.12, **common, **paper},
        "sigma-0.25": {"sigma": 0.25, **common, **paper},
        "sigma-0.50": {"sigma": 0.50, **common, **paper},
        "fast": {"sigma": 0.12, **common, "n0": 32, "n": 256, **paper},
    }


class ClassificationCertifier(SmoothingCertifier):
    """Randomized smoothing of the metric turned into an ordered classifier (Cohen et al., 2019).

    The score is discretised into ``n_classes`` equal bins over the metric's bounds plus one
    class below and one above (:class:`~iqa_certify.classes.ScoreClasses`). The base classifier
    is ``class(metric(denoise(x + noise)))``; the smoothed classifier predicts the class most
    likely under Gaussian noise.

    ``certify`` (Cohen's CERTIFY): ``n0`` samples choose the top class ``cA`` (ties: the lowest
    class); ``n`` fresh samples count it (``nA``); ``pA`` is the one-sided Clopper-Pearson lower
    bound of ``nA / n`` at level ``alpha``; abstain when ``pA < 1/2``, else the radius is
    ``sigma * Phi^-1(pA)``: with probability at least ``1 - alpha`` the smoothed classifier
    predicts ``cA`` on every ``x + d`` with ``||d||_2 < radius``.

    ``predict`` (Cohen's PREDICT): ``n`` samples; the two most frequent classes ``nA >= nB``;
    abstain unless the two-sided binomial test of ``nA`` out of ``nA + nB`` against 1/2 gives a
    p-value ``<= alpha`` (so ties always abstain). A returned class differs from the smoothed
    classifier's with probability at most ``alpha``.
    """

    certificate_kind: ClassVar[Literal["classification", "regression"] | None] = "classification"
    presets: ClassVar[dict[str, dict[str, Any]]] = classification_presets()
    default_preset: ClassVar[str] = "paper"

    def __init__(
        self,
        sigma: float = 0.12,
        n0: int = 100,
        n: int = 1000,
        alpha: float = 0.001,
        n_classes: int = 10,
        **options: Any,
    ) -> None:
        super().__init__(sigma=sigma, n=n, alpha=alpha, **options)
        if n0 < 1:
            raise ValueError(f"n0 must be >= 1, got {n0}")
        if n_classes < 1:
            raise ValueError(f"n_classes must be >= 1, got {n_classes}")
        self.n0 = int(n0)
        self.n_classes = int(n_classes)

    def classes(self, metric: Metric) -> ScoreClasses:
        """The discretisation used for ``metric``."""
        return ScoreClasses(self.metric_bounds(metric), self.n_classes, bool(metric.higher_is_better))

    def _label_fn(self, metric: Metric, classes: ScoreClasses, generator: torch.Generator) -> SampleFn:
        """Base classifier on a batch of noisy images: ``class(metric(denoise(noisy)))``."""

        def labels(noisy: Tensor) -> Tensor:
            return classes.classify(self._scores(metric, self._purify(noisy, generator)))

        return labels

    def _counts(
        self, fn: SampleFn, image: Tensor, num: int, sampler: MonteCarloSampler, gen: torch.Generator, total: int
    ) -> Tensor:
        labels = sampler.sample(fn, image, num, gen)
        return torch.bincount(labels, minlength=total).cpu()

    # ---------------------------------------------------------------- public API
    def certify(self, metric: Metric, images: Tensor, *, generator: torch.Generator | None = None) -> list[Certificate]:
        """One certificate per image; see the class docstring."""
        require_metric(metric, where=f"certifier {type(self).__name__}")
        classes = self.classes(metric)

        def one(image: Tensor, sampler: MonteCarloSampler, gen: torch.Generator) -> Certificate:
            fn = self._label_fn(metric, classes, gen)
            counts0 = self._counts(fn, image, self.n0, sampler, gen, classes.total)
            top = int(torch.argmax(counts0))  # first maximum: ties go to the lowest class
            counts = self._counts(fn, image, self.n, sampler, gen, classes.total)
            count = int(counts[top])
            p_lower = clopper_pearson_lower(count, self.n, self.alpha)
            extra = {
                "top_class": float(top),
                "top_score": classes.representative(top),
                "count": float(count),
                "p_lower": p_lower,
                "sigma": self.sigma,
                "alpha": self.alpha,
            }
            if p_lower < 0.5:
                return Certificate(abstained=True, n0=self.n0, n=self.n, extra=extra)
            lower, upper = classes.interval(top)
            return Certificate(
                abstained=False,
                prediction=top,
                radius=smoothing_radius(p_lower, self.sigma),
                score=classes.representative(top),
                lower=lower,
                upper=upper,
                n0=self.n0,
                n=self.n,
                extra=extra,
            )

        return self._run(metric, images, generator, one)

    def predict(
        self,
        metric: Metric,
        images: Tensor,
        *,
        generator: torch.Generator | None = None,
        n: int | None = None,
        alpha: float | None = None,
    ) -> list[Certificate]:
        """Smoothed class of each image with the binomial test (no radius); ``n``/``alpha`` override the defaults."""
        num = self.n if n is None else int(n)
        level = self.alpha if alpha is None else float(alpha)
        if num < 1 or not 0.0 < level < 1.0:
            raise ValueError(f"need n >= 1 and alpha in (0, 1), got n={num}, alpha={level}")
        classes = self.classes(metric)

        def one(image: Tensor, sampler: MonteCarloSampler, gen: torch.Generator) -> Certificate:
            counts = self._counts(self._label_fn(metric, classes, gen), image, num, sampler, gen, classes.total)
            order = torch.sort(counts, descending=True, stable=True).indices
            top, second = int(order[0]), int(order[1])
            count_a, count_b = int(counts[top]), int(counts[second])
            p_value = binomial_test_pvalue(count_a, count_a + count_b, 0.5)
            extra = {
                "top_class": float(top),
                "top_score": classes.representative(top),
                "count": float(count_a),
                "runner_up_count": float(count_b),
                "p_value": p_value,
            }
            if p_value > level:
                return Certificate(abstained=True, n=num, extra=extra)
            return Certificate(abstained=False, prediction=top, score=classes.representative(top), n=num, extra=extra)

        return self._run(metric, images, generator, one)


__all__ = ["BoundsLike", "ClassificationCertifier", "SmoothingCertifier"]
