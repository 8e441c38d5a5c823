"""Transferability: adversarial images crafted against one (metric, defence) scored by another.

A run keeps every adversarial batch it crafts in its cache folder (:mod:`iqa_bench.adversarial_cache`,
the config's ``cache:``). For every *source* of a run, i.e. the images one attack preset crafted
against metric ``A``,

* non-adaptive: against ``(A, none)`` (one set of images serves every defence of the run),
* adaptive: against ``(A, P)`` (``defended(A, P)``, one set per defence preset),

and every *target* ``(B, Q)`` (each metric of the run, with no defence or each defence preset),
:class:`Transfer` reads the source's images back from the cache (the keys are recomputed as the
run computed them, :meth:`iqa_bench.identity.UnitIdentity.attack_key`; nothing is attacked again),
applies ``Q`` with the seed the run used for the source (so randomized defences draw what the run
drew) and scores ``f_B(Q(x'))``. The clean scores ``f_B(x)`` and ``f_B(Q(x))`` are the run's own
(its ``attack = "none"`` rows). Per pair, on the images where all three are finite
(:func:`iqa_bench.aggregate.resolve`'s conventions, as the run's summaries):

* ``gain``: mean ``|f_B(x) - f_B(Q(x'))| / |f_B(x)|``, the run's Gain
  (:func:`iqa_core.scoring.mean_gain`; ``f_B(x) = 0`` left out, counted in ``n_gain_undefined``);
  on the diagonal ``(A, P) -> (A, P)`` it is the run's Gain of that cell;
* ``gain_defended``: mean ``|f_B(Q(x)) - f_B(Q(x'))| / |f_B(Q(x))|``, the change the attack alone
  makes through ``Q`` (the defence's own distortion taken out);
* ``srocc_clean`` / ``srocc_adv``: SROCC of MOS with ``f_B(Q(x))`` / ``f_B(Q(x'))``, oriented by
  ``B``'s ``higher_is_better``; ``srocc_drop = srocc_clean - srocc_adv``.

Pairs are written one by one to the store's ``transfer`` table with a fingerprint of the finished
units they read (:mod:`iqa_bench.identity`): a killed transfer resumes without recomputing a
finished pair, and a pair whose source or target the run recomputed since is computed again. A
pair that fails (images missing from the cache, a metric error) is recorded with its error and the
others go on; failed pairs are tried again by the next transfer.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from iqa_core import scoring
from iqa_core.errors import UserError

from . import aggregate, scores
from .config import BenchConfig, config_from_record, load_config
from .schema import NONE
from .store import TRANSFER_COLUMNS, TRANSFER_KEY, ResultStore

if TYPE_CHECKING:  # torch and the planner load only when a transfer runs, not for the report
    from torch import Tensor

    from .chunk import ChunkData
    from .datasets import ImageItem
    from .planning import Unit

#: Bump when the numbers of a pair change meaning: finished pairs of an older version are recomputed.
TRANSFER_VERSION = 1

#: A source's adversarial batches are kept in memory for all its targets up to this size; above
#: it they are read from the cache again for every target.
SOURCE_MEMORY_BYTES = 1024 * 2**20

#: The values of a pair, in table order (see the module docstring).
VALUES: tuple[str, ...] = ("gain", "gain_defended", "srocc_clean", "srocc_adv", "srocc_drop")

#: What :func:`write_files` writes when the report writes everything (``iqa-bench report``).
REPORT_FORMATS: tuple[str, ...] = ("csv", "json", "png")

#: ``{value: (label, higher_is_better)}`` of the values drawn as heatmaps.
HEATMAPS: dict[str, tuple[str, bool]] = {
    "gain": ("Gain", False),
    "gain_defended": ("Gain through Q", False),
    "srocc_adv": ("SROCC adv", True),
}


class TransferError(UserError):
    """The run cannot be transferred as asked; the message says why and what to do."""


def defence_label(defence: str, preset: str) -> str:
    """``none``, ``jpeg`` or ``jpeg[q50]``."""
    if defence == NONE:
        return NONE
    return defence if preset == NONE else f"{defence}[{preset}]"


@dataclass(frozen=True)
class Source:
    """Images one attack preset crafted against ``(metric, defence)`` on one dataset."""

    dataset: str
    attack: str
    attack_preset: str
    mode: str  # "non-adaptive" (defence is "none") or "adaptive"
    metric: str
    defence: str = NONE
    defence_preset: str = NONE

    @property
    def label(self) -> str:
        suffix = "adaptive" if self.mode == "adaptive" else "non-adaptive"
        return f"{self.metric} / {defence_label(self.defence, self.defence_preset)} ({suffix})"


@dataclass(frozen=True)
class Target:
    """Scored with ``metric`` behind ``defence`` (``none``: the metric alone)."""

    metric: str
    defence: str = NONE
    defence_preset: str = NONE

    @property
    def label(self) -> str:
        return f"{self.metric} / {defence_label(self.defence, self.defence_preset)}"


def pair_key(source: Source, target: Target) -> dict[str, str]:
    """The key columns of a pair's row in the ``transfer`` table."""
    return {
        "dataset": source.dataset,
        "attack": source.attack,
        "attack_preset": source.attack_preset,
        "mode": source.mode,
        "source_metric": source.metric,
        "source_defence": source.defence,
        "source_defence_preset": source.defence_preset,
        "target_metric": target.metric,
        "target_defence": target.defence,
        "target_defence_preset": target.defence_preset,
    }


