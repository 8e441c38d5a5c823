"""Adapters at the edge: any model becomes a :class:`~iqa_core.protocols.Metric`, any function a Defence.

Users arrive with an ``nn.Module`` that maps images to scores, a pyiqa ``InferenceModel`` or a plain
function. :func:`as_metric` gives it the few attributes every attack, defence and certifier reads
(``name``, ``higher_is_better``, ``bounds``, ``differentiable``) without changing what it computes;
:func:`as_defence` does the same for any ``images -> images`` callable. :func:`require_metric` is
the check components run on what they are given, so a bare module fails with a message naming
``as_metric`` instead of an ``AttributeError`` deep inside an attack.

>>> import torch
>>> from iqa_core import as_metric
>>> brightness = as_metric(lambda x: 100 * x.mean((1, 2, 3)), higher_is_better=True, bounds=(0, 100))
>>> brightness(torch.full((2, 3, 8, 8), 0.25)).tolist()
[25.0, 25.0]
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from .types import Bounds
from .validation import check_images

__all__ = ["FunctionDefence", "ModelMetric", "as_defence", "as_metric", "require_metric"]

_METRIC_ATTRIBUTES = ("name", "higher_is_better", "bounds", "differentiable")


def _is_pyiqa_model(model: Any) -> bool:
    """pyiqa's ``InferenceModel``: the network is ``.net``, the direction ``.lower_better``."""
    return isinstance(model, nn.Module) and hasattr(model, "net") and hasattr(model, "lower_better")


class ModelMetric(nn.Module):
    """A model or function presented as a Metric (built by :func:`as_metric`)."""

    def __init__(
        self,
        model: Callable[[Tensor], Tensor],
        *,
        name: str,
        higher_is_better: bool,
        bounds: Bounds | None,
        differentiable: bool,
    ) -> None:
        super().__init__()
        self.model = model  # an nn.Module is registered as a submodule (so .to() and .eval() reach it)
        self.name = name
        self.higher_is_better = bool(higher_is_better)
        self.differentiable = differentiable
        self._bounds = bounds

    @property
    def bounds(self) -> Bounds:
        """The declared bounds; without them, the unit range with a one-time warning (see :func:`as_metric`)."""
        if self._bounds is None:
            warnings.warn(
                f"metric {self.name!r} has no bounds: attack losses are divided by diam = 1 (only the step "
                "scale of Adam-based attacks depends on it) and D / R scores are not meaningful; pass "
                "bounds=(lower, upper) to as_metric, or measure them with iqa-metrics (`pip install iqa-metrics`, "
                "then `iqa-metrics bounds`)",
                stacklevel=2,
            )
            self._bounds = Bounds(0.0, 1.0)
        return self._bounds

    @bounds.setter
    def bounds(self, value: Bounds | tuple[float, float]) -> None:
        self._bounds = value if isinstance(value, Bounds) else Bounds(*map(float, value))

    def forward(self, images: Tensor) -> Tensor:
        check_images(images)
        scores = self.model(images)
        if not isinstance(scores, Tensor):
            raise TypeError(f"metric {self.name!r} returned {type(scores).__name__}; it must return a tensor of scores")
        if scores.numel() != images.shape[0]:
            raise ValueError(
                f"metric {self.name!r} returned {scores.numel()} values for {images.shape[0]} images; "
                "it must return one score per image, shape (N,) or (N, 1)"
            )
        return scores.reshape(images.shape[0])


