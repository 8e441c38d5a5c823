"""Early, explicit checks of the tensor contract, with errors that say how to fix the input."""

from __future__ import annotations

import inspect
import math
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

import torch
from torch import Tensor

from .errors import UserError

_STATE = threading.local()


@contextmanager
def noisy_inputs() -> Iterator[None]:
    """Inside this block, image checks accept finite values outside [0, 1].

    Randomized smoothing scores Gaussian-noise samples ``x + N(0, sigma^2)`` that are not clipped
    (the benchmark's unclipped variants); the certifier opens this block around those calls, so
    every other caller keeps the strict [0, 1] check. NaN and infinities are refused even here.
    """
    previous = getattr(_STATE, "noisy", False)
    _STATE.noisy = True
    try:
        yield
    finally:
        _STATE.noisy = previous


class ImageContractError(ValueError):
    """An image batch does not follow the (N, 3, H, W) float RGB [0, 1] contract."""


def check_images(images: object, *, what: str = "images", check_range: bool | Literal["finite"] = True) -> Tensor:
    """Return ``images`` unchanged if it is a valid batch, else raise :class:`ImageContractError`.

    ``check_range=True`` (default): finite values in [0, 1] (within :func:`noisy_inputs`, finite
    only). ``"finite"``: finite values of any range (denoisers, which take noisy images).
    ``False``: shape and dtype only, for inner loops whose values were checked at the boundary.
    The value check costs one min/max reduction over the batch.
    """
    if not isinstance(images, Tensor):
        raise ImageContractError(
            f"{what} must be a torch.Tensor of shape (N, 3, H, W), got {type(images).__name__}; "
            "convert with torchvision.transforms.functional.to_tensor or iqa_core.io helpers"
        )
    if images.ndim == 3 and images.shape[0] == 3:
        raise ImageContractError(
            f"{what} has shape {tuple(images.shape)}: a single image needs a batch axis; use images.unsqueeze(0)"
        )
    if images.ndim != 4 or images.shape[1] != 3:
        hint = ""
        if images.ndim == 4 and images.shape[-1] == 3:
            hint = "; it looks channels-last (N, H, W, 3): use images.permute(0, 3, 1, 2)"
        elif images.ndim == 4 and images.shape[1] in (1, 4):
            hint = "; convert grayscale with images.expand(-1, 3, -1, -1) or drop alpha with images[:, :3]"
        raise ImageContractError(f"{what} must have shape (N, 3, H, W), got {tuple(images.shape)}{hint}")
    if not images.is_floating_point():
        raise ImageContractError(
            f"{what} must be a float tensor in [0, 1], got dtype {images.dtype}; "
            "for uint8 images use images.float() / 255"
        )
    if images.shape[0] == 0:
        raise ImageContractError(f"{what} is an empty batch (N = 0)")
    if check_range:
        with torch.no_grad():
            low, high = torch.aminmax(images.detach())
            lo, hi = float(low), float(high)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            bad = int((~torch.isfinite(images.detach())).sum())
            raise ImageContractError(
                f"{what} contains {bad} NaN or infinite value(s); images must be finite values in [0, 1] "
                "(check the decoding or the previous processing step)"
            )
        if check_range == "finite" or getattr(_STATE, "noisy", False):
            return images
        if not (lo >= -1e-6 and hi <= 1 + 1e-6):
            hint = " (it looks like 0-255 values: divide by 255)" if hi > 1.5 else ""
            raise ImageContractError(f"{what} must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}]{hint}")
    return images


class ParameterError(UserError, TypeError, ValueError):
    """A component parameter is unknown, has the wrong type or an impossible value.

    Both a ``TypeError`` (what Python raises for a bad keyword) and a ``ValueError``.
    """


_TYPE_NAMES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "str": (str,),
    "None": (type(None),),
}


def _accepted_types(annotation: Any) -> tuple[type, ...] | None:
    """The types a simple annotation (``int``, ``float | None``, ...) admits; None when it is not simple."""
    if annotation is inspect.Parameter.empty:
        return None
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    accepted: tuple[type, ...] = ()
    for token in (part.strip() for part in str(text).split("|")):
        if token not in _TYPE_NAMES:
            return None
        accepted += _TYPE_NAMES[token]
    return accepted


def value_problem(value: Any, annotation: Any, default: Any = inspect.Parameter.empty) -> str | None:
    """Why ``value`` cannot be passed for a parameter with this annotation / default (None if it can).

    Integers are not booleans, an integer parameter takes no fraction (``iterations=2.5``), a float
    parameter takes ints and floats but never NaN or infinity.
    """
    accepted = _accepted_types(annotation)
    if accepted is None and default not in (inspect.Parameter.empty, None):
        accepted = {bool: (bool,), int: (int,), float: (int, float), str: (str,)}.get(type(default))
    if accepted is None:
        return None
    if value is None:
        return None if type(None) in accepted else "expected a value, got None"
    if isinstance(value, bool) and bool not in accepted:
        return f"expected a number, got {value!r}"
    if not isinstance(value, accepted):
        if float in accepted:
            expected = "a number"
        elif int in accepted:
            expected = "an integer"
        else:
            expected = " or ".join(t.__name__ for t in accepted if t is not type(None))
        return f"expected {expected}, got {value!r}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"expected a finite number, got {value!r}"
    return None


def parameter_problems(factory: Any, params: Mapping[str, Any]) -> list[str]:
    """``"name: why"`` for every parameter ``factory`` cannot take (unknown name, wrong type)."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return []
    parameters = signature.parameters
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    accepted = [n for n, p in parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    problems: list[str] = []
    for key, value in params.items():
        if key not in parameters:
            if not open_ended:
                problems.append(f"{key}: no such parameter; its parameters: {', '.join(accepted) or 'none'}")
            continue
        problem = value_problem(value, parameters[key].annotation, parameters[key].default)
        if problem:
            problems.append(f"{key}: {problem}")
    return problems