@dataclass
class TransferSummary:
    pairs_total: int = 0
    pairs_skipped: int = 0
    pairs_run: int = 0
    pairs_failed: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass
class _Batch:
    """Adversarial images of some items of one source unit, as the run attacked them (one batch)."""

    items: list[ImageItem]
    images: Tensor
    seed: int


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=repr).encode()).hexdigest()[:24]


def _missing_cache_message(cache: Path, detail: str) -> str:
    return (
        f"{detail}: the run's adversarial images are not in its cache folder {cache}. `iqa-bench transfer` "
        "scores the images the run kept and never attacks again. The config option `cache:` names that folder "
        "(default: '<store name>-cache' next to the store); keep it with the store, or, if it was moved, set "
        "`cache:` to where it is now and pass the config; if it was deleted, run the grid again into a new "
        "store (`store:`) to craft and keep them"
    )


# ---------------------------------------------------------------------------------------- the run
def resolve_run(run: str | Path) -> tuple[BenchConfig, Path]:
    """The config and store of a run named by its store file, the folder holding it, or its config."""
    path = Path(run)
    if path.suffix in (".yaml", ".yml"):
        config = load_config(path)
        if not config.store_path.is_file():
            raise TransferError(
                f"no result store at {config.store_path} (the `store:` of {path}): run `iqa-bench run {path}` first"
            )
        return config, config.store_path
    if path.is_dir():
        path = path / "results.sqlite"
    if not path.is_file():
        raise TransferError(f"no result store at {path}; pass the store file, its folder or the run's config")
    with ResultStore(path) as store:
        record = store.meta("config")
    if record is None:
        raise TransferError(
            f"{path} does not record its run's config (it was written by an iqa-bench older than "
            "`iqa-bench transfer`): pass the run's YAML config instead, `iqa-bench transfer CONFIG.yaml`"
        )
    return config_from_record(record, path), path


