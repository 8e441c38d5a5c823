"""Honest orchestration overhead of ``iqa-bench run``: its wall time over a plain script's.

Both sides run in this one process, on the same machine, one after the other:

* **bench**: ``iqa-bench run CONFIG --no-progress`` (the CLI's ``main``) into a fresh store and a
  fresh adversarial cache: planning, dataset loading, fingerprints, chunking, caching, row building,
  measures and the SQLite writes all count.
* **plain**: the same component work in a plain loop with no store, no planner and no cache:
  the same images loaded the same way, f(x); P(x) and f(P(x)) per defence preset; per attack preset
  x' = attack(f, x), f(x'), P(x'), f(P(x')) and the budget measures; per (attack preset, defence
  preset) the adaptive attack on f(P(.)) and the same scores; the certifiers on their images.

``overhead = bench wall / plain wall``. The old figure (bench wall over the compute time the runner
recorded, which leaves out dataset loading and the per-row measures) is written next to it. Absolute
seconds depend on the machine's load (the 1-minute load average before and after is recorded); the
ratio is measured back to back in one process; the ratio of CPU seconds (``time.process_time``,
all threads) is recorded too, the steadier figure on a shared machine. Sides alternate when ``--repeats`` > 1 and the
median ratio is kept.

    python tools/perf/orchestration_overhead.py [--config configs/demo.yaml] [--limit N] [--out docs/perf-overhead.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "python tools/perf/orchestration_overhead.py"


def log(message: str) -> None:
    print(f"[overhead] {message}", file=sys.stderr, flush=True)


def _prepared_config(
    config_path: Path, limit: int | None, store: Path, cache: Path, device: str, certifiers: bool
) -> Path:
    raw = yaml.safe_load(config_path.read_text())
    if not certifiers:
        raw.pop("certifiers", None)
    raw["store"] = str(store)
    raw["cache"] = str(cache)
    raw["device"] = device
    if limit is not None:
        for dataset in raw["datasets"]:
            dataset["limit"] = limit
    out = store.parent / "config.yaml"
    out.write_text(yaml.safe_dump(raw))
    return out


def bench_side(config_file: Path) -> dict[str, Any]:
    """Wall time of ``iqa-bench run`` (fresh store and cache), with the runner's own summary."""
    from iqa_bench import runner as runner_module
    from iqa_bench.cli import main

    summaries: list[Any] = []
    original = runner_module.Runner.run

    def recording(self: Any) -> Any:
        summary = original(self)
        summaries.append(summary)
        return summary

    runner_module.Runner.run = recording  # type: ignore[method-assign]
    try:
        start, cpu_start = time.perf_counter(), time.process_time()
        code = main(["run", str(config_file), "--no-progress"])
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    finally:
        runner_module.Runner.run = original  # type: ignore[method-assign]
    if code != 0:
        raise SystemExit(f"iqa-bench run exited with {code}")
    (summary,) = summaries
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "runner_seconds": summary.seconds,
        "runner_compute_s": summary.compute_seconds,
        "units": summary.units_run,
        "rows": summary.rows_written,
        "work_images": summary.work,
    }


