"""Before/after figures of the runner's speed-ups (issue 16), measured in one process.

* budget measures: the former per-image loop (one PSNR/SSIM/MSE/L-inf call per image) vs
  :func:`iqa_bench.evaluate.budget_measures` (one batched call per measure), on a demo chunk;
* the demo dataset with a limit: built whole then cut (before) vs :func:`iqa_bench.datasets.demo`
  with the limit (only the references the first N records come from);
* shared work on a demo grid: images each component processed vs images whose result was reused
  (``RunSummary.work``); without sharing every reused image would be processed again.

CPU seconds (``time.process_time``) are reported next to wall seconds: this machine may be shared,
and CPU time is the steadier of the two there. Best of ``--repeats``.

    python tools/perf/runner_speedups.py [--limit 8] [--out docs/perf-runner.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _best(fn: Any, repeats: int) -> dict[str, float]:
    fn()  # warm-up
    wall, cpu = float("inf"), float("inf")
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = min(wall, time.perf_counter() - w0), min(cpu, time.process_time() - c0)
    return {"wall_s": wall, "cpu_s": cpu}


def measures_figures(repeats: int) -> dict[str, Any]:
    from iqa_bench.evaluate import budget_measures
    from iqa_core import measures

    generator = torch.Generator().manual_seed(0)
    reference = torch.rand(40, 3, 128, 160, generator=generator)  # a demo chunk
    distorted = (reference + 0.02 * torch.randn(reference.shape, generator=generator)).clamp(0, 1)

    def per_image() -> None:
        for k in range(len(reference)):
            ref, dist = reference[k : k + 1], distorted[k : k + 1]
            for fn in (measures.psnr, measures.ssim, measures.mse, measures.linf):
                float(fn(ref, dist))

    before = _best(per_image, repeats)
    after = _best(lambda: budget_measures(reference, distorted), repeats)
    return {
        "images": 40,
        "size": "128x160",
        "per_image": before,
        "batched": after,
        "speedup_cpu": before["cpu_s"] / after["cpu_s"],
    }


def demo_figures(limits: list[int], repeats: int) -> dict[str, Any]:
    from iqa_bench import datasets
    from iqa_bench.demo import demo_dataset

    out: dict[str, Any] = {}
    for limit in limits:
        before = _best(lambda n=limit: demo_dataset()[:n], repeats)
        after = _best(lambda n=limit: datasets.demo(n), repeats)
        out[str(limit)] = {"whole_then_cut": before, "limited": after, "speedup_cpu": before["cpu_s"] / after["cpu_s"]}
    return out


def shared_work_figures(limit: int) -> dict[str, Any]:
    from iqa_bench.config import load_config
    from iqa_bench.runner import Runner
    from iqa_bench.store import ResultStore

    raw = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    raw.pop("certifiers", None)
    with tempfile.TemporaryDirectory(prefix="iqa-speedups-") as tmp:
        raw.update(store=str(Path(tmp) / "r.sqlite"), cache=str(Path(tmp) / "cache"), device="cpu")
        for ds in raw["datasets"]:
            ds["limit"] = limit
        (Path(tmp) / "c.yaml").write_text(yaml.safe_dump(raw))
        config = load_config(Path(tmp) / "c.yaml")
        with ResultStore(config.store_path) as store:
            w0, c0 = time.perf_counter(), time.process_time()
            summary = Runner(config, store, progress=False).run()
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    work = dict(summary.work)
    kinds = ("attack", "defence", "metric")
    without = {k: work.get(k, 0) + work.get(f"{k}_reused", 0) for k in kinds}
    return {
        "config": "configs/demo.yaml without certifiers",
        "limit": limit,
        "units": summary.units_run,
        "wall_s": wall,
        "cpu_s": cpu,
        "images_processed": {k: work.get(k, 0) for k in kinds},
        "images_reused": {k: work.get(f"{k}_reused", 0) for k in kinds},
        "images_without_sharing": without,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=8, help="demo images in the shared-work grid")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-grid", action="store_true", help="skip the shared-work grid run")
    parser.add_argument("--out", default=str(ROOT / "docs" / "perf-runner.json"))
    args = parser.parse_args()
    os.environ.setdefault("IQA_OFFLINE", "1")
    figures = {
        "command": " ".join(["python tools/perf/runner_speedups.py", *sys.argv[1:]]),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_1min": os.getloadavg()[0],
        "measures": measures_figures(args.repeats),
        "demo_limit": demo_figures([8, 40], max(1, args.repeats - 1)),
        "shared_work": None if args.no_grid else shared_work_figures(args.limit),
    }
    Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
