"""Conformance check of a metric's declared direction: quality scores fall as a graded distortion grows.

``higher_is_better`` decides which way every attack pushes and how every correlation with MOS is
oriented, and nothing else in the contract checks it: a metric that declares it the wrong way round
passes :func:`~iqa_core.testing.check_metric` and then produces attacks that lower "quality" and
negative SROCCs. :func:`check_direction` scores seeded synthetic photographs (a dead-leaves model:
overlapping discs with power-law radii, whose edges and scale statistics resemble natural images)
under Gaussian blur and Gaussian noise of increasing strength, and requires the *oriented* score
(negated for a lower-is-better metric) to fall with the strength: the Spearman correlation of
level and oriented score, averaged over the images, must be at most ``-min_correlation``.

>>> from iqa_core.testing.toys import ToyMetric
>>> report = check_direction(ToyMetric(), distortions=("blur",))
>>> report.mean["blur"] < -0.8
True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..measures import _gaussian_window
from ..protocols import Metric
from ..scoring import oriented, spearman

__all__ = ["DEFAULT_LEVELS", "DirectionReport", "check_direction", "dead_leaves", "distort"]

#: Strengths per distortion, weakest first (level 0 is the clean image): the Gaussian blur's sigma
#: in pixels, the Gaussian noise's standard deviation on the [0, 1] scale.
DEFAULT_LEVELS: dict[str, tuple[float, ...]] = {
    "blur": (0.0, 0.6, 1.0, 1.5, 2.2, 3.0),
    "noise": (0.0, 0.02, 0.05, 0.09, 0.14, 0.2),
}
_WHAT = {"blur": "Gaussian blur", "noise": "Gaussian noise"}


def dead_leaves(
    n: int = 4,
    size: tuple[int, int] = (96, 96),
    *,
    seed: int = 0,
    discs: int | None = None,
    optical_blur: float = 0.8,
) -> Tensor:
    """``n`` seeded dead-leaves images ``(n, 3, H, W)`` in [0, 1].

    Discs of random colour with radii drawn from ``p(r) ~ r^-3`` (the scale-invariant law of
    natural images) between 1 pixel and a quarter of the shorter side, painted one over another
    with anti-aliased edges; a light shading gradient keeps flat regions from being perfectly
    flat. ``optical_blur`` (a Gaussian sigma in pixels) stands for a camera's lens: perfectly
    sharp synthetic edges look over-sharpened to learned metrics, which then prefer them slightly
    blurred and would fail the blur check for a reason that has nothing to do with direction.
    """
    if n < 1:
        raise ValueError(f"dead_leaves needs n >= 1 images, got {n}")
    h, w = size
    if h < 8 or w < 8:
        raise ValueError(f"dead_leaves needs images of at least 8x8 pixels, got {h}x{w}")
    g = torch.Generator().manual_seed(seed)
    count = discs if discs is not None else max(200, (h * w) // 24)
    r_min, r_max = 1.0, min(h, w) / 4
    images = []
    for _ in range(n):
        image = torch.rand(3, 1, 1, generator=g).expand(3, h, w).clone()
        u = torch.rand(count, generator=g)
        radii = (r_min**-2 - u * (r_min**-2 - r_max**-2)) ** -0.5  # inverse CDF of p(r) ~ r^-3
        cy = torch.rand(count, generator=g) * h
        cx = torch.rand(count, generator=g) * w
        colours = torch.rand(count, 3, generator=g)
        for k in range(count):
            r, y, x = float(radii[k]), float(cy[k]), float(cx[k])
            y0, y1 = max(0, int(y - r - 1)), min(h, int(y + r + 2))
            x0, x1 = max(0, int(x - r - 1)), min(w, int(x + r + 2))
            if y0 >= y1 or x0 >= x1:
                continue
            yy = torch.arange(y0, y1, dtype=torch.float32).view(-1, 1) + 0.5
            xx = torch.arange(x0, x1, dtype=torch.float32).view(1, -1) + 0.5
            cover = (r - ((yy - y) ** 2 + (xx - x) ** 2).sqrt() + 0.5).clamp(0, 1)  # pixel coverage, roughly
            patch = image[:, y0:y1, x0:x1]
            image[:, y0:y1, x0:x1] = patch + cover * (colours[k].view(3, 1, 1) - patch)
        angle = float(torch.rand((), generator=g)) * 2 * math.pi
        ys = torch.arange(h, dtype=torch.float32).view(h, 1) / h - 0.5
        xs = torch.arange(w, dtype=torch.float32).view(1, w) / w - 0.5
        shading = (math.cos(angle) * xs + math.sin(angle) * ys) * 0.2
        images.append((0.1 + 0.8 * image + shading).clamp(0, 1))
    return _gaussian_blur(torch.stack(images), optical_blur).clamp(0, 1)


@functools.lru_cache(maxsize=8)
def _default_images(size: tuple[int, int], seed: int) -> Tensor:
    return dead_leaves(4, size, seed=seed)


def _gaussian_blur(images: Tensor, sigma: float) -> Tensor:
    if sigma <= 0:
        return images
    radius = max(1, math.ceil(3 * sigma))
    radius = min(radius, images.shape[-1] - 1, images.shape[-2] - 1)
    kernel = _gaussian_window(2 * radius + 1, sigma, images.device, images.dtype)
    c = images.shape[1]
    padded = F.pad(images, (radius, radius, radius, radius), mode="reflect")
    out = F.conv2d(padded, kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(out, kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def distort(images: Tensor, kind: str, level: float, *, seed: int = 0) -> Tensor:
    """``images`` under ``kind`` (``"blur"``: Gaussian, sigma in pixels; ``"noise"``: Gaussian, std).

    The noise pattern depends on ``seed`` only, so the levels of one image differ in strength alone.
    """
    if kind == "blur":
        return _gaussian_blur(images, level)
    if kind == "noise":
        g = torch.Generator().manual_seed(seed)
        pattern = torch.randn(images.shape, generator=g).to(images.device, images.dtype)
        return (images + level * pattern).clamp(0, 1)
    raise ValueError(f"unknown distortion {kind!r}; choose from {sorted(DEFAULT_LEVELS)}")


@dataclass(frozen=True)
class DirectionReport:
    """What :func:`check_direction` measured (returned when the check passes).

    ``scores[kind]`` is ``(images, levels)`` raw scores; ``correlations[kind]`` the Spearman
    correlation of level and oriented score per image; ``mean[kind]`` their mean.
    """

    metric: str
    higher_is_better: bool
    levels: dict[str, tuple[float, ...]]
    scores: dict[str, list[list[float]]] = field(default_factory=dict)
    correlations: dict[str, list[float]] = field(default_factory=dict)
    mean: dict[str, float] = field(default_factory=dict)


def _device_of(metric: object) -> torch.device:
    if isinstance(metric, nn.Module):
        for tensor in (*metric.parameters(), *metric.buffers()):
            return tensor.device
    return torch.device("cpu")


def _size_for(metric: object, size: tuple[int, int] | None) -> tuple[int, int]:
    if size is not None:
        return size
    min_size = getattr(metric, "min_size", None)
    lo_h, lo_w = (min_size, min_size) if isinstance(min_size, int) else (min_size or (0, 0))
    return max(96, int(lo_h)), max(96, int(lo_w))


def check_direction(
    metric: Metric,
    images: Tensor | None = None,
    *,
    distortions: Sequence[str] = ("blur", "noise"),
    levels: dict[str, Sequence[float]] | None = None,
    min_correlation: float = 0.8,
    size: tuple[int, int] | None = None,
    seed: int = 0,
) -> DirectionReport:
    """Assert that ``metric``'s oriented score falls as each distortion in ``distortions`` grows.

    Args:
        metric: the metric under test; its ``higher_is_better`` is the claim being checked.
        images: clean ``(N, 3, H, W)`` images in [0, 1]; default :func:`dead_leaves` (4 images of
            ``size``, at least 96x96 and the metric's ``min_size``).
        distortions: which of ``"blur"`` and ``"noise"`` to apply. A metric built to see one kind
            of degradation only (a sharpness measure is blind to, even raised by, noise) names it.
        levels: strengths per distortion, weakest first (default :data:`DEFAULT_LEVELS`).
        min_correlation: the mean Spearman correlation of level and oriented score must be at most
            ``-min_correlation`` for every distortion.
        seed: seeds the default images and the noise pattern.

    Returns:
        A :class:`DirectionReport` with the scores and correlations.

    Raises:
        AssertionError: naming the metric, the distortion, the measured correlations and the likely
            fix (a reversed ``higher_is_better`` when the scores clearly move the wrong way).
    """
    name = str(getattr(metric, "name", type(metric).__name__))
    higher = getattr(metric, "higher_is_better", None)
    if not isinstance(higher, bool):
        raise AssertionError(f"{name}: higher_is_better must be a bool, got {higher!r}")
    if not 0 < min_correlation <= 1:
        raise ValueError(f"min_correlation must be in (0, 1], got {min_correlation}")
    if not distortions:
        raise ValueError(f"distortions must name at least one of {sorted(DEFAULT_LEVELS)}")
    chosen = {k: tuple(float(v) for v in (levels or DEFAULT_LEVELS).get(k, ())) for k in distortions}
    for kind, strengths in chosen.items():
        if kind not in DEFAULT_LEVELS:
            raise ValueError(f"unknown distortion {kind!r}; choose from {sorted(DEFAULT_LEVELS)}")
        if len(strengths) < 3 or list(strengths) != sorted(set(strengths)):
            raise ValueError(f"levels of {kind!r} must be at least 3 increasing strengths, got {strengths}")
    device = _device_of(metric)
    clean = _default_images(_size_for(metric, size), seed).clone() if images is None else images
    clean = clean.to(device)
    report = DirectionReport(metric=name, higher_is_better=higher, levels=chosen)
    for kind, strengths in chosen.items():
        batch = torch.stack([distort(clean, kind, s, seed=seed) for s in strengths], dim=1)  # (N, L, 3, H, W)
        with torch.no_grad():
            raw = metric(batch.flatten(0, 1)).detach().float().cpu()
        if raw.numel() != batch.shape[0] * batch.shape[1]:
            raise AssertionError(f"{name}: must return one score per image, returned shape {tuple(raw.shape)}")
        raw = raw.view(clean.shape[0], len(strengths))
        if not torch.isfinite(raw).all():
            raise AssertionError(f"{name}: non-finite scores under {kind}: {raw.tolist()}")
        per_image = [spearman(strengths, oriented(row.numpy(), higher)) for row in raw]
        per_image = [-0.0 if math.isnan(c) else c for c in per_image]  # constant scores: no response at all
        mean = sum(per_image) / len(per_image)
        report.scores[kind] = raw.tolist()
        report.correlations[kind] = per_image
        report.mean[kind] = mean
    failed = [kind for kind in chosen if report.mean[kind] > -min_correlation]
    if not failed:
        return report
    passed = [kind for kind in chosen if kind not in failed]
    kind = max(failed, key=lambda k: report.mean[k])  # the most reversed response explains the most
    what = _WHAT[kind]
    shown = ", ".join(f"{c:+.2f}" for c in report.correlations[kind])
    n_images = len(report.correlations[kind])
    measured = (
        f"the Spearman correlation of {what} strength {list(chosen[kind])} with the oriented score (the score"
        f"{'' if higher else ', negated'}) is {report.mean[kind]:+.2f} on average over {n_images} images "
        f"({shown}); it must be <= {-min_correlation:+.2f}"
    )
    rest = tuple(k for k in chosen if k != kind)
    leave_out = f"if it is not meant to judge {kind}, leave it out (distortions={rest!r})"
    if report.mean[kind] >= min_correlation and not passed:
        raise AssertionError(
            f"{name}: declares higher_is_better={higher}, but its scores {'rise' if higher else 'fall'} as {what} "
            f"grows: {measured}. The declared direction is probably reversed: declare higher_is_better={not higher} "
            f"(as_metric(..., higher_is_better={not higher})) if {'larger' if higher else 'smaller'} scores mean "
            "worse quality."
        )
    if report.mean[kind] >= min_correlation:
        raise AssertionError(
            f"{name}: its scores get better as {what} grows although they get worse under "
            f"{', '.join(_WHAT[k] for k in passed)}, so the declared direction (higher_is_better={higher}) fits "
            f"and the metric rewards {kind}: {measured}. {leave_out[0].upper()}{leave_out[1:]}."
        )
    raise AssertionError(
        f"{name}: scores do not consistently get worse as {what} grows: {measured}. Check the metric's weights "
        f"and preprocessing; {leave_out}."
    )