def plain_side(config_file: Path) -> dict[str, Any]:
    """The same component calls in a plain loop (see the module docstring)."""
    from iqa_bench.config import load_config
    from iqa_bench.planning import dataset_items, expand_presets
    from iqa_core import Scorer, create, defended, measures

    start, cpu_start = time.perf_counter(), time.process_time()
    config = expand_presets(load_config(config_file))
    scorer = Scorer(config.device, config.batch_size)
    device = scorer.device

    def build(kind: str, spec: Any, preset: str | None) -> Any:
        obj = create(kind, spec.name, preset=preset, **spec.params)
        return obj.to(device) if isinstance(obj, torch.nn.Module) else obj

    def seeded(seed: int) -> torch.Generator:
        return torch.Generator(device=device).manual_seed(seed)

    adaptive = "adaptive" in config.modes
    non_adaptive = "non-adaptive" in config.modes
    defences = [(d, p, build("defence", d, p)) for d in config.defences for p in d.presets]
    attacks = [(a, p, build("attack", a, p)) for a in config.attacks for p in a.presets]
    rows = 0
    for ds in config.datasets:
        items = dataset_items(ds, config.seed)
        for metric_spec in config.metrics:
            metric = build("metric", metric_spec, None)
            for c in range(0, len(items), config.chunk_size):
                chunk = items[c : c + config.chunk_size]
                by_size: dict[tuple[int, ...], list[torch.Tensor]] = {}
                for item in chunk:
                    image = item.load()
                    by_size.setdefault(tuple(image.shape), []).append(image)
                for group in by_size.values():
                    x = torch.stack(group)
                    clean = scorer.score(metric, x)
                    rows += len(x)
                    for _d, _p, defence in defences:
                        scorer.score(metric, scorer.apply(defence, x, generator=seeded(0)))
                        rows += len(x)
                    for a, _p, attack in attacks:
                        n = len(x) if a.images is None else max(0, min(len(x), a.images - c))
                        if n == 0:
                            continue
                        xa = x[:n]
                        targets = []
                        if non_adaptive:
                            targets.append((metric, None))
                        if adaptive:
                            targets += [
                                (defended(metric, defence, eot_samples=1, generator=seeded(1)), defence)
                                for _d, _dp, defence in defences
                            ]
                        for target, own_defence in targets:
                            gen = seeded(2)
                            adv = scorer.apply(lambda b, a=attack, t=target, g=gen: a(t, b, generator=g), xa, grad=True)
                            assert isinstance(adv, torch.Tensor)
                            adv = adv.detach().float().cpu()
                            scorer.score(metric, adv)
                            after = defences if own_defence is None else [(None, None, own_defence)]
                            for _d, _dp, defence in after:
                                purified = scorer.apply(defence, adv, generator=seeded(3))
                                assert isinstance(purified, torch.Tensor)
                                scorer.score(metric, purified)
                                for measure in (measures.psnr, measures.ssim, measures.mse, measures.linf):
                                    measure(xa, purified)
                                rows += n
                            if own_defence is None:
                                for measure in (measures.psnr, measures.ssim, measures.mse, measures.linf):
                                    measure(xa, adv)
                                rows += n
                    del clean
            for spec in config.certifiers:
                for preset in spec.presets:
                    certifier = build("certifier", spec, preset)
                    for k, item in enumerate(items[: spec.images or 10]):
                        certifier.certify(metric, item.load()[None].to(device), generator=seeded(k))
                        rows += 1
    return {"wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu_start, "rows": rows}


def _load() -> float:
    return os.getloadavg()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs" / "demo.yaml"))
    parser.add_argument("--limit", type=int, default=None, help="keep the first N images of each dataset")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--no-certifiers", action="store_true", help="leave the config's certifiers out (plain calls on both sides)"
    )
    parser.add_argument("--repeats", type=int, default=1, help="bench/plain pairs (median ratio kept)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "perf-overhead.json"))
    args = parser.parse_args()
    os.environ.setdefault("IQA_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    config_path = Path(args.config)

    load_before = _load()
    pairs = []
    with tempfile.TemporaryDirectory(prefix="iqa-overhead-") as tmp:
        for r in range(args.repeats):
            run_dir = Path(tmp) / f"r{r}"
            run_dir.mkdir()
            config_file = _prepared_config(
                config_path,
                args.limit,
                run_dir / "results.sqlite",
                run_dir / "cache",
                args.device,
                not args.no_certifiers,
            )
            # alternate which side runs first, so that warm-up and drift fall on both
            order = ("bench", "plain") if r % 2 == 0 else ("plain", "bench")
            pair: dict[str, Any] = {}
            for side in order:
                log(f"repeat {r + 1}/{args.repeats}: {side} ...")
                pair[side] = bench_side(config_file) if side == "bench" else plain_side(config_file)
                log(f"{side}: {pair[side]['wall_s']:.1f} s")
            pair["ratio"] = pair["bench"]["wall_s"] / pair["plain"]["wall_s"]
            pair["ratio_cpu"] = pair["bench"]["cpu_s"] / pair["plain"]["cpu_s"]
            pairs.append(pair)
    ratios = [p["ratio"] for p in pairs]
    bench = pairs[-1]["bench"]
    figures = {
        "command": " ".join([COMMAND, *sys.argv[1:]]),
        "config": str(config_path.relative_to(ROOT) if config_path.is_relative_to(ROOT) else config_path),
        "limit": args.limit,
        "certifiers": not args.no_certifiers,
        "device": args.device,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_1min": {"before": load_before, "after": _load()},
        "overhead": statistics.median(ratios),
        "overhead_per_repeat": ratios,
        "overhead_cpu": statistics.median(p["ratio_cpu"] for p in pairs),
        "target": 1.05,
        "old_figure_wall_over_recorded_compute": bench["runner_seconds"] / bench["runner_compute_s"],
        "pairs": pairs,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    shown = ("overhead", "overhead_per_repeat", "overhead_cpu", "load_average_1min")
    print(json.dumps({k: figures[k] for k in shown}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
