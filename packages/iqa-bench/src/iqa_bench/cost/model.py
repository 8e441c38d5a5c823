"""The cost model: the planned grid (units x images) multiplied by a throughput profile.

Per image of a unit, at the dataset's image size (``m`` = the metric, ``d`` = a defence preset,
``f`` = forward seconds, ``b`` = forward + backward seconds; see :mod:`.profile`), mirroring what
:class:`~iqa_bench.runner.Runner` computes:

* decode: each chunk is decoded once per metric (``decode_per_mpix``), counted with ``clean``;
* ``clean``: ``m.f`` + for every defence preset ``d.f + m.f`` (purified clean scores, reused by the
  chunk's other units);
* ``non-adaptive``: the attack against ``m`` + ``m.f`` (attacked score) + for every defence preset
  ``d.f + m.f``;
* ``adaptive``: the attack against ``defended(m, d)`` (``e (d.f + m.f)`` / ``e (d.b + m.b)``, ``e`` =
  EOT draws of a randomized defence, else 1) + ``m.f + d.f + m.f``;
* attack against a target ``t``: ``grad_evals * t.b + evals * t.f + overhead(pixels)``;
* ``certify``: ``evals * m.f + overhead(pixels)``;
* every result row: ``row`` seconds (+ ``measures_per_mpix`` for rows with PSNR/SSIM/MSE/Linf, + the
  forward of every learned measure of the config's ``measures`` for attacked rows);
  every unit: ``unit`` seconds (its transaction);
* once: building every component (``build``), fitting trainable attacks once per (metric, attack,
  preset) on ``images`` (default 50) images, and preparing the datasets (building the in-memory
  demo set; decoding the whole dataset for K-Means sampling).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import BenchConfig
from ..planning import PlannedDataset, Unit, unit_images
from ..schema import NONE
from . import profile as P

PAPER_GPU_HOURS = 25_000.0
"""The paper's figure for its whole grid (sec. 3.6: "approximately 25,000 GPU-hours", A100 80 GB)."""

DIMENSIONS = ("mode", "dataset", "metric", "attack", "defence", "certifier")


@dataclass
class CostEstimate:
    """Predicted device-seconds of a grid, in total and split along each of :data:`DIMENSIONS`."""

    total_seconds: float = 0.0
    parts: dict[str, dict[str, float]] = field(default_factory=lambda: {d: defaultdict(float) for d in DIMENSIONS})
    counts: dict[str, Any] = field(default_factory=dict)
    proxies: dict[str, str] = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)
    device: dict[str, Any] = field(default_factory=dict)

    def add(self, seconds: float, **tags: str) -> None:
        self.total_seconds += seconds
        for dim in DIMENSIONS:
            self.parts[dim][tags.get(dim, NONE)] += seconds

    @property
    def device_hours(self) -> float:
        return self.total_seconds / 3600

    def to_dict(self) -> dict[str, Any]:
        hours = self.device_hours
        return {
            "device": self.device,
            "total_device_hours": hours,
            "total_device_seconds": self.total_seconds,
            "paper_gpu_hours": PAPER_GPU_HOURS,
            "fraction_of_paper": hours / PAPER_GPU_HOURS,
            "device_hours": {
                dim: dict(sorted(((k, v / 3600) for k, v in self.parts[dim].items()), key=lambda kv: -kv[1]))
                for dim in DIMENSIONS
            },
            "counts": self.counts,
            "proxies": self.proxies,
            "assumptions": self.assumptions,
        }


def _groups(units: Sequence[Unit]) -> dict[tuple[str, ...], tuple[list[int], int]]:
    """Units grouped by everything but the chunk: (chunk indices, unit count)."""
    out: dict[tuple[str, ...], tuple[list[int], int]] = {}
    for u in units:
        key = (u.kind, u.dataset, u.metric, u.component, u.preset, u.defence, u.defence_preset)
        chunks_, n = out.get(key, ([], 0))
        chunks_.append(u.chunk)
        out[key] = (chunks_, n + 1)
    return out


def _preset_arg(preset: str) -> str | None:
    return None if preset == NONE else preset