class Transfer:
    """Every (source, target) pair of one run (see the module docstring)."""

    def __init__(
        self,
        config: BenchConfig,
        store: ResultStore,
        *,
        device: str | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        from .runner import Runner

        if device is not None:
            config = replace(config, device=device)
        self.store = store
        self.say = say or (lambda _m: None)
        self.runner = Runner(config, store, progress=False, say=self.say)
        self.units = self.runner.load()  # validates the grid, expands "all" presets, lists the items
        self.config = self.runner.config
        self.cache = self.runner.cache
        self._groups: dict[tuple[str, int, int], list[tuple[list[ImageItem], str, list[str]]]] = {}
        self._chunk: tuple[tuple[str, int], ChunkData] | None = None
        self._directions = store.directions()

    # ------------------------------------------------------------------ what there is
    def sources(self) -> dict[Source, list[Unit]]:
        """Every source of the run and its attack units (one per chunk)."""
        out: dict[Source, list[Unit]] = {}
        for unit in self.units:
            if unit.kind in ("non-adaptive", "adaptive"):
                source = Source(
                    unit.dataset, unit.component, unit.preset, unit.kind, unit.metric, unit.defence, unit.defence_preset
                )
                out.setdefault(source, []).append(unit)
        return out

    def targets(self) -> list[Target]:
        """Each metric of the run alone and behind each defence preset."""
        from .planning import preset_name

        return [
            target
            for metric in self.config.metrics
            for target in (
                Target(metric.name),
                *(Target(metric.name, d.name, preset_name(p)) for d in self.config.defences for p in d.presets),
            )
        ]

    def _clean_units(self, dataset: str, metric: str) -> list[Unit]:
        return [u for u in self.units if u.kind == "clean" and u.dataset == dataset and u.metric == metric]

    def _current(
        self, units: Sequence[Unit], finished: Mapping[str, str | None]
    ) -> tuple[list[Unit], list[str]] | None:
        """The finished ``units`` and their fingerprints; None when one was finished with another
        config (its rows and images are not this config's) or none is finished.

        Units not finished are left out: a run still going, or one whose ``sufficient:`` stopped a
        cell early, is transferred on the images it attacked, and its pairs are recomputed once it
        finishes more units (the fingerprints change)."""
        usable, prints = [], []
        for unit in units:
            stored = finished.get(unit.id)
            if stored is None:
                continue
            if stored != self.runner.identity.fingerprint(unit, self.runner.unit_items(unit)):
                return None
            usable.append(unit)
            prints.append(stored)
        return (usable, prints) if usable else None

    # ------------------------------------------------------------------ run
    def run(self, *, on_pair: Callable[[int, int], None] | None = None) -> TransferSummary:
        """Compute every pair not yet done (resuming), writing each to the store as it finishes."""
        start = time.perf_counter()
        summary = TransferSummary()
        finished = self.store.finished_units()
        done = {
            tuple(row[k] for k in TRANSFER_KEY): row["fingerprint"]
            for row in self.store.transfer()
            if row["status"] == "done"
        }
        sources, targets = self.sources(), self.targets()
        if not sources:
            raise TransferError(
                "the run has no attacks, so there are no adversarial images to transfer: add `attacks:` to the config"
            )
        target_prints: dict[tuple[str, str], tuple[list[Unit], list[str]] | None] = {}
        plan: list[tuple[Source, list[Unit], list[tuple[Target, str]]]] = []
        skipped_sources = skipped_targets = partial = 0
        for source, units in sources.items():
            current = self._current(units, finished)
            if current is None:
                skipped_sources += 1
                continue
            usable, source_prints = current
            partial += len(usable) < len(units)
            todo = []
            for target in targets:
                key = (source.dataset, target.metric)
                if key not in target_prints:
                    target_prints[key] = self._current(self._clean_units(*key), finished)
                clean = target_prints[key]
                if clean is None:
                    skipped_targets += 1
                    continue
                summary.pairs_total += 1
                fingerprint = _digest(
                    {"v": TRANSFER_VERSION, "source": source_prints, "target": clean[1], "spec": target.label}
                )
                if done.get(tuple(pair_key(source, target).values())) == fingerprint:
                    summary.pairs_skipped += 1
                    continue
                todo.append((target, fingerprint))
            if todo:
                plan.append((source, usable, todo))
        if skipped_sources:
            summary.notes.append(
                f"{skipped_sources} sources skipped: none of their attack units is finished, or some were computed "
                "with another config (run or resume the grid first: `iqa-bench run CONFIG`)"
            )
        if skipped_targets:
            summary.notes.append(
                f"{skipped_targets} pairs skipped: the target metric's clean units are not finished, or not with "
                "this config (`iqa-bench run CONFIG` first)"
            )
        if partial:
            summary.notes.append(
                f"{partial} sources cover only the chunks the run has finished (a run still going, or `sufficient:` "
                "stopped them early); their pairs are recomputed when the run finishes more"
            )
        if summary.pairs_skipped:
            self.say(f"resuming: {summary.pairs_skipped} of {summary.pairs_total} pairs already done")
        if plan:
            self._check_cache(plan)
        n_todo = sum(len(todo) for _, _, todo in plan)
        count = 0
        for source, units, todo in plan:
            try:
                batches = self._source_batches(source, units)
            except Exception as error:  # noqa: BLE001 - the source's pairs fail, the other sources go on
                message = error.args[0] if isinstance(error, TransferError) else f"{type(error).__name__}: {error}"
                for target, fingerprint in todo:
                    self._write(source, target, fingerprint, status="failed", error=message)
                    summary.pairs_failed += 1
                    count += 1
                    if on_pair:
                        on_pair(count, n_todo)
                continue
            for target, fingerprint in todo:
                t0 = time.perf_counter()
                try:
                    values = self.score_pair(source, target, batches)
                except Exception as error:  # noqa: BLE001 - one bad pair is recorded, the others go on
                    self._write(source, target, fingerprint, status="failed", error=f"{type(error).__name__}: {error}")
                    summary.pairs_failed += 1
                else:
                    self._write(source, target, fingerprint, seconds=time.perf_counter() - t0, **values)
                    summary.pairs_run += 1
                count += 1
                if on_pair:
                    on_pair(count, n_todo)
        summary.seconds = time.perf_counter() - start
        return summary

    def _write(self, source: Source, target: Target, fingerprint: str, **values: Any) -> None:
        row: dict[str, Any] = {"status": "done", "error": None, **values}
        row["error"] = None if row["error"] is None else str(row["error"])[:2000]
        self.store.write_transfer({**pair_key(source, target), **row, "fingerprint": fingerprint})

    # ------------------------------------------------------------------ adversarial images
    def _check_cache(self, plan: Sequence[tuple[Source, list[Unit], Any]]) -> None:
        """Fail at once when the cache folder holds none of the run's adversarial images."""
        root = self.cache.root
        if root.is_dir() and any(root.glob("*/*.pt")):
            return
        raise TransferError(_missing_cache_message(root, f"{len(plan)} sources to transfer"))

    def _groups_of(self, unit: Unit) -> list[tuple[list[ImageItem], str, list[str]]]:
        """``(items, batch digest, per-image digests)`` per equal-size group of a unit's (cut) chunk."""
        from .chunk import ChunkData
        from .evaluate import tensor_digest
        from .planning import chunks

        items = self.runner.unit_items(unit)
        key = (unit.dataset, unit.chunk, len(items))
        if key not in self._groups:
            where = (unit.dataset, unit.chunk)
            if self._chunk is None or self._chunk[0] != where:
                chunk_items = chunks(self.runner.items[unit.dataset], self.config.chunk_size)[unit.chunk]
                self._chunk = (where, ChunkData.load(chunk_items))
            data = self._chunk[1].head(len(items))
            self._groups[key] = [
                (group_items, tensor_digest(images), [tensor_digest(images[k : k + 1]) for k in range(len(images))])
                for group_items, images in data.groups()
            ]
        return self._groups[key]

    def _attacked_images(self, source: Source) -> set[str]:
        """Images the run attacked successfully for ``source`` (its rows with status done)."""
        where = {
            "dataset": source.dataset,
            "metric": source.metric,
            "attack": source.attack,
            "attack_preset": source.attack_preset,
            "defence": source.defence,
            "defence_preset": source.defence_preset,
            "mode": source.mode,
        }
        return {str(row["image"]) for row in self.store.results(**where) if row["status"] == "done"}

    def _source_batches(self, source: Source, units: Sequence[Unit]) -> _SourceImages:
        """Where each of the source's adversarial batches lies in the cache (read lazily)."""
        identity = self.runner.identity
        entries: list[tuple[list[ImageItem], str, int]] = []
        found: set[str] = set()
        for unit in units:
            seed = unit.seed(self.config.seed)
            for items, digest, singles in self._groups_of(unit):
                key = identity.attack_key(unit, items, digest)
                if self.cache.path(key).is_file():
                    entries.append((items, key, seed))
                    found.update(item.id for item in items)
                    continue
                # a batch the run retried image by image (evaluate.run_unit) was cached per image
                for item, single in zip(items, singles, strict=True):
                    key = identity.attack_key(unit, [item], single)
                    if self.cache.path(key).is_file():
                        entries.append(([item], key, seed))
                        found.add(item.id)
        missing = sorted(self._attacked_images(source) - found)
        if missing:
            raise TransferError(
                _missing_cache_message(
                    self.cache.root,
                    f"{source.label}, {source.attack}[{source.attack_preset}]: {len(missing)} attacked images "
                    f"(e.g. {missing[0]})",
                )
            )
        return _SourceImages(self, source, entries)

    # ------------------------------------------------------------------ scores
    def _clean_scores(self, dataset: str, target: Target) -> dict[str, aggregate.ImageScores]:
        """The run's clean rows of ``target``: ``f_B(x)``, ``f_B(Q(x))`` and MOS per image."""
        rows = self.store.results(
            dataset=dataset,
            metric=target.metric,
            attack=NONE,
            defence=target.defence,
            defence_preset=target.defence_preset,
        )
        out = {}
        for row in rows:
            resolved = aggregate.resolve(row)
            if resolved is not None:
                out[resolved.image] = resolved
        return out

    def adversarial_scores(self, source: Source, target: Target, batches: _SourceImages) -> dict[str, float]:
        """``f_B(Q(x'))`` per image (NaN where the metric cannot score the image)."""
        from .planning import Unit

        runner, evaluator = self.runner, self.runner.evaluator
        metric = runner._metric(target.metric)
        defence = None
        if target.defence != NONE:
            spec = runner._spec(self.config.defences, target.defence)
            defence = runner._component("defence", spec, runner._preset_arg(target.defence_preset))
        out: dict[str, float] = {}
        for batch in batches:
            values: list[float | None]
            if evaluator.too_small(Unit("clean", source.dataset, target.metric, 0), batch.images) is not None:
                values = [None] * len(batch.items)
            else:
                images = batch.images if defence is None else evaluator.purify(defence, batch.images, batch.seed)[0]
                values = [float(v) for v in evaluator.score(metric, images)[0].detach().float().cpu().tolist()]
            for item, value in zip(batch.items, values, strict=True):
                out[item.id] = math.nan if value is None else value
        return out

    def score_pair(self, source: Source, target: Target, batches: _SourceImages) -> dict[str, Any]:
        """The values of one pair (see the module docstring) and its image counts."""
        adversarial = self.adversarial_scores(source, target, batches)
        clean = self._clean_scores(source.dataset, target)
        higher = self._directions.get(target.metric)
        if higher is None:
            higher = bool(getattr(self.runner._metric(target.metric), "higher_is_better", True))
        return pair_values(adversarial, clean, higher_is_better=higher)


def pair_values(
    adversarial: Mapping[str, float], clean: Mapping[str, aggregate.ImageScores], *, higher_is_better: bool
) -> dict[str, Any]:
    """A pair's values from ``f_B(Q(x'))`` per image and the run's clean scores of the target."""
    ids = sorted(adversarial)
    nan = math.nan
    f_x = np.array([clean[i].clean if i in clean else nan for i in ids], dtype=np.float64)
    f_qx = np.array([clean[i].purified_clean if i in clean else nan for i in ids], dtype=np.float64)
    f_qadv = np.array([adversarial[i] for i in ids], dtype=np.float64)
    mos = np.array([clean[i].mos if i in clean else nan for i in ids], dtype=np.float64)
    keep = np.isfinite(f_x) & np.isfinite(f_qx) & np.isfinite(f_qadv)
    n = int(keep.sum())
    if n == 0:
        raise ValueError(
            f"none of the {len(ids)} adversarial images has finite clean, defended and attacked scores of the target"
        )
    gain = scoring.mean_gain(f_x[keep], f_qadv[keep])
    rated = keep & np.isfinite(mos)

    def correlation(values: np.ndarray) -> float:
        if rated.sum() < 2:
            return nan
        return scores.srocc(mos[rated], values[rated], higher_is_better=higher_is_better)

    srocc_clean, srocc_adv = correlation(f_qx), correlation(f_qadv)
    return {
        "n_images": n,
        "n_missing": len(ids) - n,
        "gain": gain.value,
        "gain_defended": scoring.mean_gain(f_qx[keep], f_qadv[keep]).value,
        "n_gain_undefined": gain.n_undefined,
        "srocc_clean": srocc_clean,
        "srocc_adv": srocc_adv,
        "srocc_drop": srocc_clean - srocc_adv,
    }


class _SourceImages:
    """A source's adversarial batches: read from the cache once and kept while they fit
    :data:`SOURCE_MEMORY_BYTES`, otherwise read again for every target."""

    def __init__(self, transfer: Transfer, source: Source, entries: list[tuple[list[ImageItem], str, int]]) -> None:
        self.transfer, self.source, self.entries = transfer, source, entries
        self._kept: list[_Batch] | None = None

    def _read(self) -> Iterator[_Batch]:
        for items, key, seed in self.entries:
            cached = self.transfer.cache.load(key)
            if cached is None:  # unreadable: AdversarialCache logged it
                raise TransferError(
                    _missing_cache_message(self.transfer.cache.root, f"cache entry {self.transfer.cache.path(key)}")
                )
            yield _Batch(items, cached[0], seed)

    def __iter__(self) -> Iterator[_Batch]:
        if self._kept is not None:
            yield from self._kept
            return
        kept: list[_Batch] | None = []
        size = 0
        for batch in self._read():
            size += batch.images.element_size() * batch.images.nelement()
            if kept is not None and size <= SOURCE_MEMORY_BYTES:
                kept.append(batch)
            else:
                kept = None
            yield batch
        self._kept = kept


def transfer_run(
    run: str | Path, *, device: str | None = None, say: Callable[[str], None] | None = None
) -> tuple[TransferSummary, Path]:
    """Resolve a run (store, folder or config) and compute its missing transfer pairs."""
    config, store_path = resolve_run(run)
    with ResultStore(store_path) as store:
        summary = Transfer(config, store, device=device, say=say).run()
    return summary, store_path


# ---------------------------------------------------------------------------------------- matrices
@dataclass
class TransferMatrix:
    """One ``sources x targets`` matrix of a value, for one dataset, attack and preset."""

    dataset: str
    attack: str
    attack_preset: str
    value: str
    sources: list[str]
    targets: list[str]
    values: list[list[float]]
    own: list[tuple[int, int]]
    """Cells where the target is the source's own ``(metric, defence)`` (the run's own cells)."""

    @property
    def name(self) -> str:
        raw = f"transfer_{self.value}_{self.dataset}_{self.attack}_{self.attack_preset}"
        return "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in raw)

    @property
    def title(self) -> str:
        label = HEATMAPS.get(self.value, (self.value, True))[0]
        return f"{label}: {self.attack}[{self.attack_preset}] transferred ({self.dataset})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "attack": self.attack,
            "attack_preset": self.attack_preset,
            "value": self.value,
            "sources": self.sources,
            "targets": self.targets,
            "values": [[None if not math.isfinite(v) else v for v in row] for row in self.values],
            "own": [list(cell) for cell in self.own],
        }


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _source_of(row: Mapping[str, Any]) -> Source:
    return Source(
        str(row["dataset"]),
        str(row["attack"]),
        str(row["attack_preset"]),
        str(row["mode"]),
        str(row["source_metric"]),
        str(row["source_defence"]),
        str(row["source_defence_preset"]),
    )


