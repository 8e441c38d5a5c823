"""Preset calibration (benchmark A.3.4): fit a line from a strength parameter to the restriction measure.

For one attack and metric: run the attack with its strength parameter at 10 values on a
calibration subset, measure the mean restriction (Linf, PSNR, SSIM of the result against the
source), fit ``measure = slope * value + intercept`` by least squares and solve it for the three
targets (Linf 2/4/8 per 255, SSIM 0.9/0.8/0.75, PSNR 35/30/25 dB), giving the ``weak``,
``medium`` and ``strong`` presets. :func:`calibrate_joint` handles attacks with several strength
parameters (a limitation the benchmark names): they move together along a line between their
low and high values, and the position on that line is calibrated.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from iqa_core import Metric, check_images
from iqa_core.measures import budget_value

from .calibration_spec import CalibrationSpec

TARGETS: dict[str, tuple[float, float, float]] = {
    "linf": (2 / 255, 4 / 255, 8 / 255),
    "ssim": (0.9, 0.8, 0.75),
    "psnr": (35.0, 30.0, 25.0),
}
STRENGTHS = ("weak", "medium", "strong")


@dataclass
class CalibrationResult:
    """What the procedure measured and the presets it solved (JSON-serialisable via :meth:`to_dict`)."""

    attack: str
    metric: str
    measure: str
    parameter: str
    values: list[float]
    measured: list[float]
    slope: float
    intercept: float
    targets: dict[str, float]
    presets: dict[str, dict[str, Any]]
    joint: dict[str, list[float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | os.PathLike[str]) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return target


def load_presets(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """The ``presets`` table of a file written by :meth:`CalibrationResult.save`."""
    data = json.loads(Path(path).read_text())
    return {k: dict(v) for k, v in data["presets"].items()}


def _batches(images: Tensor | Iterable[Tensor]) -> list[Tensor]:
    if isinstance(images, Tensor):
        return [check_images(images)]
    out = [check_images(b.unsqueeze(0) if b.ndim == 3 else b, what="calibration images") for b in images]
    if not out:
        raise ValueError("calibration needs at least one image")
    return out


def mean_restriction(attack: Any, metric: Metric, batches: Sequence[Tensor], measure: str, *, seed: int = 0) -> float:
    """Mean restriction measure of ``attack``'s results over ``batches`` (fits trainable attacks first)."""
    if hasattr(attack, "fit"):
        attack.fit(metric, list(batches), generator=torch.Generator().manual_seed(seed))
    values = []
    for batch in batches:
        adv = attack(metric, batch, generator=torch.Generator(device=batch.device).manual_seed(seed))
        values.append(budget_value(measure, batch, adv).detach().cpu())
    return float(torch.cat(values).mean())


def fit_line(values: Sequence[float], measured: Sequence[float]) -> tuple[float, float]:
    """Least-squares ``measured = slope * value + intercept``; raises when the measure does not vary."""
    slope, intercept = np.polyfit(np.asarray(values, dtype=float), np.asarray(measured, dtype=float), 1)
    if not np.isfinite(slope) or abs(slope) < 1e-12:
        raise ValueError(
            "the restriction measure does not change with the parameter over the tried values "
            f"(measured {list(measured)}); widen the range of values"
        )
    return float(slope), float(intercept)


def _solve(slope: float, intercept: float, targets: Sequence[float], integer: bool, minimum: float) -> list[float]:
    solved = []
    for target in targets:
        value = max((target - intercept) / slope, minimum)
        solved.append(float(max(1, round(value))) if integer else value)
    return solved


def _run(
    make: Callable[[float], Any],
    metric: Metric,
    batches: Sequence[Tensor],
    grid: Sequence[float],
    measure: str,
    targets: Sequence[float] | None,
    seed: int,
) -> tuple[list[float], float, float, tuple[float, ...]]:
    """Measure the mean restriction at every grid value, fit the line; returns the chosen targets too."""
    if measure not in TARGETS and targets is None:
        raise ValueError(f"no default targets for measure {measure!r}; pass targets=(weak, medium, strong)")
    chosen = tuple(float(t) for t in targets) if targets is not None else TARGETS[measure]
    if len(chosen) != 3:
        raise ValueError(f"targets must be three values (weak, medium, strong), got {chosen}")
    measured = [mean_restriction(make(v), metric, batches, measure, seed=seed) for v in grid]
    slope, intercept = fit_line(grid, measured)
    return measured, slope, intercept, chosen


