"""The local executor: runs a :class:`~iqa_bench.config.BenchConfig` grid into a :class:`ResultStore`.

The grid is planned as units (:mod:`iqa_bench.planning`). A unit's rows are written in one
transaction together with its "finished" mark and its fingerprint (:mod:`iqa_bench.identity`), so
a run killed at any moment and restarted recomputes only unfinished units and ends with exactly the
rows of an uninterrupted run: randomness is seeded per unit, chunk boundaries never move, and
adversarial images are cached on disk (:mod:`iqa_bench.adversarial_cache`) before they are
evaluated. A unit whose fingerprint changed since it was computed (component parameters, presets,
package versions, seed, the chunk's items) is recomputed and its old rows replaced.

Images are evaluated at their own size (:mod:`iqa_bench.chunk`); an image smaller than the
metric's ``min_size`` is a failed row naming the reason. A failing image (corrupt file, NaN
score, an error or out-of-memory at batch size one) is recorded as ``status = "failed"`` with the
error, and the run goes on.

Jobs: this module plans the units, loads their chunks (:mod:`iqa_bench.chunk`), produces the
adversarial images (cached by :mod:`iqa_bench.adversarial_cache`) and writes finished units;
:mod:`iqa_bench.evaluate` turns a unit and its chunk into rows and does shared work once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from iqa_core import Scorer, create

from .adversarial_cache import AdversarialCache
from .chunk import ChunkData
from .config import BenchConfig, ComponentConfig, DatasetConfig, config_record
from .datasets import ImageItem
from .evaluate import Evaluator, tensor_digest
from .identity import UnitIdentity
from .planning import Unit, chunks, dataset_items, expand_presets, plan
from .progress import StepProgress
from .schema import NONE
from .store import ResultStore
from .validation import validate_grid

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    units_total: int = 0
    units_skipped: int = 0
    units_run: int = 0
    rows_written: int = 0
    rows_failed: int = 0
    seconds: float = 0.0
    compute_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    #: images each component kind processed, and images whose result was reused instead
    #: (:attr:`iqa_bench.evaluate.Evaluator.work`), counted over this run's units
    work: dict[str, int] = field(default_factory=dict)
    #: with ``sufficient:`` in the config, planned vs attacked images (:func:`iqa_bench.sufficient.savings`)
    sufficient: dict[str, Any] | None = None


class Runner:
    """Runs the grid of a config on one device (see the module docstring)."""

    def __init__(
        self,
        config: BenchConfig,
        store: ResultStore,
        *,
        progress: bool = True,
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.progress = progress
        self.say = say or (lambda _m: None)
        self.scorer = Scorer(config.device, config.batch_size)
        self.device = self.scorer.device
        self._components: dict[tuple[str, str, str | None], Any] = {}
        self.planned_units: list[Unit] = []  # every unit of the config (set by prepare_run)
        self.items: dict[str, list[ImageItem]] = {}
        self._chunk_key: tuple[Any, ...] | None = None
        self._chunk: ChunkData | None = None
        self.identity = UnitIdentity(config)
        self.cache = AdversarialCache(config.cache_path)
        self.fingerprints: dict[str, str] = {}
        self.evaluator = Evaluator(self)

    # ------------------------------------------------------------------ components
    def _component(self, kind: str, spec: ComponentConfig, preset: str | None) -> Any:
        key = (kind, spec.name, preset)
        if key not in self._components:
            obj = create(kind, spec.name, preset=preset, **spec.params)
            if isinstance(obj, torch.nn.Module):
                obj.to(self.device)
            self._components[key] = obj
        return self._components[key]

    def _spec(self, specs: Sequence[ComponentConfig], name: str) -> ComponentConfig:
        return next(s for s in specs if s.name == name)

    @staticmethod
    def _preset_arg(preset: str) -> str | None:
        return None if preset == NONE else preset

    # ------------------------------------------------------------------ run
    def load(self) -> list[Unit]:
        validate_grid(self.config)
        self.config = expand_presets(self.config)
        self.identity = UnitIdentity(self.config)
        for ds in self.config.datasets:
            self.items[ds.name] = dataset_items(ds, self.config.seed)
        return plan(self.config, self.items)

    def run(self) -> RunSummary:
        start = time.perf_counter()
        todo, summary = self.prepare_run()
        sufficiency = None
        if self.config.sufficient is not None:
            from .sufficient import Sufficiency, chunk_first

            todo, sufficiency = chunk_first(todo), Sufficiency(self.config.sufficient, self.store)
        skipped: list[Unit] = []
        with StepProgress("units", len(todo), enabled=self.progress) as bar:
            for i, unit in enumerate(todo):
                if sufficiency is not None and not sufficiency.needed(unit):
                    skipped.append(unit)
                    bar.callback(i + 1, len(todo))
                    continue
                t0 = time.perf_counter()
                results, certificates = self.compute(unit)
                summary.compute_seconds += time.perf_counter() - t0
                self.record(unit, results, certificates, summary)
                bar.callback(i + 1, len(todo))
        summary.work = dict(self.evaluator.work)
        if sufficiency is not None:
            from .sufficient import savings

            planned = self.planned_units
            summary.sufficient = savings(planned, skipped, {u.id: len(self.unit_items(u)) for u in planned})
            self.store.set_meta("sufficient", summary.sufficient)
        summary.seconds = time.perf_counter() - start
        return summary

    def prepare_run(self) -> tuple[list[Unit], RunSummary]:
        """Load the datasets, record bounds and fingerprint; return the units still to do."""
        units = self.planned_units = self.load()
        summary = RunSummary(units_total=len(units))
        self.store.set_meta("config_fingerprint", self.config.fingerprint())
        self.store.set_meta("config", config_record(self.config))  # read back by `iqa-bench transfer STORE`
        self.store.set_meta("units_total", len(units))
        for metric_spec in self.config.metrics:
            metric = self._component("metric", metric_spec, None)
            lower, upper = metric.bounds.lower, metric.bounds.upper
            if self.config.bounds == "measured":
                from .bounds import cached_bounds

                report = cached_bounds(metric_spec.name)
                lower, upper = float(report["lower"]), float(report["upper"])
            self.store.set_bounds(metric_spec.name, lower, upper, metric.higher_is_better)
        self.measures()
        self.fingerprints = {u.id: self.identity.fingerprint(u, self.unit_items(u)) for u in units}
        done = self.store.finished_units()
        todo = [u for u in units if done.get(u.id) != self.fingerprints[u.id]]
        changed = [u for u in todo if u.id in done]
        summary.units_skipped = len(units) - len(todo)
        if summary.units_skipped:
            self.say(f"resuming: {summary.units_skipped} of {len(units)} units already done")
        if changed:
            self.say(
                f"{len(changed)} finished units were computed with other parameters, presets, seed, items or "
                "component versions: recomputing them (their old rows are replaced)"
            )
            summary.notes.append(f"recomputed {len(changed)} changed units")
        planned = {u.id for u in units}
        foreign = [unit for unit in done if unit not in planned]
        if foreign:
            self.say(
                f"the store also holds {len(foreign)} units that are not part of this configuration "
                "(kept; reports include them)"
            )
        return todo, summary

    def unit_items(self, unit: Unit) -> list[ImageItem]:
        """The items a unit evaluates (chunk order), before decoding."""
        if unit.kind == "certify":
            spec = self._spec(self.config.certifiers, unit.component)
            return list(self.items[unit.dataset][: spec.images or 10])
        items = chunks(self.items[unit.dataset], self.config.chunk_size)[unit.chunk]
        if unit.kind in ("non-adaptive", "adaptive"):
            limit = self._spec(self.config.attacks, unit.component).images
            if limit is not None:
                items = items[: max(0, limit - unit.chunk * self.config.chunk_size)]
        return list(items)

    def record(
        self, unit: Unit, results: list[dict[str, Any]], certificates: list[dict[str, Any]], summary: RunSummary
    ) -> None:
        """Write one unit's rows (one transaction) and count them."""
        fingerprint = self.fingerprints.get(unit.id) or self.identity.fingerprint(unit, self.unit_items(unit))
        self.store.write_unit(unit.id, results, certificates, fingerprint=fingerprint)
        summary.units_run += 1
        summary.rows_written += len(results) + len(certificates)
        summary.rows_failed += sum(r.get("status") == "failed" for r in [*results, *certificates])

    def compute(self, unit: Unit) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The rows of one unit (no store access: executors may call this in worker processes)."""
        where = (unit.dataset, unit.metric, unit.chunk, unit.kind == "certify" and unit.component)
        if self._chunk_key != where or self._chunk is None:
            self._chunk_key, self._chunk = where, self._load_chunk(unit)
        data = self._chunk
        if unit.kind in ("non-adaptive", "adaptive"):
            limit = self._spec(self.config.attacks, unit.component).images
            if limit is not None:
                keep = max(0, limit - unit.chunk * self.config.chunk_size)
                data = data.head(keep)
        return self._run_unit(unit, data)

    # ------------------------------------------------------------------ chunks
    def _load_chunk(self, unit: Unit) -> ChunkData:
        if unit.kind == "certify":
            return ChunkData.load(self.unit_items(unit))
        return ChunkData.load(chunks(self.items[unit.dataset], self.config.chunk_size)[unit.chunk])

    def _metric(self, name: str) -> Any:
        """The metric as units use it: under the config's precision switches (built once)."""
        key = ("metric@precision", name, None)
        if key not in self._components:
            spec = self._spec(self.config.metrics, name)
            metric = self._component("metric", spec, None)
            precision = self.config.metric_precision(spec)
            if precision:
                from iqa_core.precision import with_precision

                metric = with_precision(metric, precision)
            self._components[key] = metric
        return self._components[key]

    def measures(self) -> dict[str, Any]:
        """The config's learned perceptual measures (``measures:``), built once on the run's device.

        Built when a run starts, so missing weights stop it before any work instead of failing every
        attacked row."""
        return {spec.name: self._component("measure", spec, None) for spec in self.config.measures}

    def _run_unit(self, unit: Unit, data: ChunkData) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return self.evaluator.run_unit(unit, data)

    # ------------------------------------------------------------------ adversarial images
    def _attack(
        self, unit: Unit, target: Any, images: Tensor, items: Sequence[ImageItem], digest: str | None = None
    ) -> tuple[Tensor, float, Tensor | None]:
        """The unit's adversarial images, the seconds and, for a black-box attack, the queries each
        image cost: from the cache, or attacked and saved there first."""
        attack = self._component(
            "attack", self._spec(self.config.attacks, unit.component), self._preset_arg(unit.preset)
        )
        key = self.identity.attack_key(unit, items, digest or tensor_digest(images))
        cached = self.cache.load_entry(key)
        if cached is not None:
            return cached
        if hasattr(attack, "fit") and not getattr(attack, "_iqa_bench_fitted", False):
            self._fit(attack, unit)
        generator = torch.Generator(device=self.device).manual_seed(unit.seed(self.config.seed))
        self.scorer.prepare(target)
        t0 = time.perf_counter()
        spent: list[Tensor] = []  # per batch, in order (a batch retried after an OOM records once)

        def run(batch: Tensor) -> Tensor:
            out = attack(target, batch, generator=generator)
            used = getattr(attack, "last_queries", None)  # black-box attacks (iqa_attacks.base.QueryAttack)
            if isinstance(used, Tensor) and used.numel() == len(batch):
                spent.append(used.detach().cpu().double())
            return out

        adversarial = self.scorer.apply(run, images, grad=True)
        seconds = time.perf_counter() - t0
        assert isinstance(adversarial, Tensor)
        adversarial = adversarial.detach().float().cpu()
        queries = torch.cat(spent) if spent and sum(len(q) for q in spent) == len(images) else None
        self.cache.save(key, adversarial, seconds, queries)
        return adversarial, seconds, queries

    def _fit(self, attack: Any, unit: Unit) -> None:
        """Fit a trainable attack once, on the dataset images outside the evaluated items."""
        spec = self._spec(self.config.attacks, unit.component)
        ds = next(d for d in self.config.datasets if d.name == unit.dataset)
        evaluated = {i.id for i in self.items[unit.dataset]}
        pool = [
            i
            for i in dataset_items(DatasetConfig(ds.name, ds.kind, ds.root, ds.csv), self.config.seed)
            if i.id not in evaluated
        ] or self.items[unit.dataset]
        train = [item.load() for item in pool[: spec.images or 50]]
        self.say(f"fitting {unit.component}[{unit.preset}] on {len(train)} images")
        attack.fit(self._metric(unit.metric), train)
        attack._iqa_bench_fitted = True


__all__ = ["RunSummary", "Runner"]
