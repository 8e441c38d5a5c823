"""Parity with official code: seeded weights and inputs, golden files, comparisons.

A parity check runs the *official* implementation of a component (from a local checkout, by a
generator under ``tools/parity/``) and this project's implementation on the same random weights
and the same seeded inputs, and compares the numbers. Only the numbers travel: the generator writes
a small JSON "golden" file, the package's tests read it back and compare.

Both sides must build identical weights without shipping them, so weights come from
:func:`seeded_state_dict`, a pure function of each state-dict key and its shape (a port that loads
the official checkpoint unchanged has the same keys, hence the same weights). Inputs come from
:func:`seeded_images`, a pure function of a seed and a shape. Both are deterministic on the CPU
across machines for a given torch version.

Golden file format (JSON, one per component)::

    {"component": "linearity", "reference": {"repo": "lidq92/LinearityIQA", "commit": "<40 hex>",
     "entry": "IQAmodel.py: IQAModel + test_demo.py output mapping"},
     "generator": "tools/parity/linearity.py", "torch": "2.14.1", "created": "2026-11-30",
     "notes": "...", "cases": [{"name": "...", "inputs": {...}, "outputs": {"score": [...]}}]}
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "Golden",
    "assert_matches_golden",
    "gradient_summary",
    "load_golden",
    "reference_commit",
    "seeded_images",
    "seeded_positions",
    "seeded_state_dict",
    "seeded_weights_",
    "to_jsonable",
    "to_uint8",
    "write_golden",
]

_STAT_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


def _key_generator(key: str, seed: int) -> torch.Generator:
    return torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(key.encode())) % (2**63))


def _seeded_tensor(key: str, shape: Sequence[int], dtype: torch.dtype, seed: int, scale: float) -> Tensor:
    shape = tuple(int(s) for s in shape)
    leaf = key.rsplit(".", 1)[-1]
    if not dtype.is_floating_point:
        return torch.zeros(shape, dtype=dtype)
    if leaf == "running_mean":
        return torch.zeros(shape, dtype=dtype)
    if leaf == "running_var":
        return torch.ones(shape, dtype=dtype)
    gen = _key_generator(key, seed)
    noise = torch.randn(shape, generator=gen, dtype=torch.float64)
    if len(shape) >= 2:  # conv / linear weights: fan-in scaling keeps deep random nets finite
        fan_in = math.prod(shape[1:])
        values = noise * (scale / math.sqrt(max(fan_in, 1)))
    elif leaf == "weight":  # normalisation scales
        values = 1.0 + 0.1 * noise
    else:  # biases, 1-D parameters, scalars
        values = 0.05 * noise
    return values.to(dtype)


def seeded_state_dict(
    layout: nn.Module | Mapping[str, Tensor | Sequence[int]], seed: int = 0, *, scale: float = 1.0
) -> dict[str, Tensor]:
    """Deterministic random weights, one tensor per key, a pure function of (key, shape, seed).

    ``layout`` is a module (its ``state_dict()`` gives keys, shapes and dtypes) or a mapping of
    key to tensor or shape. Matrices and kernels are ``N(0, scale^2 / fan_in)``, normalisation
    scales ``1 + 0.1 N``, biases ``0.05 N``, running means 0, running variances 1, integer
    buffers 0.
    """
    items = layout.state_dict().items() if isinstance(layout, nn.Module) else layout.items()
    out: dict[str, Tensor] = {}
    for key, value in items:
        if isinstance(value, Tensor):
            out[key] = _seeded_tensor(key, value.shape, value.dtype, seed, scale)
        else:
            out[key] = _seeded_tensor(key, value, torch.float32, seed, scale)
    return out


def seeded_weights_(module: nn.Module, seed: int = 0, *, scale: float = 1.0) -> nn.Module:
    """Load :func:`seeded_state_dict` into ``module`` (strictly) and return it."""
    module.load_state_dict(seeded_state_dict(module, seed, scale=scale), strict=True)
    return module


def seeded_images(seed: int, shape: Sequence[int], *, dtype: torch.dtype = torch.float32) -> Tensor:
    """Images in [0, 1] of ``shape`` from ``torch.rand`` under ``manual_seed(seed)`` (CPU)."""
    gen = torch.Generator().manual_seed(int(seed))
    return torch.rand(tuple(int(s) for s in shape), generator=gen, dtype=torch.float64).to(dtype)


def to_jsonable(value: Any) -> Any:
    """Tensors and arrays become nested lists of Python floats/ints; mappings and lists recurse."""
    if isinstance(value, Tensor):
        value = value.detach().cpu().double().numpy() if value.is_floating_point() else value.cpu().numpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def write_golden(
    path: str | Path,
    *,
    component: str,
    repo: str,
    commit: str,
    entry: str,
    generator: str,
    cases: Sequence[Mapping[str, Any]],
    notes: str = "",
) -> Path:
    """Write a golden file (the numbers only; no official code) and return its path."""
    if len(commit) != 40 or any(c not in "0123456789abcdef" for c in commit.lower()):
        raise ValueError(f"commit must be the 40-hex commit of the reference checkout, got {commit!r}")
    payload = {
        "component": component,
        "reference": {"repo": repo, "commit": commit, "entry": entry},
        "generator": generator,
        "torch": torch.__version__.split("+")[0],
        "created": _dt.date.today().isoformat(),
        "notes": notes,
        "cases": to_jsonable(list(cases)),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1) + "\n")
    return path


class Golden(dict[str, Any]):
    """A loaded golden file: a dict with ``case(name)`` and ``array(case, key)`` helpers."""

    def case(self, name: str) -> dict[str, Any]:
        for case in self["cases"]:
            if case.get("name") == name:
                return dict(case)
        names = [c.get("name") for c in self["cases"]]
        raise KeyError(f"golden {self['component']!r} has no case {name!r} (cases: {names})")

    @property
    def origin(self) -> str:
        ref = self["reference"]
        return f"{ref['repo']}@{ref['commit'][:12]}"


def load_golden(path: str | Path) -> Golden:
    """Read a golden file written by :func:`write_golden`."""
    data = json.loads(Path(path).read_text())
    for field in ("component", "reference", "cases"):
        if field not in data:
            raise ValueError(f"{path}: not a golden file (no {field!r} field)")
    return Golden(data)


def assert_matches_golden(
    actual: Tensor | np.ndarray | Sequence[float] | float,
    expected: Any,
    *,
    rtol: float,
    atol: float,
    what: str,
) -> float:
    """Assert ``actual`` equals the golden ``expected`` within tolerances; return the max abs diff.

    The message names the component/case (``what``), the largest difference and where it is.
    """
    if isinstance(actual, Tensor):
        actual = actual.detach().cpu().double().numpy()
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        raise AssertionError(f"{what}: shape {a.shape} differs from the golden's {e.shape}")
    if not np.isfinite(a).all():
        raise AssertionError(f"{what}: non-finite values where the golden has {e.ravel()[:4]}...")
    diff = np.abs(a - e)
    max_diff = float(diff.max()) if diff.size else 0.0
    ok = np.all(diff <= atol + rtol * np.abs(e))
    if not ok:
        where = np.unravel_index(int(np.argmax(diff - rtol * np.abs(e))), diff.shape) if diff.size else ()
        raise AssertionError(
            f"{what}: differs from the official code's output by up to {max_diff:.3g} "
            f"(at {where}: ours {a[where]!r}, official {e[where]!r}; rtol={rtol}, atol={atol})"
        )
    return max_diff


def reference_commit(repo: str | Path, commit: str | None = None) -> str:
    """``commit`` if given, else the HEAD commit of the checkout at ``repo`` (for generators)."""
    if commit:
        return commit.strip()
    import subprocess

    return subprocess.check_output(["git", "-C", str(repo), "rev-parse", "HEAD"], text=True).strip()  # noqa: S603, S607


def seeded_positions(seed: int, shape: Sequence[int], count: int = 24) -> list[list[int]]:
    """``count`` pseudo-random indices into a tensor of ``shape``, a pure function of ``seed``."""
    gen = torch.Generator().manual_seed(int(seed))
    return [[int(torch.randint(0, int(s), (1,), generator=gen)) for s in shape] for _ in range(count)]


def gradient_summary(grad: Tensor, positions: Sequence[Sequence[int]], block: int = 32) -> dict[str, Tensor]:
    """A ``(3, H, W)`` gradient in a few numbers: L1 norm, sum, ``block`` x ``block`` sums, values at positions."""
    c, h, w = grad.shape
    blocks = grad[:, : h // block * block, : w // block * block].reshape(c, h // block, block, w // block, block)
    return {
        "l1": grad.abs().sum(),
        "sum": grad.sum(),
        "block_sums": blocks.sum(dim=(2, 4)),
        "at": torch.stack([grad[ci, yi, xi] for ci, yi, xi in positions]),
    }


def to_uint8(image: Tensor) -> np.ndarray:
    """``(3, H, W)`` in [0, 1] -> ``(H, W, 3)`` uint8 (what a PNG holds)."""
    return (image * 255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