def estimate_cost(
    config: BenchConfig,
    datasets: dict[str, PlannedDataset],
    units: Sequence[Unit],
    profile: dict[str, Any],
    *,
    prepare_seconds: dict[str, float] | None = None,
) -> CostEstimate:
    """Device-seconds of the grid ``units`` of (expanded) ``config`` on the profile's device.

    ``prepare_seconds``: seconds already measured for preparing a dataset (the in-memory demo set)."""
    absent = P.missing(profile, config, sorted({d.size for d in datasets.values()}))
    absent = [a for a in absent if "@" not in a]  # other sizes are scaled from the nearest measured one
    if absent:
        raise P.ProfileError(
            f"the profile lacks {len(absent)} component(s) of this config: {', '.join(absent[:12])}"
            + (" ..." if len(absent) > 12 else "")
            + "; measure them with `iqa-bench estimate CONFIG --measure` on the device, or pass a profile that has them"
        )
    est = CostEstimate(device=dict(profile.get("device", {})))
    est.assumptions = list(profile.get("assumptions", []))
    runner = profile["runner"]
    dpresets = [(d.name, p) for d in config.defences for p in d.presets]
    n_dp = len(dpresets)
    rows = 0
    measure_names = [m.name for m in getattr(config, "measures", ())]

    for section in P.SECTIONS:
        for name, entry in profile.get(section, {}).items():
            for sub in entry.values() if section not in P.SIZED else [entry]:
                if isinstance(sub, dict) and sub.get("proxy"):
                    est.proxies[f"{section}/{name}"] = str(sub["proxy"])

    for (kind, ds_name, metric, component, preset, defence, dpreset), (chunk_ids, n_units) in _groups(units).items():
        ds = datasets[ds_name]
        size, pixels = ds.size, ds.pixels
        mpix = pixels / 1e6
        base = {"mode": kind, "dataset": ds_name, "metric": metric}
        m = P.metric_cost(profile, P.metric_key(config, metric), size)
        learned = sum(P.measure_seconds(profile, name, size) for name in measure_names)  # per attacked row
        n = sum(
            unit_images(config, Unit(kind, ds_name, metric, c, component, preset, defence, dpreset), len(ds.items))
            for c in chunk_ids
        )
        unit_tags = dict(base)
        if kind in ("non-adaptive", "adaptive"):
            unit_tags["attack"] = component
        if kind == "adaptive":
            unit_tags["defence"] = defence
        if kind == "certify":
            unit_tags["certifier"] = component
        est.add(n_units * runner["unit"], **unit_tags)
        if kind == "clean":
            est.add(n * (m.forward + runner["decode_per_mpix"] * mpix), **base)
            for d_name, d_preset in dpresets:
                d = P.defence_cost(profile, d_name, d_preset, size)
                est.add(n * (d.forward + m.forward), **base, defence=d_name)
            est.add(n * (1 + n_dp) * runner["row"], **base)
            rows += n * (1 + n_dp)
        elif kind == "non-adaptive":
            entry = profile["attacks"][component][preset]
            tags = {**base, "attack": component}
            est.add(n * (P.attack_seconds(entry, m, pixels) + m.forward), **tags)
            for d_name, d_preset in dpresets:
                d = P.defence_cost(profile, d_name, d_preset, size)
                est.add(n * (d.forward + m.forward), **tags, defence=d_name)
            est.add(n * (1 + n_dp) * (runner["row"] + runner["measures_per_mpix"] * mpix + learned), **tags)
            rows += n * (1 + n_dp)
        elif kind == "adaptive":
            entry = profile["attacks"][component][preset]
            d_preset_arg = _preset_arg(dpreset)
            d = P.defence_cost(profile, defence, d_preset_arg, size)
            e = config.eot_samples if P.defence_randomized(profile, defence, d_preset_arg) else 1
            target = P.TargetCost(e * (d.forward + m.forward), e * (d.backward + m.backward))
            seconds = P.attack_seconds(entry, target, pixels) + 2 * m.forward + d.forward
            seconds += runner["row"] + runner["measures_per_mpix"] * mpix + learned
            est.add(n * seconds, **base, attack=component, defence=defence)
            rows += n
        else:  # certify
            entry = profile["certifiers"][component][preset]
            est.add(n * (P.certify_seconds(entry, m, pixels) + runner["row"]), **base, certifier=component)
            rows += n

    _once(config, datasets, profile, est, prepare_seconds or {})
    est.counts = {"units": len(units), "result_rows": rows}
    return est


