"""Dataset sources: the official file layouts of KonIQ-10k, KADID-10k, NIPS 2017 (adversarial dev
set) and AGIQA-3K, any folder + CSV, and the offline demo dataset.

A source lists :class:`ImageItem` s (id, MOS, where the pixels come from) without decoding
anything; :meth:`ImageItem.load` decodes one image. Runs stream items in chunks, so memory stays
flat as datasets grow.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor

from iqa_core.errors import UserError

from .images import load_image


class DatasetLayoutError(UserError, FileNotFoundError):
    """The dataset folder or its score file does not have the expected layout or content."""


@dataclass(frozen=True)
class ImageItem:
    """One dataset image: ``id`` is unique within its dataset; ``mos`` may be None (NIPS 2017)."""

    id: str
    mos: float | None
    path: Path | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)
    loader: Callable[[], Tensor] | None = field(default=None, compare=False, repr=False)

    def load(self) -> Tensor:
        if self.loader is not None:
            return self.loader()
        if self.path is None:
            raise ValueError(f"image {self.id!r} has neither a path nor a loader")
        return load_image(self.path)


def _read_csv(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise DatasetLayoutError(f"score file {path} not found")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise DatasetLayoutError(f"{path} lacks columns {missing}; found {header}")
        return list(reader)


def _first_existing(root: Path, candidates: Sequence[str], what: str) -> Path:
    for name in candidates:
        if (root / name).exists():
            return root / name
    raise DatasetLayoutError(f"{what} not found under {root}; looked for {', '.join(candidates)}")


def koniq10k(root: str | Path) -> list[ImageItem]:
    """KonIQ-10k: ``koniq10k_scores_and_distributions.csv`` (image_name, ..., MOS) and the
    images in ``512x384/`` (the benchmark's size) or ``1024x768/``."""
    root = Path(root)
    rows = _read_csv(root / "koniq10k_scores_and_distributions.csv", ["image_name", "MOS"])
    images = _first_existing(root, ["512x384", "1024x768", "images"], "KonIQ-10k image folder")
    return [ImageItem(r["image_name"], float(r["MOS"]), images / r["image_name"]) for r in rows]


def kadid10k(root: str | Path) -> list[ImageItem]:
    """KADID-10k: ``dmos.csv`` (dist_img, ref_img, dmos, var) and ``images/``. The reference
    image of each item is kept in ``meta["reference"]`` (sampling is by reference)."""
    root = Path(root)
    rows = _read_csv(root / "dmos.csv", ["dist_img", "ref_img", "dmos"])
    images = _first_existing(root, ["images"], "KADID-10k image folder")
    items = []
    for r in rows:
        stem = r["dist_img"].rsplit(".", 1)[0]
        parts = stem.split("_")
        meta: dict[str, Any] = {"reference": r["ref_img"]}
        if len(parts) == 3:
            meta.update(distortion=int(parts[1]), level=int(parts[2]))
        items.append(ImageItem(r["dist_img"], float(r["dmos"]), images / r["dist_img"], meta))
    return items


def nips2017(root: str | Path) -> list[ImageItem]:
    """NIPS 2017 adversarial dev set: ``images.csv`` (ImageId, ..., TrueLabel) and
    ``images/{ImageId}.png``; no MOS."""
    root = Path(root)
    rows = _read_csv(root / "images.csv", ["ImageId"])
    images = _first_existing(root, ["images"], "NIPS 2017 image folder")
    return [ImageItem(r["ImageId"], None, images / f"{r['ImageId']}.png", {"label": r.get("TrueLabel")}) for r in rows]


def agiqa3k(root: str | Path) -> list[ImageItem]:
    """AGIQA-3K: ``data.csv`` (name, prompt, ..., mos_quality, std_quality, mos_align, std_align);
    images beside it or in ``images/``, ``image/`` or ``AGIQA-3K/``. MOS = ``mos_quality``."""
    root = Path(root)
    rows = _read_csv(root / "data.csv", ["name", "mos_quality"])
    folders = [root / d for d in ("images", "image", "AGIQA-3K", "AGIQA-3k") if (root / d).is_dir()] + [root]
    items = []
    for r in rows:
        path = next((f / r["name"] for f in folders if (f / r["name"]).exists()), folders[0] / r["name"])
        items.append(ImageItem(r["name"], float(r["mos_quality"]), path, {"prompt": r.get("prompt")}))
    return items


def folder(
    root: str | Path, csv_file: str | Path, *, name_column: str = "name", mos_column: str = "mos"
) -> list[ImageItem]:
    """Any folder + CSV with an image-name column and a MOS column (default ``name``, ``mos``;
    the demo folder's ``image`` column is accepted too)."""
    root = Path(root)
    csv_path = Path(csv_file) if Path(csv_file).is_absolute() else root / csv_file
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        header = csv.DictReader(handle).fieldnames or []
    if name_column not in header and "image" in header:
        name_column = "image"
    rows = _read_csv(csv_path, [name_column, mos_column])
    return _checked_items(csv_path, rows, name_column, mos_column, root)


def _checked_items(
    csv_path: Path, rows: Sequence[dict[str, str]], name_column: str, mos_column: str, root: Path
) -> list[ImageItem]:
    """Items of a score file: unique names and finite MOS, or one error listing every bad line."""
    problems: list[str] = []
    first_line: dict[str, int] = {}
    items: list[ImageItem] = []
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        name = (row.get(name_column) or "").strip()
        if not name:
            problems.append(f"line {line}: empty {name_column!r}")
            continue
        if name in first_line:
            problems.append(f"line {line}: image {name!r} again (first on line {first_line[name]})")
            continue
        first_line[name] = line
        raw = (row.get(mos_column) or "").strip()
        try:
            mos = float(raw)
        except ValueError:
            mos = math.nan
        if not math.isfinite(mos):
            problems.append(f"line {line}: {mos_column} of {name!r} is {raw!r}, not a finite number")
            continue
        items.append(ImageItem(name, mos, root / name))
    if problems:
        shown = "; ".join(problems[:10]) + (f"; ... ({len(problems) - 10} more)" if len(problems) > 10 else "")
        raise DatasetLayoutError(f"{csv_path}: {len(problems)} bad line(s): {shown}. Fix the score file and rerun")
    return items


def demo(limit: int | None = None) -> list[ImageItem]:
    """The offline demo dataset (:mod:`iqa_bench.demo`), generated in memory.

    With ``limit`` only the first ``limit`` records are kept, and only the references they come
    from are built (a record depends on its reference alone: the first ``limit`` records are the
    same as those of the whole dataset).
    """
    from ..demo import DEMO_REFERENCES, demo_dataset

    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if limit is None:
        records = demo_dataset()
    else:
        records = []
        for reference in DEMO_REFERENCES:
            if len(records) >= limit:
                break
            records.extend(demo_dataset(references=(reference,)))
        records = records[:limit]
    return [
        ImageItem(
            r.name,
            r.mos,
            None,
            {"reference": r.reference, "distortion": r.distortion, "level": r.level},
            loader=_constant(r.image),
        )
        for r in records
    ]


def _constant(image: Tensor) -> Callable[[], Tensor]:
    return lambda: image
