"""Value types shared by every package: frozen dataclasses, no behaviour beyond validation."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Literal

BudgetKind = Literal["linf", "l2", "l0", "psnr", "ssim", "unrestricted"]
BUDGET_KINDS: tuple[str, ...] = ("linf", "l2", "l0", "psnr", "ssim", "unrestricted")


@dataclass(frozen=True)
class Bounds:
    """Score range of a metric (benchmark Table 6): ``lower`` and ``upper`` with ``diam``.

    The benchmark normalises every score difference by ``diam = upper - lower`` so that
    metrics with different scales can be compared.
    """

    lower: float
    upper: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lower) and math.isfinite(self.upper)):
            raise ValueError(f"Bounds must be finite, got lower={self.lower}, upper={self.upper}")
        if self.upper <= self.lower:
            raise ValueError(
                f"Bounds need upper > lower, got lower={self.lower}, upper={self.upper}; "
                "swap them or measure the bounds again"
            )

    @property
    def diam(self) -> float:
        """Width of the score range, ``upper - lower``."""
        return self.upper - self.lower

    def normalise(self, score: float) -> float:
        """Map ``score`` to ``[0, 1]`` over the bounds (values outside stay outside)."""
        return (score - self.lower) / self.diam


class Threat(enum.StrEnum):
    """What an attack may use: gradients (white box) or scores only (black box)."""

    WHITE_BOX = "white-box"
    BLACK_BOX = "black-box"


@dataclass(frozen=True)
class Budget:
    """The restriction an attack keeps to.

    ``kind`` is one of ``linf`` (max absolute pixel change, images in [0, 1]), ``l2``,
    ``l0`` (number of changed pixels), ``psnr`` (minimum PSNR in dB), ``ssim`` (minimum
    SSIM) or ``unrestricted`` (``value`` is then ignored and may be ``inf``).
    """

    kind: BudgetKind
    value: float = math.inf

    def __post_init__(self) -> None:
        if self.kind not in BUDGET_KINDS:
            raise ValueError(f"unknown budget kind {self.kind!r}; use one of {', '.join(BUDGET_KINDS)}")
        if self.kind != "unrestricted":
            if not math.isfinite(self.value) or self.value < 0:
                raise ValueError(f"a {self.kind} budget needs a finite value >= 0, got {self.value}")
            if self.kind == "ssim" and self.value > 1:
                raise ValueError(f"an SSIM budget is a minimum SSIM in [0, 1], got {self.value}")
            if self.kind == "linf" and self.value > 1:
                raise ValueError(
                    f"a linf budget is a pixel change on images in [0, 1], so at most 1, got {self.value} "
                    f"(for {self.value:g}/255 pass {self.value / 255:.6g})"
                )

    @property
    def is_restricted(self) -> bool:
        return self.kind != "unrestricted"

    def __str__(self) -> str:
        if self.kind == "unrestricted":
            return "unrestricted"
        if self.kind == "linf":
            return f"linf<={self.value * 255:.3g}/255"
        if self.kind in ("psnr", "ssim"):
            return f"{self.kind}>={self.value:.3g}"
        return f"{self.kind}<={self.value:.3g}"


@dataclass(frozen=True)
class Certificate:
    """One image's certificate from a :class:`~iqa_core.protocols.Certifier`.

    Classification-based certifiers fill ``prediction`` with the class index and ``radius``
    with the certified L2 radius; regression-based ones (median smoothing) fill ``score``
    with the smoothed score, ``lower``/``upper`` with the certified score bounds and
    ``delta``/``relative_delta`` with the certified change (``delta / diam``).

    ``kind`` (``"classification"`` / ``"regression"``) is set by the certifier; when it is
    ``None``, :func:`iqa_core.scoring.certificate_kind` infers it (a certificate with a delta is a
    regression one). A regression certificate has no radius: its ``radius`` field means nothing.
    """

    abstained: bool
    prediction: int | None = None
    radius: float = 0.0
    score: float | None = None
    lower: float | None = None
    upper: float | None = None
    delta: float | None = None
    relative_delta: float | None = None
    n0: int = 0
    n: int = 0
    seconds: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)
    kind: Literal["classification", "regression"] | None = None

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in ("classification", "regression"):
            raise ValueError(f"Certificate kind must be 'classification' or 'regression', got {self.kind!r}")
