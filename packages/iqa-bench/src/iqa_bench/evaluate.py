"""Row evaluation: one unit's decoded images -> its result rows (or certificate rows).

The :class:`~iqa_bench.runner.Runner` plans, loads chunks and writes; an :class:`Evaluator` turns a
unit and its chunk into rows. Work shared between units is done once:

* f(x) once per (metric, images): every unit of a chunk reuses it;
* f(P(x)) of the clean images once per (metric, defence, preset, images): the clean unit and every
  attack unit of the chunk reuse it (it is not recomputed per attack);
* P(x) of a deterministic defence (``randomized = False``, :class:`iqa_core.protocols.Defence`)
  once per (defence, preset, images), shared across metrics, within a memory budget
  (:data:`PURIFIED_CACHE_BYTES`);
* non-adaptive adversarial images once per (metric, attack, preset, images), shared by every
  defence preset of the unit and, through :mod:`iqa_bench.adversarial_cache`, by later runs.

:attr:`Evaluator.work` counts the images each component processed and the images whose result was
reused instead; the budget measures (PSNR, SSIM, MSE, L-inf) are computed batched, one call per
measure and batch.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from iqa_core import defended, measures

from .chunk import ChunkData
from .config import ComponentConfig
from .datasets import ImageItem
from .planning import Unit, preset_name
from .schema import NONE

if TYPE_CHECKING:
    from iqa_core import Scorer

    from .runner import Runner

log = logging.getLogger(__name__)

#: Memory budget of the cache of deterministic defences' outputs on clean images (shared across
#: metrics). Entries are added until it is full and never evicted: with the grid's metric-major
#: order an evicting cache would drop every entry before its reuse.
PURIFIED_CACHE_BYTES = 512 * 2**20

#: Names of the budget columns of a result row, in :func:`budget_measures` order.
MEASURES = ("psnr", "ssim", "mse", "linf")

SCORE_COLUMNS = ("score_clean", "score_attacked", "score_purified_clean", "score_purified_attacked")


def tensor_digest(images: Tensor) -> str:
    return hashlib.sha256(images.detach().cpu().contiguous().numpy().tobytes()).hexdigest()


def finite(value: Tensor) -> list[float | None]:
    """The values as floats, non-finite ones as ``None``."""
    return [v if math.isfinite(v) else None for v in value.detach().float().flatten().tolist()]


def budget_measures(reference: Tensor, distorted: Tensor) -> dict[str, list[float]]:
    """PSNR, SSIM, MSE and L-inf of every ``(N, 3, H, W)`` pair: one batched call per measure.

    The values equal per-image calls of :mod:`iqa_core.measures` (each image is reduced on its own).
    """
    with torch.no_grad():
        ref, dist = reference.float(), distorted.float()
        return {
            "psnr": measures.psnr(ref, dist).tolist(),
            "ssim": measures.ssim(ref, dist).tolist(),
            "mse": measures.mse(ref, dist).tolist(),
            "linf": measures.linf(ref, dist).tolist(),
        }


def perceptual_measures(
    measures: Mapping[str, Any], reference: Tensor, distorted: Tensor, scorer: Scorer
) -> dict[str, list[float | None]]:
    """Every learned measure (LPIPS, DISTS; ``{name: module}``) of every ``(reference, distorted)`` pair,
    non-finite values as ``None``. The pairs go through ``scorer`` (its batching, device and out-of-memory
    back-off) stacked on the channel axis, each batch split back into the measure's two inputs."""
    pairs = torch.cat([reference.float(), distorted.float()], dim=1)

    def on_pairs(measure: Any) -> Callable[[Tensor], Tensor]:
        return lambda batch: measure(batch[:, :3], batch[:, 3:])

    return {name: finite(scorer.score(on_pairs(measure), pairs)) for name, measure in measures.items()}


