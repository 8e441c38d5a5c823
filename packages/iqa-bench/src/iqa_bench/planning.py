"""The grid as units of work: what to compute, in which chunks, and how much of it there is.

Work is split into *units*, each one chunk of images (fixed boundaries: ``chunk_size`` items in
dataset order) for one experiment:

* ``clean``: f(x) and, per defence preset, f(P(x)) — rows with ``attack = "none"``;
* ``non-adaptive`` (attack, preset): x' = attack(metric, x) once, then f(x') (``defence = "none"``)
  and f(P(x')) for every defence preset;
* ``adaptive`` (attack, preset, defence, preset): x' = attack(defended(metric, P), x);
* ``certify`` (certifier, preset): certificates of the first ``images`` items.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from iqa_core import registry

from . import datasets
from .config import ALL_PRESETS, BenchConfig, ComponentConfig, ConfigError, DatasetConfig
from .datasets import ImageItem
from .datasets.official import OFFICIAL
from .schema import NONE


@dataclass(frozen=True)
class Unit:
    """One unit of work (see the module docstring)."""

    kind: str  # "clean" | "non-adaptive" | "adaptive" | "certify"
    dataset: str
    metric: str
    chunk: int
    component: str = NONE
    preset: str = NONE
    defence: str = NONE
    defence_preset: str = NONE

    @property
    def id(self) -> str:
        return json.dumps(
            [
                self.kind,
                self.dataset,
                self.metric,
                self.chunk,
                self.component,
                self.preset,
                self.defence,
                self.defence_preset,
            ]
        )

    def seed(self, base: int) -> int:
        return int(hashlib.sha256(f"{base}:{self.id}".encode()).hexdigest()[:12], 16)


def preset_name(preset: str | None) -> str:
    return NONE if preset is None else preset


def dataset_items(config: DatasetConfig, seed: int = 0) -> list[ImageItem]:
    """The items of a configured dataset, after sampling and ``limit``."""
    if config.kind == "demo":
        # without sampling, the limit applies before any image is synthesised
        items = datasets.demo(None if config.sample else config.limit)
    elif config.kind == "koniq10k":
        items = datasets.koniq10k(config.root or "")
    elif config.kind == "kadid10k":
        items = datasets.kadid10k(config.root or "")
    elif config.kind == "nips2017":
        items = datasets.nips2017(config.root or "")
    elif config.kind == "agiqa3k":
        items = datasets.agiqa3k(config.root or "")
    else:
        items = datasets.folder(config.root or "", config.csv or "")
    if config.sample:
        from .sampling import sample_items

        items = sample_items(items, **config.sample)
    if config.limit is not None:
        items = items[: config.limit]
    return items


def expand_presets(config: BenchConfig) -> BenchConfig:
    """Replace ``presets: all`` by every preset the registry lists for that component (weak -> strong)."""

    def expand(kind: str, specs: tuple[ComponentConfig, ...]) -> tuple[ComponentConfig, ...]:
        out = []
        for spec in specs:
            if spec.presets == (ALL_PRESETS,):
                names = tuple(registry.presets(kind, spec.name)) or (None,)
                spec = replace(spec, presets=names)
            out.append(spec)
        return tuple(out)

    return replace(
        config,
        attacks=expand("attack", config.attacks),
        defences=expand("defence", config.defences),
        certifiers=expand("certifier", config.certifiers),
    )


def chunks(items: Sequence[ImageItem], size: int) -> list[list[ImageItem]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def plan(config: BenchConfig, items_by_dataset: dict[str, list[ImageItem]]) -> list[Unit]:
    """Every unit of the grid, chunk-major (all units of a chunk together: one chunk in memory)."""
    units: list[Unit] = []
    for ds in config.datasets:
        n_chunks = math.ceil(len(items_by_dataset[ds.name]) / config.chunk_size)
        for metric in config.metrics:
            for c in range(n_chunks):
                units.append(Unit("clean", ds.name, metric.name, c))
                for attack in config.attacks:
                    if attack.images is not None and c * config.chunk_size >= attack.images:
                        continue  # this attack evaluates only the first `images` items
                    for preset in attack.presets:
                        if "non-adaptive" in config.modes:
                            units.append(
                                Unit("non-adaptive", ds.name, metric.name, c, attack.name, preset_name(preset))
                            )
                        if "adaptive" in config.modes:
                            for defence in config.defences:
                                for dpreset in defence.presets:
                                    units.append(
                                        Unit(
                                            "adaptive",
                                            ds.name,
                                            metric.name,
                                            c,
                                            attack.name,
                                            preset_name(preset),
                                            defence.name,
                                            preset_name(dpreset),
                                        )
                                    )
            for certifier in config.certifiers:
                for preset in certifier.presets:
                    units.append(Unit("certify", ds.name, metric.name, 0, certifier.name, preset_name(preset)))
    return units


# ---------------------------------------------------------------------------------------- dataset-free planning
@dataclass(frozen=True)
class PlannedDataset:
    """What planning and cost estimates need of a dataset: its items (after sampling and ``limit``,
    placeholders when the files are absent) and its image size, without decoding the images."""

    name: str
    items: list[ImageItem]
    size: tuple[int, int]
    """Most common image size (height, width)."""
    pixels: float
    """Mean pixels per image (cost scales with it)."""
    source: str
    """Where the count comes from: ``files``, ``official figures`` (folder absent) or ``in memory``."""


def _sampled(items: list[ImageItem], sample: dict[str, Any] | None) -> list[ImageItem]:
    """Items of the right *count* after the benchmark's sampling, without decoding any image.

    Sampling by reference is exact (it reads only metadata); K-Means sampling always yields
    ``min(clusters * per_cluster, len(items))`` items (small clusters are topped up), so the first
    that many stand for it: which items are drawn does not change the plan or its cost."""
    if not sample:
        return items
    if sample.get("references") is not None:
        from .sampling import sample_items

        return sample_items(items, references=int(sample["references"]), seed=int(sample.get("seed", 0)))
    n = min(int(sample.get("clusters", 10)) * int(sample.get("per_cluster", 100)), len(items))
    return items[:n]


def _placeholders(kind: str) -> list[ImageItem]:
    official = OFFICIAL[kind]
    per_reference = official.per_reference
    return [
        ImageItem(
            f"{kind}-{i:05d}",
            None,
            None,
            {"reference": f"ref{i // per_reference:03d}"} if per_reference else {},
        )
        for i in range(official.count)
    ]


def _file_size(item: ImageItem) -> tuple[int, int] | None:
    """(height, width) from the image file's header, or None when it cannot be read."""
    if item.path is None or not item.path.is_file():
        return None
    try:
        from PIL import Image

        with Image.open(item.path) as image:
            width, height = image.size
    except Exception:  # noqa: BLE001 - an unreadable header only loses the size, the official one is used
        return None
    return (height, width)