def _target_of(row: Mapping[str, Any]) -> Target:
    return Target(str(row["target_metric"]), str(row["target_defence"]), str(row["target_defence_preset"]))


def matrices(rows: Iterable[Mapping[str, Any]], values: Sequence[str] = tuple(HEATMAPS)) -> list[TransferMatrix]:
    """The ``transfer`` rows as matrices: per dataset, attack and preset, one per value.

    Rows: sources, metric by metric, the non-adaptive one (crafted against the metric alone) first,
    then the adaptive ones by defence label; columns: targets in the same order (``none`` first), so
    the cells the images were crafted for (``own``) lie on the diagonal when every source has a
    target. A failed pair is a NaN cell."""
    rows = list(rows)
    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault((str(row["dataset"]), str(row["attack"]), str(row["attack_preset"])), []).append(row)
    out = []
    for (dataset, attack, preset), group in sorted(groups.items()):
        sources = sorted({_source_of(r) for r in group}, key=lambda s: (s.metric, s.defence != NONE, s.label))
        targets = sorted({_target_of(r) for r in group}, key=lambda t: (t.metric, t.defence != NONE, t.label))
        index = {(_source_of(r), _target_of(r)): r for r in group}
        own = [
            (i, j)
            for i, s in enumerate(sources)
            for j, t in enumerate(targets)
            if (s.metric, s.defence, s.defence_preset) == (t.metric, t.defence, t.defence_preset)
        ]
        for value in values:
            grid = [
                [
                    _float(index[(s, t)].get(value))
                    if (s, t) in index and index[(s, t)].get("status") == "done"
                    else math.nan
                    for t in targets
                ]
                for s in sources
            ]
            out.append(
                TransferMatrix(
                    dataset, attack, preset, value, [s.label for s in sources], [t.label for t in targets], grid, own
                )
            )
    return out


