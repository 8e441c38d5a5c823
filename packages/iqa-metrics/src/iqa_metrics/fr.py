"""Full-reference measures as registry components (:class:`~iqa_core.protocols.FullReferenceMetric`).

``psnr``, ``ssim``, ``ms-ssim``, ``mse`` and ``linf`` wrap the pure-torch measures of :mod:`iqa_core.measures`
(differentiable, batched, ``(N,)`` per image). ``lpips`` and ``dists`` go through pyiqa with
autograd on (``as_loss=True``, ``loss_reduction="none"``), eval mode and the same offline guard as
the no-reference adapter. Calls are ``measure(reference, distorted)``.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from iqa_core import measures
from iqa_core.validation import check_images
from iqa_core.weights import offline


class _TorchMeasure(nn.Module):
    name: ClassVar[str]
    higher_is_better: ClassVar[bool]
    differentiable = True

    def _check(self, reference: Tensor, distorted: Tensor) -> None:
        check_images(reference, what="reference")
        check_images(distorted, what="distorted")
        if reference.shape != distorted.shape:
            raise ValueError(
                f"reference and distorted must have the same shape, got {tuple(reference.shape)} "
                f"and {tuple(distorted.shape)}"
            )


class PSNR(_TorchMeasure):
    """Peak signal-to-noise ratio in dB (images in [0, 1]); identical images give ``max_db``."""

    name = "psnr"
    higher_is_better = True

    def __init__(self, max_db: float = 100.0) -> None:
        super().__init__()
        self.max_db = max_db

    def forward(self, reference: Tensor, distorted: Tensor) -> Tensor:
        self._check(reference, distorted)
        return measures.psnr(reference, distorted, max_db=self.max_db)


class SSIM(_TorchMeasure):
    """SSIM (11 x 11 Gaussian window, sigma 1.5, per RGB channel, averaged)."""

    name = "ssim"
    higher_is_better = True

    def forward(self, reference: Tensor, distorted: Tensor) -> Tensor:
        self._check(reference, distorted)
        return measures.ssim(reference, distorted)


class MSSSIM(_TorchMeasure):
    """MS-SSIM (Wang, Simoncelli and Bovik 2003): 5 scales, weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333).

    Per RGB channel, averaged; contrast-structure terms clamped at 0 before the power so gradients
    stay finite (see :func:`iqa_core.measures.ms_ssim`). Each side must be at least
    ``11 * 2 ** (scales - 1)`` pixels (176 for 5 scales); ``scales=k`` (1 to 5) uses the first k
    scales with their weights renormalised, for smaller images.
    """

    name = "ms-ssim"
    higher_is_better = True

    def __init__(self, scales: int = 5) -> None:
        super().__init__()
        if not 1 <= scales <= len(measures.MS_SSIM_WEIGHTS):
            raise ValueError(f"ms-ssim scales must be between 1 and {len(measures.MS_SSIM_WEIGHTS)}, got {scales}")
        self.scales = scales

    def forward(self, reference: Tensor, distorted: Tensor) -> Tensor:
        self._check(reference, distorted)
        return measures.ms_ssim(reference, distorted, scales=self.scales)


class MSE(_TorchMeasure):
    """Mean squared error per image."""

    name = "mse"
    higher_is_better = False

    def forward(self, reference: Tensor, distorted: Tensor) -> Tensor:
        self._check(reference, distorted)
        return measures.mse(reference, distorted)


class Linf(_TorchMeasure):
    """Largest absolute pixel change per image."""

    name = "linf"
    higher_is_better = False

    def forward(self, reference: Tensor, distorted: Tensor) -> Tensor:
        self._check(reference, distorted)
        return measures.linf(reference, distorted)


class PyiqaFullReference(_TorchMeasure):
    """A pyiqa full-reference metric (LPIPS, DISTS) with autograd on; lower is better for both."""

    higher_is_better = False

    def __init__(self, pyiqa_name: str, *, device: str | torch.device = "cpu", **options: Any) -> None:
        super().__init__()
        from .pyiqa_adapter import _import_pyiqa, no_downloads

        pyiqa = _import_pyiqa()
        guard = no_downloads(pyiqa_name) if offline() else contextlib.nullcontext()
        with guard:
            self.inner = pyiqa.create_metric(
                pyiqa_name, as_loss=True, loss_reduction="none", device=torch.device(device), **options
            )
        self.pyiqa_name = pyiqa_name
        self.higher_is_better = not bool(self.inner.lower_better)  # type: ignore[misc]
        self.eval()

    def train(self, mode: bool = True) -> PyiqaFullReference:
        """Stays in eval mode."""
        return super().train(False)

    def __deepcopy__(self, memo: dict[int, Any]) -> PyiqaFullReference:
        from .pyiqa_adapter import detach_cached_tensors

        detach_cached_tensors(self)
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            new.__dict__[key] = copy.deepcopy(value, memo)
        return new

    def forward(self, reference: Tensor, distorted: Tensor) -> Tensor:
        self._check(reference, distorted)
        out = self.inner(distorted, reference)
        return out.reshape(reference.shape[0]).float()


class LPIPS(PyiqaFullReference):
    """LPIPS (Zhang et al. 2018) through pyiqa; ``net="alex"`` (default) or ``"vgg"``; lower is better."""

    name = "lpips"

    def __init__(self, *, device: str | torch.device = "cpu", **options: Any) -> None:
        super().__init__("lpips", device=device, **options)


class DISTS(PyiqaFullReference):
    """DISTS (Ding et al. 2020) through pyiqa; lower is better."""

    name = "dists"

    def __init__(self, *, device: str | torch.device = "cpu", **options: Any) -> None:
        super().__init__("dists", device=device, **options)


__all__ = ["DISTS", "LPIPS", "MSE", "MSSSIM", "PSNR", "SSIM", "Linf", "PyiqaFullReference"]
