"""How the calibration procedure (benchmark A.3.4) varies an attack's strength."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class CalibrationSpec:
    """One strength parameter, the 10 values it is tried at, and what stays fixed meanwhile.

    ``measure`` is the restriction measure fitted against the parameter (``linf``, ``psnr``,
    ``ssim``, ``l0``); ``fixed`` holds parameters set for the calibration runs only (for example
    a loose ``eps`` so that the step size, not the projection, sets the change, as in the
    reference code); ``budget_param`` names the constructor argument that carries the solved
    restriction into the preset (so the preset's budget equals its target), or None.
    """

    parameter: str
    low: float
    high: float
    measure: str
    fixed: dict[str, Any] = field(default_factory=dict)
    budget_param: str | None = None
    integer: bool = False
    count: int = 10

    def values(self) -> list[float]:
        grid = np.linspace(self.low, self.high, self.count)
        if self.integer:
            return [float(v) for v in np.unique(np.round(grid).astype(int))]
        return [float(v) for v in grid]
