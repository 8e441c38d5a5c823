"""Content-addressed cache of adversarial batches on disk (``<root>/<key[:2]>/<key>.pt``).

An attack's output is saved before it is evaluated, so a killed run does not attack twice. Writes
go through a temporary file unique to the writer (two runs sharing a cache never write the same
temporary name) and an atomic rename; a file that cannot be read back is treated as missing and
recomputed.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import torch
from torch import Tensor

log = logging.getLogger(__name__)


class AdversarialCache:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        #: entries read back (attacks not run again) and written since this object was made
        self.hits = 0
        self.writes = 0

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.pt"

    def load(self, key: str) -> tuple[Tensor, float] | None:
        """The cached ``(images, seconds)`` or ``None`` when absent or unreadable."""
        entry = self.load_entry(key)
        return None if entry is None else (entry[0], entry[1])

    def load_entry(self, key: str) -> tuple[Tensor, float, Tensor | None] | None:
        """The cached ``(images, seconds, queries)`` (``queries``: per image, black-box attacks only)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            cached = torch.load(path, map_location="cpu", weights_only=True)
            images, seconds, queries = cached["images"], float(cached["seconds"]), cached.get("queries")
        except Exception as error:  # noqa: BLE001 - a damaged entry is recomputed, not fatal
            log.warning("ignoring unreadable cache entry %s (%s); recomputing", path, error)
            return None
        self.hits += 1
        return images, seconds, queries

    def save(self, key: str, images: Tensor, seconds: float, queries: Tensor | None = None) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=f".{key[:16]}-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                torch.save({"images": images, "seconds": seconds, "queries": queries}, out)
            os.replace(tmp, path)
            self.writes += 1
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