def certificate_fields(cert: Any) -> dict[str, Any]:
    """The stored columns of one finished certificate (a row of the store's certificate table)."""
    return {
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


def base_row(unit: Unit, item: ImageItem, attack: str, preset: str, defence: str, dpreset: str) -> dict[str, Any]:
    """The identifying columns of one result row."""
    return {
        "dataset": unit.dataset,
        "image": item.id,
        "metric": unit.metric,
        "attack": attack,
        "attack_preset": preset,
        "defence": defence,
        "defence_preset": dpreset,
        "mode": "adaptive" if unit.kind == "adaptive" else "non-adaptive",
        "mos": item.mos,
    }


class Evaluator:
    """Rows of the units of one :class:`~iqa_bench.runner.Runner` (its config, scorer and components)."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        #: images processed per component kind (``attack``, ``defence``, ``metric``) and images whose
        #: result was reused (``attack_reused``: from the adversarial cache, ``defence_reused``,
        #: ``metric_reused``).
        self.work: Counter[str] = Counter()
        self._purified: dict[tuple[Any, ...], Tensor] = {}
        self._purified_bytes = 0

    # ------------------------------------------------------------------ units
    def run_unit(self, unit: Unit, data: ChunkData) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """``(result rows, certificate rows)`` of one unit on its (already cut) chunk."""
        if unit.kind == "certify":
            return [], self.certify(unit, data)
        rows: list[dict[str, Any]] = []
        for item, error in data.failed:
            rows.extend(self.failed_rows(unit, item, f"cannot load image: {error}"))
        for items, images in data.groups():
            reason = self.too_small(unit, images)
            if reason is not None:
                for item in items:
                    rows.extend(self.failed_rows(unit, item, reason))
                continue
            try:
                rows.extend(self.evaluate(unit, items, images, data.cache))
            except Exception as error:  # noqa: BLE001 - isolate the failing image(s), keep the others
                log.warning("unit %s failed as a batch (%s); retrying image by image", unit.id, error)
                for k, item in enumerate(items):
                    try:
                        rows.extend(self.evaluate(unit, [item], images[k : k + 1]))
                    except Exception as single_error:  # noqa: BLE001
                        rows.extend(self.failed_rows(unit, item, f"{type(single_error).__name__}: {single_error}"))
        return rows, []

    def too_small(self, unit: Unit, image: Tensor) -> str | None:
        """Why ``image`` cannot be scored by the unit's metric (its declared ``min_size``), or None."""
        min_size = getattr(self.runner._metric(unit.metric), "min_size", None)
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

    def failed_rows(self, unit: Unit, item: ImageItem, error: str) -> list[dict[str, Any]]:
        return [
            {**base_row(unit, item, *combo), "status": "failed", "error": error[:2000]}
            for combo in self.row_combos(unit)
        ]

    def row_combos(self, unit: Unit) -> list[tuple[str, str, str, str]]:
        """``(attack, preset, defence, defence preset)`` of every row a unit writes per image."""
        defences = [(d.name, preset_name(p)) for d in self.runner.config.defences for p in d.presets]
        if unit.kind == "clean":
            return [(NONE, NONE, NONE, NONE)] + [(NONE, NONE, d, p) for d, p in defences]
        if unit.kind == "non-adaptive":
            return [(unit.component, unit.preset, NONE, NONE)] + [
                (unit.component, unit.preset, d, p) for d, p in defences
            ]
        return [(unit.component, unit.preset, unit.defence, unit.defence_preset)]

    # ------------------------------------------------------------------ component calls
    def score(self, metric: Any, images: Tensor) -> tuple[Tensor, float]:
        t0 = time.perf_counter()
        scores = self.runner.scorer.score(metric, images)
        self.work["metric"] += len(images)
        return scores, time.perf_counter() - t0

    def purify(
        self, defence: Any, images: Tensor, seed: int, *, key: tuple[Any, ...] | None = None
    ) -> tuple[Tensor, float]:
        """P(images) seeded with ``seed``; a deterministic defence's output is cached under ``key``."""
        # only clean images recur (once per metric): with one metric there is nothing to share
        deterministic = (
            key is not None and len(self.runner.config.metrics) > 1 and not getattr(defence, "randomized", True)
        )
        if deterministic and key in self._purified:
            self.work["defence_reused"] += len(images)
            return self._purified[key], 0.0
        t0 = time.perf_counter()
        generator = torch.Generator(device=self.runner.device).manual_seed(seed)
        out = self.runner.scorer.apply(defence, images, generator=generator)
        assert isinstance(out, Tensor)
        seconds = time.perf_counter() - t0
        self.work["defence"] += len(images)
        size = out.element_size() * out.nelement()
        if deterministic and key is not None and self._purified_bytes + size <= PURIFIED_CACHE_BYTES:
            self._purified[key] = out
            self._purified_bytes += size
        return out, seconds

    def purified_clean(
        self, unit: Unit, defence_spec: ComponentConfig, preset: str | None, images: Tensor, cache: dict[Any, Any]
    ) -> tuple[Tensor, float, float]:
        """f(P(x)) for the chunk, computed once per (defence, preset) and shared by every unit."""
        digest = self._digest(images, cache)
        key = ("pc", unit.metric, defence_spec.name, preset, digest)
        if key in cache:
            self.work["defence_reused"] += len(images)
            self.work["metric_reused"] += len(images)
            return cache[key]
        defence = self.runner._component("defence", defence_spec, preset)
        dseed = Unit("clean", unit.dataset, unit.metric, unit.chunk).seed(self.runner.config.seed)
        purified, t_def = self.purify(defence, images, dseed, key=("p", defence_spec.name, preset, digest))
        scores, t_m = self.score(self.runner._metric(unit.metric), purified)
        cache[key] = (scores, t_def, t_m)
        return cache[key]

    def clean(self, unit: Unit, images: Tensor, cache: dict[Any, Any]) -> tuple[Tensor, float]:
        """f(x) for the chunk, computed once and shared by every unit."""
        key = ("clean", unit.metric, self._digest(images, cache))
        if key in cache:
            self.work["metric_reused"] += len(images)
        else:
            cache[key] = self.score(self.runner._metric(unit.metric), images)
        return cache[key]

    @staticmethod
    def _digest(images: Tensor, cache: dict[Any, Any]) -> str:
        """Digest of a chunk batch, memoised by tensor identity for as long as the chunk lives."""
        key = ("digest", id(images))
        hit = cache.get(key)
        if hit is None or hit[0] is not images:
            hit = cache[key] = (images, tensor_digest(images))
        return hit[1]

    # ------------------------------------------------------------------ rows
    def evaluate(
        self, unit: Unit, items: Sequence[ImageItem], images: Tensor, cache: dict[Any, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Rows of one unit for one batch of equally sized images."""
        cache = {} if cache is None else cache
        runner = self.runner
        metric = runner._metric(unit.metric)
        seed = unit.seed(runner.config.seed)
        clean, t_clean = self.clean(unit, images, cache)
        clean_values = finite(clean)
        perceptual = runner.measures() if unit.kind in ("non-adaptive", "adaptive") else {}
        n = len(items)
        out: list[dict[str, Any]] = []

        def add(
            combo: tuple[str, str, str, str],
            attacked: Tensor | None,
            pc: Tensor | None,
            pa: Tensor | None,
            purified_adv: Tensor | None,
            secs: dict[str, float],
            queries: Tensor | None = None,
        ) -> None:
            columns: dict[str, list[Any]] = {}
            if queries is not None:
                columns["queries"] = [float(q) for q in queries]
            if attacked is not None:
                columns["score_attacked"] = finite(attacked)
            if pc is not None:
                columns["score_purified_clean"] = finite(pc)
            if pa is not None:
                columns["score_purified_attacked"] = finite(pa)
            if purified_adv is not None:
                columns.update(budget_measures(images, purified_adv))
                if perceptual:
                    columns.update(perceptual_measures(perceptual, images, purified_adv, runner.scorer))
            timing = {
                "seconds_attack": secs.get("attack", 0.0) / n,
                "seconds_defence": secs.get("defence", 0.0) / n,
                "seconds_metric": secs.get("metric", 0.0) / n,
            }
            for k, item in enumerate(items):
                row = base_row(unit, item, *combo)
                row.update(score_clean=clean_values[k], status="done", error=None, **timing)
                for name, values in columns.items():
                    row[name] = values[k]
                nan = [c for c in SCORE_COLUMNS if c in row and row[c] is None]
                if nan:
                    row.update(status="failed", error=f"non-finite score in {', '.join(nan)}")
                out.append(row)

        if unit.kind == "clean":
            add((NONE, NONE, NONE, NONE), None, clean, None, None, {"metric": t_clean})
            for d in runner.config.defences:
                for p in d.presets:
                    pc, t_def, t_m = self.purified_clean(unit, d, p, images, cache)
                    add((NONE, NONE, d.name, preset_name(p)), None, pc, None, None, {"defence": t_def, "metric": t_m})
            return out

        if unit.kind == "non-adaptive":
            adversarial, t_att, queries = self.adversarial(unit, metric, images, items, cache)
            attacked, t_m = self.score(metric, adversarial)
            add(
                (unit.component, unit.preset, NONE, NONE),
                attacked,
                clean,
                attacked,
                adversarial,
                {"attack": t_att, "metric": t_m + t_clean},
                queries,
            )
            for d in runner.config.defences:
                for p in d.presets:
                    defence = runner._component("defence", d, p)
                    pc, _, _ = self.purified_clean(unit, d, p, images, cache)
                    pa_images, t_def = self.purify(defence, adversarial, seed)
                    pa, t_m2 = self.score(metric, pa_images)
                    add(
                        (unit.component, unit.preset, d.name, preset_name(p)),
                        attacked,
                        pc,
                        pa,
                        pa_images,
                        {"attack": t_att, "defence": t_def, "metric": t_m2},
                        queries,
                    )
            return out

        # adaptive
        d = runner._spec(runner.config.defences, unit.defence)
        defence = runner._component("defence", d, runner._preset_arg(unit.defence_preset))
        eot = runner.config.eot_samples if getattr(defence, "randomized", False) else 1
        target = defended(
            metric, defence, eot_samples=eot, generator=torch.Generator(device=runner.device).manual_seed(seed)
        )
        adversarial, t_att, queries = self.adversarial(unit, target, images, items, cache)
        attacked, _ = self.score(metric, adversarial)
        pc, _, _ = self.purified_clean(unit, d, runner._preset_arg(unit.defence_preset), images, cache)
        pa_images, t_def = self.purify(defence, adversarial, seed)
        pa, t_m = self.score(metric, pa_images)
        add(
            (unit.component, unit.preset, unit.defence, unit.defence_preset),
            attacked,
            pc,
            pa,
            pa_images,
            {"attack": t_att, "defence": t_def, "metric": t_m},
            queries,
        )
        return out

    def adversarial(
        self, unit: Unit, target: Any, images: Tensor, items: Sequence[ImageItem], cache: dict[Any, Any]
    ) -> tuple[Tensor, float, Tensor | None]:
        """The unit's adversarial images (from the cache when present), counted, with their queries."""
        hits_before = self.runner.cache.hits
        adversarial, seconds, queries = self.runner._attack(unit, target, images, items, self._digest(images, cache))
        reused = self.runner.cache.hits > hits_before
        self.work["attack_reused" if reused else "attack"] += len(images)
        return adversarial, seconds, queries

    # ------------------------------------------------------------------ certification
    def certify(self, unit: Unit, data: ChunkData) -> list[dict[str, Any]]:
        runner = self.runner
        spec = runner._spec(runner.config.certifiers, unit.component)
        certifier = runner._component("certifier", spec, runner._preset_arg(unit.preset))
        metric = runner._metric(unit.metric)
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
                generator = torch.Generator(device=runner.device).manual_seed(unit.seed(runner.config.seed) + k)
                (cert,) = certifier.certify(metric, data.image(k).to(runner.device), generator=generator)
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
            self.work["certify"] += 1
            rows.append({**base, "image": item.id, "mos": item.mos, **certificate_fields(cert)})
        return rows


__all__ = [
    "MEASURES",
    "PURIFIED_CACHE_BYTES",
    "Evaluator",
    "base_row",
    "budget_measures",
    "certificate_fields",
    "finite",
    "tensor_digest",
]