def as_metric(
    model: Any,
    *,
    higher_is_better: bool | None = None,
    bounds: Bounds | tuple[float, float] | None = None,
    name: str | None = None,
    differentiable: bool = True,
) -> ModelMetric:
    """Wrap ``model`` (``nn.Module``, pyiqa ``InferenceModel`` or function ``images -> scores``) as a Metric.

    ``higher_is_better`` says whether larger scores mean better quality (read from a pyiqa model's
    ``lower_better`` when omitted; required otherwise). ``bounds`` is the score range that
    normalises attack losses and the benchmark's scores; it may be given later (``metric.bounds =
    (lo, hi)``), e.g. after measuring it. A pyiqa model is called through its network
    (``model.net``) so that gradients flow even when it was created without ``as_loss=True``.
    An object that already is a Metric is returned unchanged when nothing is overridden.
    """
    if isinstance(model, ModelMetric) and higher_is_better is None and bounds is None and name is None:
        return model
    call: Callable[[Tensor], Tensor] = model
    if _is_pyiqa_model(model):
        if higher_is_better is None:
            higher_is_better = not bool(model.lower_better)
        call = model.net
        name = name or str(getattr(model, "metric_name", "pyiqa-metric"))
    if higher_is_better is None:
        given = getattr(model, "higher_is_better", None)
        if given is None:
            raise TypeError("as_metric needs higher_is_better=True or False (do larger scores mean better quality?)")
        higher_is_better = bool(given)
    if bounds is None and isinstance(getattr(model, "bounds", None), Bounds):
        bounds = model.bounds
    if bounds is not None and not isinstance(bounds, Bounds):
        bounds = Bounds(*map(float, bounds))
    if not callable(call):
        raise TypeError(f"as_metric needs a model or function images -> scores, got {type(model).__name__}")
    label = name or getattr(model, "name", None) or getattr(model, "__name__", None) or type(model).__name__
    return ModelMetric(
        call, name=str(label), higher_is_better=higher_is_better, bounds=bounds, differentiable=differentiable
    )


def require_metric(metric: Any, *, where: str = "this component") -> Any:
    """Return ``metric`` if it has the Metric attributes, else raise a TypeError naming :func:`as_metric`."""
    missing = [attribute for attribute in _METRIC_ATTRIBUTES if not hasattr(type(metric), attribute)]
    missing = [attribute for attribute in missing if not hasattr(metric, attribute)]
    if missing:
        kind = "an nn.Module" if isinstance(metric, nn.Module) else type(metric).__name__
        raise TypeError(
            f"{where} needs a Metric, got {kind} without {', '.join(missing)}: wrap it with "
            "iqa_core.as_metric(model, higher_is_better=..., bounds=(lower, upper))"
        )
    return metric


class FunctionDefence(nn.Module):
    """An ``images -> images`` callable presented as a Defence (built by :func:`as_defence`)."""

    def __init__(
        self,
        function: Callable[..., Tensor],
        *,
        name: str,
        differentiable: bool,
        randomized: bool,
        takes_generator: bool,
    ) -> None:
        super().__init__()
        self.function = function
        self.name = name
        self.differentiable = differentiable
        self.randomized = randomized
        self._takes_generator = takes_generator

    def forward(self, images: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        check_images(images)
        out = self.function(images, generator=generator) if self._takes_generator else self.function(images)
        if not isinstance(out, Tensor) or out.shape[0] != images.shape[0] or out.shape[1] != 3:
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(f"defence {self.name!r} must return an (N, 3, H, W) batch, got {shape}")
        return out.clamp(0, 1)


def as_defence(
    function: Callable[..., Tensor],
    *,
    differentiable: bool = False,
    randomized: bool = False,
    name: str | None = None,
    takes_generator: bool = False,
) -> FunctionDefence:
    """Wrap an ``images -> images`` callable as a Defence.

    ``differentiable=True`` lets adaptive attacks back-propagate through it; otherwise they use
    BPDA with the identity (the safe default for an unknown function). ``randomized=True`` makes
    adaptive attacks average over EOT draws; pass ``takes_generator=True`` when the function
    accepts ``generator=`` for its randomness.
    """
    if not callable(function):
        raise TypeError(f"as_defence needs a callable images -> images, got {type(function).__name__}")
    label = name or getattr(function, "name", None) or getattr(function, "__name__", None) or type(function).__name__
    return FunctionDefence(
        function,
        name=str(label),
        differentiable=differentiable,
        randomized=randomized,
        takes_generator=takes_generator,
    )
