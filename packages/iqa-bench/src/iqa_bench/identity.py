"""What makes a unit's numbers what they are: its fingerprint, and the key of a cached attack.

A unit's id names *which* experiment and chunk it is; its fingerprint hashes *everything that
changes its numbers*: the effective parameters of every component it runs (the preset table
resolved and overridden by the config's ``params``), the version of the package that provides each
component, the run's seed, the items of the chunk (ids and MOS) and, for adaptive units, the EOT
sample count. A resumed run compares the stored fingerprint of each finished unit with the current
one and recomputes the units whose fingerprint changed (their old rows are replaced); nothing stale
is kept silently.

Clean and non-adaptive units write rows for every defence preset of the config, so their
fingerprint includes every defence; adaptive units include only their own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from iqa_core import registry

from .config import BenchConfig, ComponentConfig
from .datasets import ImageItem
from .planning import Unit


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=repr).encode()).hexdigest()[:24]


class UnitIdentity:
    """Fingerprints of the units of one configuration (component descriptions are memoised)."""

    def __init__(self, config: BenchConfig) -> None:
        self.config = config
        self._components: dict[tuple[str, str, str | None], dict[str, Any]] = {}

    def component(self, kind: str, spec: ComponentConfig, preset: str | None) -> dict[str, Any]:
        """``{name, source, params}``: what a component computes with (preset resolved, version)."""
        key = (kind, spec.name, preset)
        if key not in self._components:
            params = registry.resolve_params(kind, spec.name, preset, **spec.params)
            self._components[key] = {
                "kind": kind,
                "name": spec.name,
                "preset": preset,
                "source": registry.describe(kind, spec.name).source,
                "params": params,
            }
        return self._components[key]

    def _spec(self, specs: Sequence[ComponentConfig], name: str) -> ComponentConfig:
        return next(s for s in specs if s.name == name)

    @staticmethod
    def _preset(preset: str) -> str | None:
        from .schema import NONE

        return None if preset == NONE else preset

    def _defences(self) -> list[dict[str, Any]]:
        return [self.component("defence", d, p) for d in self.config.defences for p in d.presets]

    def parts(self, unit: Unit) -> dict[str, Any]:
        """The fingerprint's ingredients (everything but the chunk's items)."""
        metric_spec = self._spec(self.config.metrics, unit.metric)
        metric = self.component("metric", metric_spec, None)
        precision = self.config.metric_precision(metric_spec)
        if precision:  # lower precision changes the scores: such units are not those of a float32 run
            metric = {**metric, "precision": precision}
        parts: dict[str, Any] = {"unit": unit.id, "seed": self.config.seed, "metric": metric}
        if unit.kind == "certify":
            spec = self._spec(self.config.certifiers, unit.component)
            parts["certifier"] = self.component("certifier", spec, self._preset(unit.preset))
            parts["images"] = spec.images
            return parts
        if unit.kind in ("non-adaptive", "adaptive"):
            spec = self._spec(self.config.attacks, unit.component)
            parts["attack"] = self.component("attack", spec, self._preset(unit.preset))
            parts["attack_images"] = spec.images
            if self.config.measures:  # the rows then carry LPIPS / DISTS: a run without them does not count
                parts["measures"] = [self.component("measure", m, None) for m in self.config.measures]
        if unit.kind == "adaptive":
            spec = self._spec(self.config.defences, unit.defence)
            parts["defence"] = self.component("defence", spec, self._preset(unit.defence_preset))
            parts["eot_samples"] = self.config.eot_samples
        else:
            parts["defences"] = self._defences()
        return parts

    def fingerprint(self, unit: Unit, items: Sequence[ImageItem]) -> str:
        """Hash of :meth:`parts` and the ids and MOS of the unit's items."""
        return _digest({**self.parts(unit), "items": [[item.id, item.mos] for item in items]})

    def attack_key(self, unit: Unit, items: Sequence[ImageItem], images_digest: str) -> str:
        """Key of a cached adversarial batch: attack, its target (metric, defence, EOT), seed, inputs."""
        parts = self.parts(unit)
        parts.pop("defences", None)  # non-adaptive attacks do not see the defences
        parts.pop("measures", None)  # nor the measures of their rows
        parts["unit"] = [unit.kind, unit.metric, unit.component, unit.preset, unit.defence, unit.defence_preset]
        return hashlib.sha256(
            json.dumps(
                {**parts, "items": [item.id for item in items], "images": images_digest}, sort_keys=True, default=repr
            ).encode()
        ).hexdigest()