def calibrate(
    factory: Callable[..., Any],
    metric: Metric,
    images: Tensor | Iterable[Tensor],
    *,
    spec: CalibrationSpec | None = None,
    values: Sequence[float] | None = None,
    targets: Sequence[float] | None = None,
    fixed: Mapping[str, Any] | None = None,
    seed: int = 0,
) -> CalibrationResult:
    """Calibrate the presets of the attack class ``factory`` (benchmark A.3.4).

    ``spec`` defaults to ``factory.calibration``; ``values`` overrides its 10 values, ``fixed``
    adds parameters held fixed in every run (and copied into the presets).
    """
    spec = spec if spec is not None else getattr(factory, "calibration", None)
    if spec is None:
        raise ValueError(
            f"{getattr(factory, 'name', factory)!r} declares no calibration spec; pass spec=CalibrationSpec(...)"
        )
    batches = _batches(images)
    base = {**spec.fixed, **(fixed or {})}
    grid = list(values) if values is not None else spec.values()
    if len(grid) < 2:
        raise ValueError("calibration needs at least two parameter values")

    def make(v: float) -> Any:
        return factory(**{**base, spec.parameter: int(v) if spec.integer else v})

    measured, slope, intercept, chosen = _run(make, metric, batches, grid, spec.measure, targets, seed)
    solved = _solve(slope, intercept, chosen, spec.integer, 1.0 if spec.integer else 1e-12)
    presets: dict[str, dict[str, Any]] = {}
    for strength, value, target in zip(STRENGTHS, solved, chosen, strict=True):
        preset = {**base, spec.parameter: int(value) if spec.integer else value}
        if spec.budget_param is not None and spec.budget_param != spec.parameter:
            preset[spec.budget_param] = target
        presets[strength] = preset
    return CalibrationResult(
        attack=getattr(factory, "name", str(factory)),
        metric=getattr(metric, "name", type(metric).__name__),
        measure=spec.measure,
        parameter=spec.parameter,
        values=grid,
        measured=measured,
        slope=slope,
        intercept=intercept,
        targets=dict(zip(STRENGTHS, chosen, strict=True)),
        presets=presets,
    )


def calibrate_joint(
    factory: Callable[..., Any],
    metric: Metric,
    images: Tensor | Iterable[Tensor],
    ranges: Mapping[str, tuple[float, float]],
    *,
    measure: str,
    targets: Sequence[float] | None = None,
    fixed: Mapping[str, Any] | None = None,
    integer: Sequence[str] = (),
    count: int = 10,
    seed: int = 0,
) -> CalibrationResult:
    """Several strength parameters moved together: ``p_k(t) = low_k + t (high_k - low_k)``, ``t`` in [0, 1].

    The line is fitted from ``t`` to the mean restriction measure and solved for the targets;
    the presets hold each parameter at its solved ``p_k(t)`` (parameters in ``integer`` rounded).
    """
    if not ranges:
        raise ValueError("ranges must name at least one parameter")
    batches = _batches(images)
    base = dict(fixed or {})

    def params(t: float) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, (low, high) in ranges.items():
            value = low + t * (high - low)
            out[key] = max(1, round(value)) if key in integer else value
        return out

    grid = [float(t) for t in np.linspace(0, 1, count)]
    measured, slope, intercept, chosen = _run(
        lambda t: factory(**{**base, **params(t)}),
        metric,
        batches,
        grid,
        measure,
        targets,
        seed,
    )
    solved = _solve(slope, intercept, chosen, False, 0.0)
    presets = {strength: {**base, **params(t)} for strength, t in zip(STRENGTHS, solved, strict=True)}
    return CalibrationResult(
        attack=getattr(factory, "name", str(factory)),
        metric=getattr(metric, "name", type(metric).__name__),
        measure=measure,
        parameter="t",
        values=grid,
        measured=measured,
        slope=slope,
        intercept=intercept,
        targets=dict(zip(STRENGTHS, chosen, strict=True)),
        presets=presets,
        joint={k: [float(v) for v in r] for k, r in ranges.items()},
    )
