"""LinearityIQA (Li, Jiang and Jiang, ACM MM 2020, "Norm-in-Norm loss"), ported from lidq92/LinearityIQA.

Architecture (the released ``p1q2.pth``: ``arch=resnext101_32x8d, pool=avg, P6=P7=1, use_bn_end=False``):
torchvision's ResNeXt-101 32x8d without its pooling and classifier (``features.0`` ... ``features.7``);
global average pooling of the outputs of ``layer3`` (``features.6``, 1024 channels) and ``layer4``
(``features.7``, 2048 channels); each goes through a reduction head ``dr6`` / ``dr7``
(Linear-BN-Linear-BN-Linear-BN-ReLU down to 64) with a side regressor ``regr6`` / ``regr7``;
``regression`` maps the 128 concatenated features to the score. The network returns
``[regr6, regr7, regression]`` (``y[-1]`` is the score). The checkpoint stores
``{"model": state_dict, "k": [...], "b": [...]}``, the linear rescalings fitted by
``IQAPerformance.linear_mapping`` after norm-in-norm training; index 0 belongs to the final output
(``linear_mapping(pq_before, sq, i=0)`` with ``pq_before = y_pred[-1]``), indices 1 and 2 to the side
regressors ``regr6`` / ``regr7``. The reported quality is ``y[-1] * k[0] + b[0]``, as in the official
``test_demo.py`` ("See line 39 of IQAperformance.py, i=0") and the benchmark's wrapper
(``checkpoint['k'][0]``, ``checkpoint['b'][0]``).

Input transform (official ``test_demo.py --resize``, the setting the checkpoint was trained with):
bilinear resize to 498 x 664 (height x width), ImageNet normalisation. ``resize=None`` keeps the
input size (any size from 32 x 32 works); that is what the benchmark's wrapper does (it normalises
and scores the frame at its own size). The official code uses ``np.int`` (removed from NumPy);
the spatial-pyramid pooling with ``P = 1`` is a global average, written here as a mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from iqa_core.types import Bounds

from ._base import IMAGENET_MEAN, IMAGENET_STD, PortedMetric, normalise, resize
from ._checkpoint import PathLike, extract_state_dict, load_into
from .specs import LINEARITY

OFFICIAL_SIZE = (498, 664)


def _reduction(in_features: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_features, 1024),
        nn.BatchNorm1d(1024),
        nn.Linear(1024, 256),
        nn.BatchNorm1d(256),
        nn.Linear(256, 64),
        nn.BatchNorm1d(64),
        nn.ReLU(),
    )


class LinearityNet(nn.Module):
    """The official ``IQAModel`` (module names as in the checkpoint). ``forward`` -> ``(N, 3)``: regr6, regr7, score."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import resnext101_32x8d

        backbone = resnext101_32x8d(weights=None)
        self.features = nn.Sequential(*list(backbone.children())[:-2])
        self.dr6 = _reduction(1024)
        self.dr7 = _reduction(2048)
        self.regr6 = nn.Linear(64, 1)
        self.regr7 = nn.Linear(64, 1)
        self.regression = nn.Linear(128, 1)

    def forward(self, x: Tensor) -> Tensor:
        f6 = f7 = None
        for index, module in enumerate(self.features):
            x = module(x)
            if index == 6:
                f6 = self.dr6(x.mean(dim=(2, 3)))
            elif index == 7:
                f7 = self.dr7(x.mean(dim=(2, 3)))
        assert f6 is not None and f7 is not None
        score = self.regression(torch.cat([f6, f7], dim=1))
        return torch.cat([self.regr6(f6), self.regr7(f7), score], dim=1)


class LinearityIQA(PortedMetric):
    """LinearityIQA (ResNeXt-101 + norm-in-norm rescaling), the official ``p1q2.pth`` checkpoint.

    ``weights``: a checkpoint in the official format (default: the cached official file).
    ``pretrained=False``: random weights, ``k = 1, b = 0`` (tests). The score is the network's final
    output mapped with the checkpoint's ``k[0]``, ``b[0]`` (official ``test_demo.py``). ``resize``: ``(height, width)``
    the input is resized to (official 498 x 664), or None to keep the input size.
    Scores are on the KonIQ-10k MOS scale (about 0-100, higher is better).
    """

    name = "linearity"
    official = LINEARITY
    default_bounds = Bounds(25.78, 83.23)

    def __init__(
        self,
        weights: PathLike | None = None,
        *,
        pretrained: bool = True,
        resize: tuple[int, int] | None = OFFICIAL_SIZE,
        bounds: Bounds | None = None,
    ) -> None:
        super().__init__(bounds)
        self.net = LinearityNet()
        self.size = tuple(resize) if resize is not None else None
        self.k = 1.0
        self.b = 0.0
        self._load(weights, pretrained)

    def load_official(self, checkpoint: Any, path: PathLike) -> None:
        if not isinstance(checkpoint, Mapping) or "model" not in checkpoint:
            raise ValueError(
                f"checkpoint {path} for 'linearity' must be the official dict {{'model': ..., 'k': ..., 'b': ...}}"
            )
        state = extract_state_dict(checkpoint["model"], path)
        load_into(self.net, state, what=f"checkpoint {path} for 'linearity'")
        self.k = _first_float(checkpoint.get("k", 1.0), "k", path)
        self.b = _first_float(checkpoint.get("b", 0.0), "b", path)

    def score(self, images: Tensor) -> Tensor:
        x = resize(images, self.size) if self.size is not None else images  # type: ignore[arg-type]
        out = self.net(normalise(x, IMAGENET_MEAN, IMAGENET_STD))
        return out[:, -1] * self.k + self.b


def _first_float(value: Any, key: str, path: PathLike) -> float:
    """``k`` / ``b``: lists (one per output) of floats, numpy scalars or tensors; the first one maps the score.

    Index 0 is the mapping of the final output ``y[-1]`` (official ``IQAPerformance.compute`` fits
    it with ``i=0`` on ``y_pred[-1]``; ``test_demo.py`` applies ``k[0]``, ``b[0]``).
    """
    if isinstance(value, list | tuple):
        if not value:
            raise ValueError(f"checkpoint {path}: {key!r} is empty")
        value = value[0]
    try:
        return float(value.reshape(-1)[0]) if hasattr(value, "reshape") else float(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"checkpoint {path}: {key!r} is not a number ({error})") from error
