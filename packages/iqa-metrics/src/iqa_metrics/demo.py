"""The offline demo metric: CNNIQA trained on synthetic distortions, weights shipped as package data."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from iqa_core.types import Bounds
from iqa_core.validation import check_images
from iqa_core.weights import CorruptWeightsError, WeightsNotFoundError, non_finite_tensors

from .cnniqa import CNNIQA

WEIGHTS_FILE = "demo_cnniqa.pt"
INFO_FILE = "demo_cnniqa.json"
#: Constructor arguments of the shipped network (the weights file depends on them).
ARCHITECTURE: dict[str, Any] = {"normalize": True}
#: The network regresses SSIM (0-1); scores are reported on the synthetic-opinion scale 0-100.
SCORE_SCALE = 100.0

_RETRAIN_HINT = "rebuild it with `python tools/train_demo_metric.py` or pass weights=PATH"


def _package_data(name: str) -> Path:
    return Path(str(resources.files("iqa_metrics").joinpath("data", name)))


def demo_info(path: str | Path | None = None) -> dict[str, Any]:
    """The JSON shipped beside the weights: bounds, held-out SROCC/PLCC and training settings."""
    path = Path(path) if path is not None else _package_data(INFO_FILE)
    if not path.is_file():
        raise FileNotFoundError(f"demo metric info {path} not found; {_RETRAIN_HINT}")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"demo metric info {path} is not valid JSON ({error}); {_RETRAIN_HINT}") from error


def load_demo_state(path: str | Path) -> dict[str, Tensor]:
    """Read a CNNIQA state_dict with ``weights_only=True``; clear errors for missing or corrupt files."""
    path = Path(path)
    if not path.is_file():
        raise WeightsNotFoundError(f"weights for 'demo-cnniqa' not found at {path}; {_RETRAIN_HINT}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for truncated or foreign files
        raise ValueError(
            f"weights file {path} for 'demo-cnniqa' could not be read ({error}); {_RETRAIN_HINT}"
        ) from error
    if not isinstance(state, dict) or not all(isinstance(value, Tensor) for value in state.values()):
        raise ValueError(f"weights file {path} for 'demo-cnniqa' is not a plain state_dict of tensors; {_RETRAIN_HINT}")
    bad = non_finite_tensors(state)
    if bad:
        raise CorruptWeightsError(
            f"weights file {path} for 'demo-cnniqa' holds NaN or infinite values in {bad[:5]}; {_RETRAIN_HINT}"
        )
    return {key: value.float() for key, value in state.items()}


class DemoCNNIQA(nn.Module):
    """DEMO metric, not for research conclusions: CNNIQA trained on synthetic distortions.

    An RGB CNNIQA (:class:`iqa_metrics.cnniqa.CNNIQA`) trained by ``tools/train_demo_metric.py``
    on graded synthetic distortions of a few photos that ship inside scikit-image, to regress
    the demo dataset's synthetic opinion score ``100 * SSIM(reference, distorted)``. Scores
    are on that scale (about 0-100, higher is better). It exists so that the quickstart, the
    tests and the demo benchmark run offline; it says nothing about real perceived quality.

    ``weights``: another state_dict file for the same architecture (default: the shipped one).
    ``bounds``: override the bounds measured by the training script (shipped JSON).
    The module is put in eval mode; its parameters keep ``requires_grad`` (attacks should take
    gradients with respect to the input only, e.g. with ``torch.autograd.grad``).
    """

    name = "demo-cnniqa"
    higher_is_better = True
    differentiable = True
    min_size = (32, 32)  # CNNIQA's 7x7 convolution and local normalisation need at least 32x32

    def __init__(self, weights: str | Path | None = None, *, bounds: Bounds | None = None) -> None:
        super().__init__()
        self.net = CNNIQA(**ARCHITECTURE)
        path = Path(weights) if weights is not None else _package_data(WEIGHTS_FILE)
        state = load_demo_state(path)
        try:
            self.net.load_state_dict(state)
        except RuntimeError as error:
            raise ValueError(
                f"weights file {path} does not match the demo CNNIQA architecture ({error}); {_RETRAIN_HINT}"
            ) from error
        if bounds is None:
            measured = demo_info()["bounds"]
            bounds = Bounds(float(measured["lower"]), float(measured["upper"]))
        self.bounds = bounds
        self.eval()

    def forward(self, images: Tensor) -> Tensor:
        """``(N, 3, H, W)`` RGB in [0, 1], ``H, W >= 32`` -> ``(N,)`` scores (about 0-100)."""
        check_images(images)
        weight = self.net.conv.weight
        return SCORE_SCALE * self.net(images.to(dtype=weight.dtype))
