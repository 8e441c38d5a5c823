"""Differentiable JPEG (Reich et al., 2024), straight-through variant, as the benchmark ran it."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import PurificationDefence

# ITU-T T.81 Annex K tables (libjpeg's defaults before quality scaling)
_TABLE_Y = (
    (16, 11, 10, 16, 24, 40, 51, 61),
    (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77),
    (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101),
    (72, 92, 95, 98, 112, 100, 103, 99),
)
_TABLE_C = (
    (17, 18, 24, 47, 99, 99, 99, 99),
    (18, 21, 26, 66, 99, 99, 99, 99),
    (24, 26, 56, 99, 99, 99, 99, 99),
    (47, 66, 99, 99, 99, 99, 99, 99),
    *((99,) * 8,) * 4,
)
# JFIF RGB -> YCbCr (rows: Y, Cb, Cr), offsets (0, 128, 128) on the 0..255 scale
_RGB_TO_YCBCR = ((0.299, 0.587, 0.114), (-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))


def quantization_tables(quality: float) -> tuple[Tensor, Tensor]:
    """libjpeg's quality scaling: ``floor((T * s + 50) / 100)`` clipped to 1..255, ``s = floor(5000 / q)``
    below 50 and ``floor(200 - 2 q)`` from 50 (luminance, chrominance; float64, 8 x 8)."""
    q = float(quality)
    scale = math.floor(5000.0 / q) if q < 50 else math.floor(200.0 - 2.0 * q)
    y, c = (torch.tensor(t, dtype=torch.float64) for t in (_TABLE_Y, _TABLE_C))
    return torch.floor((y * scale + 50.0) / 100.0).clamp(1, 255), torch.floor((c * scale + 50.0) / 100.0).clamp(1, 255)


class _RoundSTE(torch.autograd.Function):
    """Exact rounding forward; backward ``3 (x - round x)^2`` (the derivative of the polynomial rounding)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        return torch.round(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return 3 * (x - torch.round(x)) ** 2 * grad


class _ClipSTE(torch.autograd.Function):
    """Exact clipping forward; backward 1 inside ``[lo, hi]`` and ``1e-3`` outside."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, lo: float, hi: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        (x,) = ctx.saved_tensors
        inside = (x >= ctx.lo) & (x <= ctx.hi)
        return torch.where(inside, 1.0, 1e-3).to(grad.dtype) * grad, None, None


def _dct_basis(dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor]:
    """64 x 64 matrices of the 8 x 8 DCT-II (rows: pixel (x, y); columns: frequency (u, v)) and its scales."""
    i = torch.arange(8, dtype=dtype, device=device)
    cos = torch.cos((2.0 * i[:, None] + 1.0) * i[None, :] * math.pi / 16.0)  # [pixel, frequency]
    basis = (cos[:, None, :, None] * cos[None, :, None, :]).reshape(64, 64)
    alpha = torch.ones(8, dtype=dtype, device=device)
    alpha[0] = 1.0 / math.sqrt(2.0)
    return basis, torch.outer(alpha, alpha).reshape(64)


def _blocks(plane: Tensor) -> Tensor:
    """(B, H, W) -> (B, H/8 * W/8, 64), blocks in raster order."""
    b, h, w = plane.shape
    return plane.reshape(b, h // 8, 8, w // 8, 8).permute(0, 1, 3, 2, 4).reshape(b, -1, 64)


def _unblocks(blocks: Tensor, h: int, w: int) -> Tensor:
    b = blocks.shape[0]
    return blocks.reshape(b, h // 8, w // 8, 8, 8).permute(0, 1, 3, 2, 4).reshape(b, h, w)


def diff_jpeg(images: Tensor, quality: float) -> Tensor:
    """JPEG-code ``images`` (B, 3, H, W) in [0, 1] at ``quality``; differentiable (straight-through).

    The benchmark's DiffJPEG (``metrics/defences/diffjpeg``: Reich et al.'s ``DiffJPEGCoding(ste=True)``):
    pad bottom/right by ``16 - H % 16`` and ``16 - W % 16`` pixels (reflect; a full 16 when already a
    multiple, as the reference does), JFIF YCbCr on the 0..255 scale, 4:2:0 chroma by kornia's
    antialiased bilinear ``rescale`` (x0.5) and bilinear upsampling (x2), float 8 x 8 DCT,
    quantisation with libjpeg's scaled tables and *exact* rounding, clipping to 0..255, crop.
    Gradients: rounding ``3 (x - round x)^2``, clipping 1 inside / 1e-3 outside (the reference's
    surrogates). Images too small to mirror are padded by replication.
    """
    from kornia.geometry.transform import rescale

    h, w = images.shape[-2:]
    dtype, device = images.dtype, images.device
    ph, pw = 16 - h % 16, 16 - w % 16
    mode = "reflect" if ph < h and pw < w else "replicate"
    x = F.pad(images, (0, pw, 0, ph), mode=mode) * 255
    m = torch.tensor(_RGB_TO_YCBCR, dtype=dtype, device=device)
    offset = torch.tensor([0.0, 128.0, 128.0], dtype=dtype, device=device)
    ycc = torch.einsum("...i,ij->...j", x.permute(0, 2, 3, 1), m.T) + offset  # B, H, W, 3
    ycc = ycc.permute(0, 3, 1, 2)
    luma = ycc[:, 0]
    chroma = rescale(ycc[:, 1:], factor=0.5, interpolation="bilinear", align_corners=False, antialias=True)
    basis, scales = _dct_basis(dtype, device)
    table_y, table_c = (t.to(dtype=dtype, device=device).reshape(64) for t in quantization_tables(quality))

    def code(plane: Tensor, table: Tensor) -> Tensor:
        ph_, pw_ = plane.shape[-2:]
        coeffs = 0.25 * scales * ((_blocks(plane) - 128.0) @ basis)
        coeffs = _RoundSTE.apply(coeffs / table) * table
        pixels = 0.25 * ((coeffs * scales) @ basis.T) + 128.0
        return _unblocks(pixels, ph_, pw_)

    luma = code(luma, table_y)
    cb = code(chroma[:, 0], table_c)
    cr = code(chroma[:, 1], table_c)
    chroma = F.interpolate(torch.stack((cb, cr), dim=1), scale_factor=2, mode="bilinear", align_corners=False)
    ycc = torch.cat((luma[:, None], chroma), dim=1).permute(0, 2, 3, 1) - offset
    rgb = torch.einsum("...i,ij->...j", ycc, torch.inverse(m.T)).permute(0, 3, 1, 2)
    rgb = _ClipSTE.apply(rgb, 0.0, 255.0)
    return rgb[..., :h, :w] / 255


class DiffJPEG(PurificationDefence):
    """Differentiable JPEG (benchmark Table 8): quality presets 10, 30, 50 (default), 70, 90.

    What the benchmark ran (its ``metrics/defences/diffjpeg``, Reich et al.'s code with
    ``ste=True``), see :func:`diff_jpeg`: the forward pass is a float JPEG codec with exact
    rounding (no integer IDCT, no entropy coding, bilinear chroma resampling), the backward pass
    uses Reich et al.'s smooth surrogates, so no BPDA is needed. Until 0.2 this used kornia's
    ``jpeg_codec_differentiable``, whose *forward* pass applies the polynomial approximation of
    rounding (Reich et al.'s non-STE variant) and replicate padding: up to 0.2 off the
    benchmark's output. The test suite measures the gap to Pillow's codec at the same quality
    (README, "DiffJPEG gap"). Weakest preset = highest quality.
    """

    name = "diffjpeg"
    differentiable = True
    randomized = False
    presets: ClassVar[dict[str, dict[str, Any]]] = {f"q{q}": {"quality": q} for q in (90, 70, 50, 30, 10)}
    default_preset = "q50"

    def __init__(self, quality: float = 50) -> None:
        super().__init__()
        if not 1 <= float(quality) <= 100:
            raise ValueError(f"DiffJPEG quality must be in 1..100, got {quality}")
        self.quality = float(quality)

    def purify(self, images: Tensor, *, generator: torch.Generator | None) -> Tensor:
        # clamp without touching the gradient: torch's clamp zeroes it at 0 and 1, which 8-bit images hit
        return diff_jpeg(images + (images.clamp(0, 1) - images).detach(), self.quality)

    def extra_repr(self) -> str:
        return f"quality={self.quality:g}"
