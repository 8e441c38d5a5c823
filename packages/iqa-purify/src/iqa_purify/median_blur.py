"""Median blur with reflect (or replicate) borders, batched."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ._common import check_odd_kernel
from .base import PurificationDefence

Padding = Literal["reflect", "replicate", "zeros"]


def median_filter(images: Tensor, kernel_size: int, padding: Padding = "reflect", rows_per_chunk: int = 64) -> Tensor:
    """Per-channel ``kernel_size`` x ``kernel_size`` median; the image size is kept.

    ``padding="reflect"`` mirrors without repeating the edge pixel (``F.pad(mode="reflect")``,
    OpenCV's BORDER_REFLECT_101, scipy's ``mode="mirror"``), as the benchmark's code does;
    ``"replicate"`` repeats it (what ``cv2.medianBlur`` does); ``"zeros"`` is kornia's
    ``median_blur``. Images with a side not longer than ``kernel_size // 2`` cannot be mirrored
    and are replicated instead (the reference raises there). The window holds an odd number of
    pixels, so the median is the middle value (no lower/upper convention is involved). Rows are
    processed in chunks to bound the memory of the unfolded windows. Gradients flow to the
    selected (median) pixels.
    """
    k = check_odd_kernel(kernel_size, "median blur")
    if k == 1:
        return images
    r = k // 2
    h, w = images.shape[-2:]
    if padding == "zeros":
        padded = F.pad(images, (r, r, r, r), mode="constant", value=0.0)
    elif padding == "reflect" and r < h and r < w:
        padded = F.pad(images, (r, r, r, r), mode="reflect")
    elif padding in ("reflect", "replicate"):
        padded = F.pad(images, (r, r, r, r), mode="replicate")  # image too small to mirror
    else:
        raise ValueError(f"padding must be 'reflect', 'replicate' or 'zeros', got {padding!r}")
    rows = []
    for top in range(0, h, rows_per_chunk):
        bottom = min(h, top + rows_per_chunk)
        band = padded[..., top : bottom + 2 * r, :]
        windows = band.unfold(-2, k, 1).unfold(-2, k, 1)  # N, C, rows, W, k, k
        rows.append(windows.flatten(-2).median(dim=-1).values)
    return torch.cat(rows, dim=-2)


class MedianBlur(PurificationDefence):
    """Median blur, kernel presets 3 (default), 5, 7, 9, 11.

    Borders are mirrored (``padding="reflect"``, reflect-101), exactly as the benchmark's code
    (``metrics/defences/median-blur/run.py``: ``F.pad(mode="reflect")``, then ``torch.median``
    over each window; bit-exact in the parity test), instead of kornia's zero padding, which
    darkens the image edges. ``padding="replicate"`` repeats the edge pixels (``cv2.medianBlur``).
    Differentiable (the gradient reaches the median pixel of each window). Weakest preset =
    smallest kernel.
    """

    name = "median-blur"
    differentiable = True
    randomized = False
    presets: ClassVar[dict[str, dict[str, Any]]] = {f"k{k}": {"kernel_size": k} for k in (3, 5, 7, 9, 11)}
    default_preset = "k3"

    def __init__(self, kernel_size: int = 3, padding: Padding = "reflect") -> None:
        super().__init__()
        self.kernel_size = check_odd_kernel(kernel_size, "median blur")
        if padding not in ("reflect", "replicate", "zeros"):
            raise ValueError(f"padding must be 'reflect', 'replicate' or 'zeros', got {padding!r}")
        self.padding: Padding = padding

    def purify(self, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        return median_filter(images, self.kernel_size, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, padding={self.padding!r}"
