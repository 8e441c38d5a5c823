"""Per-metric precision switches: autocast (bf16 / fp16), channels-last, ``torch.compile``.

:func:`with_precision` wraps one metric so that only *its* forward (and the backward through it)
runs in lower precision: an attack's own arithmetic (steps, projections, clipping) stays float32,
and scores come back as float32. The wrapper forwards every other attribute (``name``,
``higher_is_better``, ``bounds``, ``min_size``, ...) to the metric, so it is accepted wherever the
metric is.

How far each switch moves each benchmark metric's scores is measured, not assumed:
``python tools/perf/precision.py`` writes the deviation (fraction of the bound diameter, SROCC
against float32) and the speed ratio per metric to ``docs/perf-precision.json``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .errors import UserError

AUTOCAST_DTYPES: dict[str, torch.dtype | None] = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}
"""Names accepted by ``Precision.autocast`` and the dtypes they run in."""


class PrecisionError(UserError, ValueError):
    """A precision setting is invalid; the message names it and the accepted values."""


@dataclass(frozen=True)
class Precision:
    """How a metric runs: ``autocast`` (``off``, ``bf16``, ``fp16``), ``channels_last``, ``compile``.

    ``compile`` is ``false``, ``true`` (``torch.compile`` with its default backend, inductor) or a
    backend name (``"inductor"``, ``"aot_eager"``, ``"eager"``, ...).
    """

    autocast: str = "off"
    channels_last: bool = False
    compile: bool | str = False

    def __post_init__(self) -> None:
        if self.autocast not in AUTOCAST_DTYPES:
            raise PrecisionError(
                f"precision.autocast must be one of {', '.join(AUTOCAST_DTYPES)}, got {self.autocast!r}"
            )
        if not isinstance(self.channels_last, bool):
            raise PrecisionError(f"precision.channels_last must be true or false, got {self.channels_last!r}")
        if not isinstance(self.compile, (bool, str)) or self.compile == "":
            raise PrecisionError(
                f"precision.compile must be true, false or a torch.compile backend name, got {self.compile!r}"
            )

    @property
    def is_default(self) -> bool:
        """True when nothing changes (float32, contiguous, eager)."""
        return self == Precision()

    @property
    def dtype(self) -> torch.dtype | None:
        return AUTOCAST_DTYPES[self.autocast]

    def to_dict(self) -> dict[str, Any]:
        return {"autocast": self.autocast, "channels_last": self.channels_last, "compile": self.compile}

    @classmethod
    def from_mapping(cls, value: Mapping[str, Any] | None, *, where: str = "precision") -> Precision:
        """Build from a config mapping, naming unknown keys and bad values with ``where``."""
        if value is None:
            return cls()
        if not isinstance(value, Mapping):
            raise PrecisionError(
                f"{where}: expected a mapping such as {{autocast: bf16, channels_last: true}}, got {value!r}"
            )
        unknown = sorted(set(value) - {"autocast", "channels_last", "compile"})
        if unknown:
            raise PrecisionError(
                f"{where}: unknown key(s) {', '.join(unknown)}; expected autocast, channels_last, compile"
            )
        try:
            return cls(**dict(value))
        except PrecisionError as error:
            raise PrecisionError(f"{where}: {error}") from None


class PrecisionMetric(nn.Module):
    """A metric whose forward runs under a :class:`Precision` (built by :func:`with_precision`)."""

    def __init__(self, metric: nn.Module, precision: Precision) -> None:
        super().__init__()
        self.metric = metric
        self.precision = precision
        if precision.channels_last:
            metric.to(memory_format=torch.channels_last)
        # kept outside the module tree: the compiled wrapper shares the metric's parameters
        run: Any = metric
        if precision.compile:
            backend = "inductor" if precision.compile is True else str(precision.compile)
            run = torch.compile(metric, backend=backend)
        object.__setattr__(self, "_run", run)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "metric":
                raise
            return getattr(self._modules["metric"], name)

    def _autocast(self, device: torch.device) -> contextlib.AbstractContextManager[Any]:
        dtype = self.precision.dtype
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=dtype)

    def forward(self, images: Tensor) -> Tensor:
        x = images.contiguous(memory_format=torch.channels_last) if self.precision.channels_last else images
        with self._autocast(images.device):
            scores = self._run(x)
        return scores.float() if scores.is_floating_point() else scores


def with_precision(metric: Any, precision: Precision | Mapping[str, Any] | None) -> Any:
    """``metric`` running under ``precision``; the metric itself when the precision is the default."""
    if not isinstance(precision, Precision):
        precision = Precision.from_mapping(precision)
    if precision.is_default:
        return metric
    if not isinstance(metric, nn.Module):
        raise PrecisionError(
            f"precision switches need an nn.Module metric, got {type(metric).__name__}; "
            "wrap a function with iqa_core.as_metric first"
        )
    return PrecisionMetric(metric, precision)