def _once(
    config: BenchConfig,
    datasets: dict[str, PlannedDataset],
    profile: dict[str, Any],
    est: CostEstimate,
    prepare_seconds: dict[str, float],
) -> None:
    """Work done once per run: datasets prepared, components built, trainable attacks fitted."""
    runner = profile["runner"]
    for ds in config.datasets:
        planned = datasets[ds.name]
        seconds = prepare_seconds.get(ds.name, 0.0)
        if ds.sample and ds.sample.get("references") is None:
            from ..datasets.official import OFFICIAL

            full = OFFICIAL[ds.kind].count if ds.kind in OFFICIAL else len(planned.items)
            seconds += full * runner["decode_per_mpix"] * planned.pixels / 1e6  # K-Means features
        est.add(seconds, mode="prepare", dataset=ds.name)
    for m in config.metrics:
        est.add(
            float(profile["metrics"][P.metric_key(config, m.name)].get("build", 0.0)), mode="prepare", metric=m.name
        )
    for spec in getattr(config, "measures", ()):
        est.add(float(profile["measures"][spec.name].get("build", 0.0)), mode="prepare")
    for section, specs, dim in (
        ("defences", config.defences, "defence"),
        ("attacks", config.attacks, "attack"),
        ("certifiers", config.certifiers, "certifier"),
    ):
        for spec in specs:
            for preset in spec.presets:
                entry = profile[section][spec.name][P.preset_key(preset)]
                est.add(float(entry.get("build", 0.0)), mode="prepare", **{dim: spec.name})
    for attack in config.attacks:
        for preset in attack.presets:
            fit = profile["attacks"][attack.name][P.preset_key(preset)].get("fit")
            if not fit:
                continue
            first = datasets[config.datasets[0].name]
            for metric in config.metrics:
                target = P.metric_cost(profile, P.metric_key(config, metric.name), first.size)
                per_image = P.attack_seconds(fit, target, first.pixels)
                est.add((attack.images or 50) * per_image, mode="fit", metric=metric.name, attack=attack.name)


def format_estimate(est: CostEstimate, *, top: int = 12) -> str:
    """A plain-text table: device-hours per part and in total, next to the paper's 25,000 GPU-h."""
    data = est.to_dict()
    device = est.device
    where = f"{device.get('type', '?')} ({device.get('name', '?')})"
    lines = [f"device-hours on {where}:"]
    for dim in DIMENSIONS:
        parts = [(k, v) for k, v in data["device_hours"][dim].items() if v > 0]
        if not parts or (len(parts) == 1 and parts[0][0] == NONE):
            continue
        lines.append(f"  per {dim}:")
        for name, hours in parts[:top]:
            lines.append(
                f"    {name:<28} {_hours(hours):>12}  {100 * hours / max(data['total_device_hours'], 1e-12):5.1f} %"
            )
        if len(parts) > top:
            rest = sum(v for _, v in parts[top:])
            lines.append(f"    {f'({len(parts) - top} more)':<28} {_hours(rest):>12}")
    total = data["total_device_hours"]
    lines.append(f"  total                          {_hours(total):>12}")
    lines.append(
        f"  paper: {PAPER_GPU_HOURS:,.0f} GPU-h (A100); this estimate is {data['fraction_of_paper']:.3g}x that"
        f" (goal: <= 0.1x, {PAPER_GPU_HOURS / 10:,.0f} h)"
    )
    if device.get("type") == "cpu":
        lines.append("  (projected from CPU figures: device-hours of this CPU, not GPU-hours)")
    if est.proxies:
        lines.append("  proxies (component could not be built here; measured instead):")
        lines.extend(f"    {k}: {v}" for k, v in sorted(est.proxies.items()))
    if est.assumptions:
        lines.append("  assumptions:")
        lines.extend(f"    - {a}" for a in est.assumptions)
    return "\n".join(lines)


def _hours(hours: float) -> str:
    if hours >= 100:
        return f"{hours:,.0f} h"
    if hours >= 1:
        return f"{hours:.2f} h"
    return f"{hours * 3600:.1f} s"


__all__ = ["DIMENSIONS", "PAPER_GPU_HOURS", "CostEstimate", "estimate_cost", "format_estimate"]