def planned_dataset(config: DatasetConfig) -> PlannedDataset:
    """A dataset for planning: its listed items when its folder is there, the official figures otherwise."""
    if config.kind == "demo":
        items = dataset_items(config)
        shapes = [(int(s[0]), int(s[1])) for s in (item.load().shape[-2:] for item in items)]
        common = max(set(shapes), key=shapes.count) if shapes else (0, 0)
        pixels = sum(h * w for h, w in shapes) / max(1, len(shapes))
        return PlannedDataset(config.name, items, common, pixels, "in memory")
    official = OFFICIAL.get(config.kind)
    root = Path(config.root or "")
    if official is not None and not root.is_dir():
        items = _placeholders(config.kind)
        source = f"official figures ({official.count} images, {official.height}x{official.width}; {root} absent)"
        size: tuple[int, int] | None = official.size
    else:
        if config.kind == "folder":
            csv_path = Path(config.csv or "")
            csv_path = csv_path if csv_path.is_absolute() else root / csv_path
            if not csv_path.is_file():
                raise ConfigError(
                    f"datasets ({config.name}): {csv_path} not found; a folder dataset has no official size, "
                    "so planning needs its CSV to count the images"
                )
        items = dataset_items(replace(config, sample=None, limit=None))
        size = _file_size(items[0]) if items else None
        if size is None and official is not None:
            size = official.size
        source = "files"
    items = _sampled(items, config.sample)
    if config.limit is not None:
        items = items[: config.limit]
    if size is None:
        size = (384, 512)
        source += "; image size unknown, 384x512 assumed"
    return PlannedDataset(config.name, items, size, float(size[0] * size[1]), source)


def plan_without_data(config: BenchConfig) -> tuple[BenchConfig, dict[str, PlannedDataset], list[Unit]]:
    """The grid planned from counts alone: no image decoded, no dataset file needed, no device used.

    Returns the config with ``presets: all`` expanded, the planned datasets and the units (the same
    units the runner plans when the datasets are on disk with the official counts)."""
    from .validation import validate_grid

    validate_grid(config)
    config = expand_presets(config)
    datasets_ = {ds.name: planned_dataset(ds) for ds in config.datasets}
    return config, datasets_, plan(config, {name: d.items for name, d in datasets_.items()})


def unit_images(config: BenchConfig, unit: Unit, n_items: int) -> int:
    """Images a unit evaluates, for a dataset of ``n_items`` items (the runner's ``unit_items`` count)."""
    if unit.kind == "certify":
        spec = next(c for c in config.certifiers if c.name == unit.component)
        return min(spec.images or 10, n_items)
    n = max(0, min(config.chunk_size, n_items - unit.chunk * config.chunk_size))
    if unit.kind != "clean":
        limit = next(a for a in config.attacks if a.name == unit.component).images
        if limit is not None:
            n = min(n, max(0, limit - unit.chunk * config.chunk_size))
    return n


def estimate(config: BenchConfig, units: Sequence[Unit], items: dict[str, list[ImageItem]]) -> dict[str, Any]:
    """Grid size and amount of work, for ``--dry-run``."""
    per_kind: dict[str, int] = {}
    images_per_kind: dict[str, int] = {}
    sizes = {name: len(v) for name, v in items.items()}
    for unit in units:
        per_kind[unit.kind] = per_kind.get(unit.kind, 0) + 1
        n = unit_images(config, unit, sizes[unit.dataset])
        images_per_kind[unit.kind] = images_per_kind.get(unit.kind, 0) + n
    return {
        "datasets": {name: len(v) for name, v in items.items()},
        "units": per_kind,
        "attacked_images": images_per_kind.get("non-adaptive", 0) + images_per_kind.get("adaptive", 0),
        "certified_images": images_per_kind.get("certify", 0),
        "result_rows": sum(
            images_per_kind.get(k, 0) * m
            for k, m in (
                ("clean", 1 + sum(len(d.presets) for d in config.defences)),
                ("non-adaptive", 1 + sum(len(d.presets) for d in config.defences)),
                ("adaptive", 1),
            )
        ),
    }


__all__ = [
    "PlannedDataset",
    "Unit",
    "chunks",
    "dataset_items",
    "estimate",
    "expand_presets",
    "plan",
    "plan_without_data",
    "planned_dataset",
    "preset_name",
    "unit_images",
]
