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
from typing import Any

from iqa_core import registry

from . import datasets
from .config import ALL_PRESETS, BenchConfig, ComponentConfig, DatasetConfig
from .datasets import ImageItem
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
        items = datasets.demo()
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


def estimate(config: BenchConfig, units: Sequence[Unit], items: dict[str, list[ImageItem]]) -> dict[str, Any]:
    """Grid size and amount of work, for ``--dry-run``."""
    per_kind: dict[str, int] = {}
    images_per_kind: dict[str, int] = {}
    for unit in units:
        per_kind[unit.kind] = per_kind.get(unit.kind, 0) + 1
        if unit.kind == "certify":
            n = next(c for c in config.certifiers if c.name == unit.component).images or 10
        else:
            n = len(chunks(items[unit.dataset], config.chunk_size)[unit.chunk])
            if unit.kind != "clean":
                limit = next(a for a in config.attacks if a.name == unit.component).images
                if limit is not None:
                    n = min(n, max(0, limit - unit.chunk * config.chunk_size))
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


__all__ = ["Unit", "chunks", "dataset_items", "estimate", "expand_presets", "plan", "preset_name"]
