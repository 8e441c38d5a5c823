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
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from iqa_core import Scorer, create, defended, measures

from .adversarial_cache import AdversarialCache
from .chunk import ChunkData
from .config import BenchConfig, ComponentConfig, DatasetConfig
from .datasets import ImageItem
from .identity import UnitIdentity
from .planning import Unit, chunks, dataset_items, expand_presets, plan, preset_name
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


def _tensor_digest(images: Tensor) -> str:
    return hashlib.sha256(images.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


def _finite(value: Tensor) -> list[float | None]:
    return [float(v) if math.isfinite(float(v)) else None for v in value.flatten()]


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
        self.items: dict[str, list[ImageItem]] = {}
        self._chunk_key: tuple[Any, ...] | None = None
        self._chunk: ChunkData | None = None
        self.identity = UnitIdentity(config)
        self.cache = AdversarialCache(config.cache_path)
        self.fingerprints: dict[str, str] = {}

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
        with StepProgress("units", len(todo), enabled=self.progress) as bar:
            for i, unit in enumerate(todo):
                t0 = time.perf_counter()
                results, certificates = self.compute(unit)
                summary.compute_seconds += time.perf_counter() - t0
                self.record(unit, results, certificates, summary)
                bar.callback(i + 1, len(todo))
        summary.seconds = time.perf_counter() - start
        return summary

    def prepare_run(self) -> tuple[list[Unit], RunSummary]:
        """Load the datasets, record bounds and fingerprint; return the units still to do."""
        units = self.load()
        summary = RunSummary(units_total=len(units))
        self.store.set_meta("config_fingerprint", self.config.fingerprint())
        self.store.set_meta("units_total", len(units))
        for metric_spec in self.config.metrics:
            metric = self._component("metric", metric_spec, None)
            lower, upper = metric.bounds.lower, metric.bounds.upper
            if self.config.bounds == "measured":
                from .bounds import cached_bounds

                report = cached_bounds(metric_spec.name)
                lower, upper = float(report["lower"]), float(report["upper"])
            self.store.set_bounds(metric_spec.name, lower, upper, metric.higher_is_better)
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
        return self._component("metric", self._spec(self.config.metrics, name), None)

    def _too_small(self, unit: Unit, image: Tensor) -> str | None:
        """Why ``image`` cannot be scored by the unit's metric (its declared ``min_size``), or None."""
        min_size = getattr(self._metric(unit.metric), "min_size", None)
        if min_size is None:
            return None
        min_h, min_w = (min_size, min_size) if isinstance(min_size, int) else min_size
        height, width = image.shape[-2:]
        if height >= min_h and width >= min_w:
            return None
        return (
            f"image is {height}x{width} (HxW), smaller than the minimum input of metric {unit.metric!r}, "
            f"{min_h}x{min_w}; it is not upscaled (that would score another image)"
        )

    def _run_unit(self, unit: Unit, data: ChunkData) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if unit.kind == "certify":
            return [], self._certify(unit, data)
        rows: list[dict[str, Any]] = []
        for item, error in data.failed:
            rows.extend(self._failed_rows(unit, item, f"cannot load image: {error}"))
        for items, images in data.groups():
            reason = self._too_small(unit, images)
            if reason is not None:
                for item in items:
                    rows.extend(self._failed_rows(unit, item, reason))
                continue
            try:
                rows.extend(self._evaluate(unit, items, images, data.cache))
            except Exception as error:  # noqa: BLE001 - isolate the failing image(s), keep the others
                log.warning("unit %s failed as a batch (%s); retrying image by image", unit.id, error)
                for k, item in enumerate(items):
                    try:
                        rows.extend(self._evaluate(unit, [item], images[k : k + 1]))
                    except Exception as single_error:  # noqa: BLE001
                        rows.extend(self._failed_rows(unit, item, f"{type(single_error).__name__}: {single_error}"))
        return rows, []

    # ------------------------------------------------------------------ evaluation
    def _base_row(
        self, unit: Unit, item: ImageItem, attack: str, preset: str, defence: str, dpreset: str
    ) -> dict[str, Any]:
        mode = "adaptive" if unit.kind == "adaptive" else "non-adaptive"
        return {
            "dataset": unit.dataset,
            "image": item.id,
            "metric": unit.metric,
            "attack": attack,
            "attack_preset": preset,
            "defence": defence,
            "defence_preset": dpreset,
            "mode": mode,
            "mos": item.mos,
        }

    def _failed_rows(self, unit: Unit, item: ImageItem, error: str) -> list[dict[str, Any]]:
        return [
            {**self._base_row(unit, item, *combo), "status": "failed", "error": error[:2000]}
            for combo in self._row_combos(unit)
        ]

    def _row_combos(self, unit: Unit) -> list[tuple[str, str, str, str]]:
        if unit.kind == "clean":
            return [(NONE, NONE, NONE, NONE)] + [
                (NONE, NONE, d.name, preset_name(p)) for d in self.config.defences for p in d.presets
            ]
        if unit.kind == "non-adaptive":
            return [(unit.component, unit.preset, NONE, NONE)] + [
                (unit.component, unit.preset, d.name, preset_name(p)) for d in self.config.defences for p in d.presets
            ]
        return [(unit.component, unit.preset, unit.defence, unit.defence_preset)]

    def _score(self, metric: Any, images: Tensor) -> tuple[Tensor, float]:
        t0 = time.perf_counter()
        scores = self.scorer.score(metric, images)
        return scores, time.perf_counter() - t0

    def _purify(self, defence: Any, images: Tensor, seed: int) -> tuple[Tensor, float]:
        t0 = time.perf_counter()
        generator = torch.Generator(device=self.device).manual_seed(seed)
        out = self.scorer.apply(defence, images, generator=generator)
        assert isinstance(out, Tensor)
        return out, time.perf_counter() - t0

    def _attack(self, unit: Unit, target: Any, images: Tensor, items: Sequence[ImageItem]) -> tuple[Tensor, float]:
        attack = self._component(
            "attack", self._spec(self.config.attacks, unit.component), self._preset_arg(unit.preset)
        )
        key = self.identity.attack_key(unit, items, _tensor_digest(images))
        cached = self.cache.load(key)
        if cached is not None:
            return cached
        if hasattr(attack, "fit") and not getattr(attack, "_iqa_bench_fitted", False):
            self._fit(attack, unit)
        generator = torch.Generator(device=self.device).manual_seed(unit.seed(self.config.seed))
        self.scorer.prepare(target)
        t0 = time.perf_counter()
        adversarial = self.scorer.apply(lambda b: attack(target, b, generator=generator), images, grad=True)
        seconds = time.perf_counter() - t0
        assert isinstance(adversarial, Tensor)
        adversarial = adversarial.detach().float().cpu()
        self.cache.save(key, adversarial, seconds)
        return adversarial, seconds

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

    def _purified_clean(
        self, unit: Unit, defence_spec: ComponentConfig, preset: str | None, images: Tensor, cache: dict[Any, Any]
    ) -> tuple[Tensor, float, float]:
        """f(P(x)) for the chunk, computed once per (defence, preset) and shared by every unit."""
        key = ("pc", unit.metric, defence_spec.name, preset, _tensor_digest(images))
        if key not in cache:
            defence = self._component("defence", defence_spec, preset)
            dseed = Unit("clean", unit.dataset, unit.metric, unit.chunk).seed(self.config.seed)
            purified, t_def = self._purify(defence, images, dseed)
            scores, t_m = self._score(self._metric(unit.metric), purified)
            cache[key] = (scores, t_def, t_m)
        return cache[key]

    def _clean(self, unit: Unit, images: Tensor, cache: dict[Any, Any]) -> tuple[Tensor, float]:
        key = ("clean", unit.metric, _tensor_digest(images))
        if key not in cache:
            cache[key] = self._score(self._metric(unit.metric), images)
        return cache[key]

    def _evaluate(
        self, unit: Unit, items: Sequence[ImageItem], images: Tensor, cache: dict[Any, Any] | None = None
    ) -> list[dict[str, Any]]:
        cache = {} if cache is None else cache
        metric = self._metric(unit.metric)
        seed = unit.seed(self.config.seed)
        clean, t_clean = self._clean(unit, images, cache)
        n = len(items)
        out: list[dict[str, Any]] = []

        def add(
            combo: tuple[str, str, str, str],
            attacked: Tensor | None,
            pc: Tensor | None,
            pa: Tensor | None,
            purified_adv: Tensor | None,
            secs: dict[str, float],
        ) -> None:
            for k, item in enumerate(items):
                row = self._base_row(unit, item, *combo)
                row.update(
                    score_clean=_finite(clean[k])[0],
                    status="done",
                    error=None,
                    seconds_attack=secs.get("attack", 0.0) / n,
                    seconds_defence=secs.get("defence", 0.0) / n,
                    seconds_metric=secs.get("metric", 0.0) / n,
                )
                if attacked is not None:
                    row["score_attacked"] = _finite(attacked[k])[0]
                if pc is not None:
                    row["score_purified_clean"] = _finite(pc[k])[0]
                if pa is not None:
                    row["score_purified_attacked"] = _finite(pa[k])[0]
                if purified_adv is not None:
                    ref, dist = images[k : k + 1], purified_adv[k : k + 1]
                    row.update(
                        psnr=float(measures.psnr(ref, dist)),
                        ssim=float(measures.ssim(ref, dist)),
                        mse=float(measures.mse(ref, dist)),
                        linf=float(measures.linf(ref, dist)),
                    )
                nan = [
                    c
                    for c in ("score_clean", "score_attacked", "score_purified_clean", "score_purified_attacked")
                    if c in row and row[c] is None
                ]
                if nan:
                    row.update(status="failed", error=f"non-finite score in {', '.join(nan)}")
                out.append(row)

        if unit.kind == "clean":
            add((NONE, NONE, NONE, NONE), None, clean, None, None, {"metric": t_clean})
            for d in self.config.defences:
                for p in d.presets:
                    pc, t_def, t_m = self._purified_clean(unit, d, p, images, cache)
                    add((NONE, NONE, d.name, preset_name(p)), None, pc, None, None, {"defence": t_def, "metric": t_m})
            return out

        if unit.kind == "non-adaptive":
            adversarial, t_att = self._attack(unit, metric, images, items)
            attacked, t_m = self._score(metric, adversarial)
            add(
                (unit.component, unit.preset, NONE, NONE),
                attacked,
                clean,
                attacked,
                adversarial,
                {"attack": t_att, "metric": t_m + t_clean},
            )
            for d in self.config.defences:
                for p in d.presets:
                    defence = self._component("defence", d, p)
                    pc, _, _ = self._purified_clean(unit, d, p, images, cache)
                    pa_images, t_def = self._purify(defence, adversarial, seed)
                    pa, t_m2 = self._score(metric, pa_images)
                    add(
                        (unit.component, unit.preset, d.name, preset_name(p)),
                        attacked,
                        pc,
                        pa,
                        pa_images,
                        {"attack": t_att, "defence": t_def, "metric": t_m2},
                    )
            return out

        # adaptive
        d = self._spec(self.config.defences, unit.defence)
        defence = self._component("defence", d, self._preset_arg(unit.defence_preset))
        eot = self.config.eot_samples if getattr(defence, "randomized", False) else 1
        target = defended(
            metric, defence, eot_samples=eot, generator=torch.Generator(device=self.device).manual_seed(seed)
        )
        adversarial, t_att = self._attack(unit, target, images, items)
        attacked, _ = self._score(metric, adversarial)
        pc, _, _ = self._purified_clean(unit, d, self._preset_arg(unit.defence_preset), images, cache)
        pa_images, t_def = self._purify(defence, adversarial, seed)
        pa, t_m = self._score(metric, pa_images)
        add(
            (unit.component, unit.preset, unit.defence, unit.defence_preset),
            attacked,
            pc,
            pa,
            pa_images,
            {"attack": t_att, "defence": t_def, "metric": t_m},
        )
        return out

    # ------------------------------------------------------------------ certification
    def _certify(self, unit: Unit, data: ChunkData) -> list[dict[str, Any]]:
        spec = self._spec(self.config.certifiers, unit.component)
        certifier = self._component("certifier", spec, self._preset_arg(unit.preset))
        metric = self._metric(unit.metric)
        rows: list[dict[str, Any]] = []
        base = {
            "dataset": unit.dataset,
            "metric": unit.metric,
            "certifier": unit.component,
            "certifier_preset": unit.preset,
        }
        for item, error in data.failed:
            rows.append({**base, "image": item.id, "mos": item.mos, "status": "failed", "error": str(error)})
        for k, item in enumerate(data.items):
            try:
                generator = torch.Generator(device=self.device).manual_seed(unit.seed(self.config.seed) + k)
                (cert,) = certifier.certify(metric, data.image(k).to(self.device), generator=generator)
            except Exception as error:  # noqa: BLE001 - one bad image must not stop the run
                rows.append(
                    {
                        **base,
                        "image": item.id,
                        "mos": item.mos,
                        "status": "failed",
                        "error": f"{type(error).__name__}: {error}",
                    }
                )
                continue
            rows.append(
                {
                    **base,
                    "image": item.id,
                    "mos": item.mos,
                    "abstained": int(cert.abstained),
                    "prediction": cert.prediction,
                    "radius": cert.radius,
                    "score": cert.score,
                    "lower": cert.lower,
                    "upper": cert.upper,
                    "delta": cert.delta,
                    "relative_delta": cert.relative_delta,
                    "seconds": cert.seconds,
                    "status": "done",
                    "error": None,
                }
            )
        return rows


__all__ = ["RunSummary", "Runner"]
