"""One chunk of a dataset, decoded: images kept at their own size, undecodable items set apart.

Images are never resized to share a batch: a score must not depend on which images happen to
share a chunk. :meth:`ChunkData.groups` batches the images of equal size together (in chunk
order of first appearance); a dataset of mixed sizes is evaluated group by group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from .datasets import ImageItem


@dataclass
class ChunkData:
    """Decoded images of one chunk (each ``(3, H, W)``); failures are kept with their error."""

    items: list[ImageItem]
    images: list[Tensor]
    failed: list[tuple[ImageItem, str]]
    order: list[ImageItem] = field(default_factory=list)
    #: results shared by the units of the chunk (see :mod:`iqa_bench.evaluate`), keyed by content
    cache: dict[Any, Any] = field(default_factory=dict)
    _groups: list[tuple[list[ImageItem], Tensor]] | None = field(default=None, repr=False)

    def head(self, n: int) -> ChunkData:
        """The first ``n`` items of the chunk (in chunk order, counting undecodable ones).

        The cut shares the chunk's :attr:`cache` (its keys name the images they were computed on)."""
        if n >= len(self.order):
            return self
        keep_ids = {item.id for item in self.order[:n]}
        kept = [k for k, item in enumerate(self.items) if item.id in keep_ids]
        return ChunkData(
            [self.items[k] for k in kept],
            [self.images[k] for k in kept],
            [(item, err) for item, err in self.failed if item.id in keep_ids],
            order=self.order[:n],
            cache=self.cache,
        )

    def groups(self) -> list[tuple[list[ImageItem], Tensor]]:
        """``(items, batch)`` per image size, in order of first appearance (stacked once per chunk)."""
        if self._groups is None:
            by_size: dict[tuple[int, ...], list[int]] = {}
            for k, image in enumerate(self.images):
                by_size.setdefault(tuple(image.shape), []).append(k)
            self._groups = [
                ([self.items[k] for k in ks], torch.stack([self.images[k] for k in ks])) for ks in by_size.values()
            ]
        return [(list(items), batch) for items, batch in self._groups]

    def image(self, k: int) -> Tensor:
        """Item ``k`` as a batch of one."""
        return self.images[k][None]

    @classmethod
    def load(cls, chunk_items: Sequence[ImageItem]) -> ChunkData:
        good: list[ImageItem] = []
        tensors: list[Tensor] = []
        failed: list[tuple[ImageItem, str]] = []
        for item in chunk_items:
            try:
                image = item.load()
            except Exception as error:  # noqa: BLE001 - recorded as a failed item
                failed.append((item, f"{type(error).__name__}: {error}"))
                continue
            good.append(item)
            tensors.append(image)
        return cls(good, tensors, failed, order=list(chunk_items))
