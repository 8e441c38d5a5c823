"""The local executor: runs a :class:`~iqa_bench.config.BenchConfig` grid into a :class:`ResultStore`.

Work is split into *units*, each one chunk of images (fixed boundaries: ``chunk_size`` items in
dataset order) for one experiment:

* ``clean``: f(x) and, per defence preset, f(P(x)) — rows with ``attack = "none"``;
* ``non-adaptive`` (attack, preset): x' = attack(metric, x) once, then f(x') (``defence = "none"``)
  and f(P(x')) for every defence preset;
* ``adaptive`` (attack, preset, defence, preset): x' = attack(defended(metric, P), x);
* ``certify`` (certifier, preset): certificates of the first ``images`` items.

A unit's rows are written in one transaction together with its "finished" mark, so a run killed
at any moment and restarted recomputes only unfinished units and ends with exactly the rows of an
uninterrupted run: randomness is seeded per unit, chunk boundaries never move, and adversarial
images are cached on disk (content-addressed) before they are evaluated.

A failing image (corrupt file, NaN score, an error or out-of-memory at batch size one) is recorded
as ``status = "failed"`` with the error, and the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor

from iqa_core import Scorer, create, defended, measures, registry

from . import datasets
from .config import ALL_PRESETS, BenchConfig, ComponentConfig, DatasetConfig
from .datasets import ImageItem
from .progress import StepProgress
from .schema import NONE
from .store import ResultStore

log = logging.getLogger(__name__)


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
        self._chunk: _ChunkData | None = None

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
        self.config = expand_presets(self.config)
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
        done = self.store.finished_units()
        todo = [u for u in units if u.id not in done]
        summary.units_skipped = len(units) - len(todo)
        if summary.units_skipped:
            self.say(f"resuming: {summary.units_skipped} of {len(units)} units already done")
        return todo, summary

    def record(
        self, unit: Unit, results: list[dict[str, Any]], certificates: list[dict[str, Any]], summary: RunSummary
    ) -> None:
        """Write one unit's rows (one transaction) and count them."""
        self.store.write_unit(unit.id, results, certificates)
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
    def _load_chunk(self, unit: Unit) -> _ChunkData:
        items = chunks(self.items[unit.dataset], self.config.chunk_size)
        if unit.kind == "certify":
            spec = self._spec(self.config.certifiers, unit.component)
            chunk_items = self.items[unit.dataset][: spec.images or 10]
        else:
            chunk_items = items[unit.chunk]
        return _ChunkData.load(chunk_items)

    def _metric(self, name: str) -> Any:
        return self._component("metric", self._spec(self.config.metrics, name), None)

    def _run_unit(self, unit: Unit, data: _ChunkData) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if unit.kind == "certify":
            return [], self._certify(unit, data)
        rows: list[dict[str, Any]] = []
        for item, error in data.failed:
            rows.extend(self._failed_rows(unit, item, f"cannot load image: {error}"))
        if not data.items:
            return rows, []
        try:
            rows.extend(self._evaluate(unit, data.items, data.images, data.cache))
        except Exception as error:  # noqa: BLE001 - isolate the failing image(s), keep the others
            log.warning("unit %s failed as a batch (%s); retrying image by image", unit.id, error)
            for k, item in enumerate(data.items):
                try:
                    rows.extend(self._evaluate(unit, [item], data.images[k : k + 1]))
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
        key = hashlib.sha256(
            json.dumps(
                [
                    unit.kind,
                    unit.metric,
                    unit.component,
                    unit.preset,
                    unit.defence,
                    unit.defence_preset,
                    self.config.seed,
                    [i.id for i in items],
                    _tensor_digest(images),
                ]
            ).encode()
        ).hexdigest()
        path = self.config.cache_path / key[:2] / f"{key}.pt"
        if path.is_file():
            cached = torch.load(path, map_location="cpu", weights_only=True)
            return cached["images"], float(cached["seconds"])
        if hasattr(attack, "fit") and not getattr(attack, "_iqa_bench_fitted", False):
            self._fit(attack, unit)
        generator = torch.Generator(device=self.device).manual_seed(unit.seed(self.config.seed))
        self.scorer.prepare(target)
        t0 = time.perf_counter()
        adversarial = self.scorer.apply(lambda b: attack(target, b, generator=generator), images, grad=True)
        seconds = time.perf_counter() - t0
        assert isinstance(adversarial, Tensor)
        adversarial = adversarial.detach().float().cpu()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save({"images": adversarial, "seconds": seconds}, tmp)
        tmp.replace(path)
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
    def _certify(self, unit: Unit, data: _ChunkData) -> list[dict[str, Any]]:
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
                (cert,) = certifier.certify(metric, data.images[k : k + 1].to(self.device), generator=generator)
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


@dataclass
class _ChunkData:
    """Decoded images of one chunk; undecodable items are kept apart with their error."""

    items: list[ImageItem]
    images: Tensor
    failed: list[tuple[ImageItem, str]]
    order: list[ImageItem] = field(default_factory=list)
    cache: dict[Any, Any] = field(default_factory=dict)

    def head(self, n: int) -> _ChunkData:
        """The first ``n`` items of the chunk (in chunk order, counting undecodable ones)."""
        keep_ids = {item.id for item in self.order[:n]}
        kept = [k for k, item in enumerate(self.items) if item.id in keep_ids]
        return _ChunkData(
            [self.items[k] for k in kept],
            self.images[kept] if kept else self.images[:0],
            [(item, err) for item, err in self.failed if item.id in keep_ids],
            order=self.order[:n],
        )

    @classmethod
    def load(cls, chunk_items: Sequence[ImageItem]) -> _ChunkData:
        good: list[ImageItem] = []
        tensors: list[Tensor] = []
        failed: list[tuple[ImageItem, str]] = []
        shape: tuple[int, ...] | None = None
        for item in chunk_items:
            try:
                image = item.load()
                if shape is not None and tuple(image.shape) != shape:
                    image = torch.nn.functional.interpolate(
                        image[None], size=shape[1:], mode="bilinear", antialias=True, align_corners=False
                    )[0]
                shape = shape or tuple(image.shape)
            except Exception as error:  # noqa: BLE001 - recorded as a failed item
                failed.append((item, f"{type(error).__name__}: {error}"))
                continue
            good.append(item)
            tensors.append(image)
        images = torch.stack(tensors) if tensors else torch.empty(0, 3, 1, 1)
        return cls(good, images, failed, order=list(chunk_items))


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


__all__ = ["RunSummary", "Runner", "Unit", "dataset_items", "estimate", "plan"]