def table_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``transfer`` rows for CSV / JSON / the page: key columns, labels, values, counts, status."""
    out = []
    for row in rows:
        source, target = _source_of(row), _target_of(row)
        entry: dict[str, Any] = {c: row.get(c) for c in TRANSFER_COLUMNS if c != "fingerprint"}
        entry["source"] = source.label
        entry["target"] = target.label
        entry["own"] = (source.metric, source.defence, source.defence_preset) == (
            target.metric,
            target.defence,
            target.defence_preset,
        )
        out.append(entry)
    return out


def write_files(
    rows: Iterable[Mapping[str, Any]], out: str | Path, formats: Sequence[str] = REPORT_FORMATS
) -> list[Path]:
    """The matrices of the ``transfer`` rows into the folder ``out``, by format: ``"csv"``: one
    ``transfer_<value>_<dataset>_<attack>_<preset>.csv`` per matrix (sources x targets); ``"json"``:
    ``transfer.json`` (every pair and every matrix); ``"png"`` / ``"svg"``: the heatmaps as
    ``figures/transfer_*`` (``"png"`` writes SVG too, as the report's figures)."""
    from . import plots
    from .leaderboard import tables as lb_tables

    rows = list(rows)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    found = matrices(rows)
    paths: list[Path] = []
    if "csv" in formats:
        for matrix in found:
            grid = [
                {"crafted against": source, **dict(zip(matrix.targets, values, strict=True))}
                for source, values in zip(matrix.sources, matrix.values, strict=True)
            ]
            paths.append(lb_tables.write_csv(grid, out / f"{matrix.name}.csv", ["crafted against", *matrix.targets]))
    if "json" in formats:
        pairs = [
            {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in pair.items()}
            for pair in table_rows(rows)
        ]
        path = out / "transfer.json"
        path.write_text(json.dumps({"pairs": pairs, "matrices": [m.to_dict() for m in found]}, indent=2), "utf-8")
        paths.append(path)
    figure_formats = [f for f in ("png", "svg") if f in formats or (f == "svg" and "png" in formats)]
    for matrix in found if figure_formats else ():
        paths += plots.save_figure(transfer_figure(matrix), out / "figures" / matrix.name, figure_formats)
    return paths


CAPTION = (
    "Rows: where the adversarial images were crafted (metric / defence; non-adaptive images against the metric "
    "alone); columns: the metric and defence that score them. Outlined: the pair the images were crafted against."
)


def report_sections(rows: Iterable[Mapping[str, Any]], *, dpi: int = 80) -> list[Any]:
    """The ``transfer`` rows as report sections (:func:`iqa_bench.report.write_report`'s
    ``extra_sections``): a sortable table of every pair (``transfer_pairs.csv``) and the heatmaps."""
    from . import plots
    from .leaderboard import Column, FigureSection, PageFigure, Table

    rows = list(rows)
    if not rows:
        return []
    text = ("dataset", "attack", "attack_preset", "mode", "source", "target", "status")
    columns = [Column(key, key.replace("_", " "), numeric=False) for key in text]
    columns += [
        Column("gain", "Gain", True, False, description="mean |f_B(x) - f_B(Q(x'))| / |f_B(x)|"),
        Column(
            "gain_defended", "Gain through Q", True, False, description="mean |f_B(Q(x)) - f_B(Q(x'))| / |f_B(Q(x))|"
        ),
        Column("srocc_clean", "SROCC clear", True, True, description="SROCC(MOS, f_B(Q(x)))"),
        Column("srocc_adv", "SROCC adv", True, True, description="SROCC(MOS, f_B(Q(x')))"),
        Column("srocc_drop", "SROCC drop", True, False, description="SROCC clear - SROCC adv"),
        Column("n_images", "images", True, None, digits=0),
    ]
    table = Table(
        "transfer-pairs",  # the figure section is "transfer"; the rows go to transfer_pairs.csv
        "Transferability: every pair",
        columns,
        table_rows(rows),
        note="Adversarial images of the run crafted against one metric and defence, scored by another. " + CAPTION,
    )
    figures = [
        PageFigure(
            "figure-" + matrix.name.replace("_", "-"),
            matrix.title,
            plots.png_bytes(transfer_figure(matrix), dpi=dpi),
            CAPTION
            + (
                " Lower is better for the scoring pair (green: the images move its score less)."
                if not HEATMAPS[matrix.value][1]
                else " Higher is better for the scoring pair (green: its ranking survives the images)."
            ),
            {"dataset": matrix.dataset},
        )
        for matrix in matrices(rows)
    ]
    section = FigureSection(
        "transfer",
        "Transferability",
        figures,
        "Adversarial images of the run scored by every metric and defence of the run (`iqa-bench transfer`): "
        "Gain (against f(x), as the run's Gain), Gain through Q (against f(Q(x)): the defence's own change taken "
        "out) and SROCC adv.",
    )
    return [table, section]


def transfer_figure(matrix: TransferMatrix) -> Any:
    """The heatmap of one matrix (own cells outlined)."""
    from . import plots

    higher = HEATMAPS.get(matrix.value, ("", True))[1]
    return plots.transfer_heatmap_figure(
        matrix.values, matrix.sources, matrix.targets, own=matrix.own, title=matrix.title, higher_is_better=higher
    )


__all__ = [
    "HEATMAPS",
    "REPORT_FORMATS",
    "SOURCE_MEMORY_BYTES",
    "TRANSFER_VERSION",
    "VALUES",
    "Source",
    "Target",
    "Transfer",
    "TransferError",
    "TransferMatrix",
    "TransferSummary",
    "matrices",
    "pair_key",
    "pair_values",
    "report_sections",
    "resolve_run",
    "table_rows",
    "transfer_figure",
    "transfer_run",
    "write_files",
]
