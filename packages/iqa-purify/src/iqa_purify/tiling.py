"""Tiled processing with overlap for networks whose native resolution is smaller than the image."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ._common import pad_to_multiple


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of length ``tile`` covering ``[0, size)`` with at least ``overlap`` shared pixels."""
    if size <= tile:
        return [0]
    stride = max(1, tile - overlap)
    starts = list(range(0, size - tile, stride))
    return [*starts, size - tile]


def _ramp(length: int, overlap: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    i = torch.arange(length, device=device, dtype=dtype)
    return torch.minimum(
        torch.minimum(i + 1, length - i), torch.tensor(float(overlap + 1), dtype=dtype, device=device)
    ) / (overlap + 1)


def run_tiled(
    fn: Callable[[Tensor], Tensor],
    images: Tensor,
    *,
    tile: int,
    overlap: int,
    multiple: int = 1,
    tile_batch: int = 16,
) -> Tensor:
    """Apply ``fn`` to ``tile`` x ``tile`` tiles of ``images`` and blend them back with linear ramps.

    The batch is first padded (bottom/right, reflect) to a multiple of ``multiple`` (the network's
    down-sampling factor). Images no larger than ``tile`` go through ``fn`` whole. Otherwise tiles
    overlap by ``overlap`` pixels and are blended with weights that fall linearly towards the tile
    edges, normalised by their sum (exact where one tile covers a pixel). All tiles of all images are
    processed together, ``tile_batch`` at a time, in a fixed order (so a seeded ``fn`` is deterministic).
    """
    padded, (h, w) = pad_to_multiple(images, multiple)
    ph, pw = padded.shape[-2:]
    th, tw = min(tile, ph), min(tile, pw)
    if th == ph and tw == pw:
        return fn(padded)[..., :h, :w]
    ys, xs = tile_starts(ph, th, overlap), tile_starts(pw, tw, overlap)
    boxes = [(y, x) for y in ys for x in xs]
    n = padded.shape[0]
    tiles = torch.cat([padded[:, :, y : y + th, x : x + tw] for (y, x) in boxes])  # (len(boxes) * n, C, th, tw)
    outs = torch.cat([fn(tiles[i : i + tile_batch]) for i in range(0, tiles.shape[0], tile_batch)])
    weight = (
        _ramp(th, overlap, padded.device, padded.dtype)[:, None]
        * _ramp(tw, overlap, padded.device, padded.dtype)[None, :]
    )
    acc = torch.zeros((n, outs.shape[1], ph, pw), device=padded.device, dtype=outs.dtype)
    norm = torch.zeros((1, 1, ph, pw), device=padded.device, dtype=outs.dtype)
    for k, (y, x) in enumerate(boxes):
        acc = acc.index_put(
            (
                torch.arange(n, device=acc.device)[:, None, None, None],
                torch.arange(acc.shape[1], device=acc.device)[None, :, None, None],
                torch.arange(y, y + th, device=acc.device)[None, None, :, None],
                torch.arange(x, x + tw, device=acc.device)[None, None, None, :],
            ),
            outs[k * n : (k + 1) * n] * weight,
            accumulate=True,
        )
        norm[..., y : y + th, x : x + tw] += weight
    return (acc / norm)[..., :h, :w]
