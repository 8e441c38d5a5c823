"""Overhead of the Ray executor over the local one on the demo grid; writes ``docs/perf-ray.json``.

One local Ray instance of ``--workers`` CPUs is started once (its start-up is reported apart), then
the same grid (``configs/demo.yaml``, the first ``--limit`` demo images) runs alternately with the
local executor and with the Ray executor (``--workers`` workers of one CPU each), each time into a
fresh store and adversarial cache, ``--repeat`` times. Figures:

* ``overhead`` = median wall(ray) / median wall(local), the Ray run's wall time counted from
  ``RayExecutor.run()`` to its return (worker start-up included, ``ray.init`` not);
* ``overhead_warm`` = the same without the time the driver waited for its first worker;
* ``startup_seconds``: ``ray.init`` and the wait for workers, apart;
* ``rows_identical``: both executors wrote the same rows (timing columns aside).

The local executor uses every core through torch's threads; a Ray worker uses one thread on its
one CPU. On a machine with as many cores as workers, the figure is the cost of distributing the
work, not a speed-up. Run: ``python tools/perf/ray_overhead.py`` (needs ``iqa-bench[ray]``).
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
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TIMING = ("seconds_attack", "seconds_defence", "seconds_metric")


def log(message: str) -> None:
    print(f"[ray-overhead] {message}", file=sys.stderr, flush=True)


def rows(store: Any) -> list[dict[str, Any]]:
    kept = [{k: v for k, v in r.items() if k not in TIMING} for r in store.results()]
    return sorted(kept, key=lambda r: repr(sorted(r.items())))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs/demo.yaml"))
    parser.add_argument("--limit", type=int, default=40, help="demo images (default 40)")
    parser.add_argument("--chunk-size", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-certifiers", action="store_true", help="drop the config's certifiers (for time)")
    parser.add_argument("--out", default=str(ROOT / "docs/perf-ray.json"))
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    import torch

    from iqa_bench.config import load_config
    from iqa_bench.executors import RayExecutor
    from iqa_bench.runner import Runner
    from iqa_bench.store import ResultStore

    base = load_config(args.config)
    datasets = tuple(replace(ds, limit=args.limit) for ds in base.datasets)
    base = replace(base, datasets=datasets, chunk_size=args.chunk_size, device="cpu")
    if args.skip_certifiers:
        base = replace(base, certifiers=())
    load_start = os.getloadavg()

    t0 = time.perf_counter()
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    ray_init = time.perf_counter() - t0
    log(f"ray.init: {ray_init:.1f} s")

    local_walls: list[float] = []
    ray_walls: list[float] = []
    ray_waits: list[float] = []
    identical = True
    units = 0
    try:
        for rep in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                local_cfg = replace(base, store=f"{tmp}/local.sqlite", cache=f"{tmp}/local-cache")
                ray_cfg = replace(base, store=f"{tmp}/ray.sqlite", cache=f"{tmp}/ray-cache")
                with ResultStore(local_cfg.store_path) as store:
                    t0 = time.perf_counter()
                    summary = Runner(local_cfg, store, progress=False).run()
                    local_walls.append(time.perf_counter() - t0)
                    local_rows = rows(store)
                    units = summary.units_total
                with ResultStore(ray_cfg.store_path) as store:
                    executor = RayExecutor(ray_cfg, store, max_in_flight=args.workers, progress=False)
                    t0 = time.perf_counter()
                    executor.run()
                    ray_walls.append(time.perf_counter() - t0)
                    ray_waits.append(executor.timings.get("workers_wait", 0.0))
                    identical = identical and rows(store) == local_rows
            log(
                f"repeat {rep + 1}: local {local_walls[-1]:.1f} s, ray {ray_walls[-1]:.1f} s "
                f"(of which waiting for workers {ray_waits[-1]:.1f} s), rows identical: {identical}"
            )
    finally:
        ray.shutdown()

    local = statistics.median(local_walls)
    distributed = statistics.median(ray_walls)
    wait = statistics.median(ray_waits)
    figures = {
        "command": "python tools/perf/ray_overhead.py " + " ".join(sys.argv[1:]),
        "grid": {
            "config": os.path.relpath(args.config, ROOT),
            "images": args.limit,
            "chunk_size": args.chunk_size,
            "units": units,
            "certifiers": [c.name for c in base.certifiers],
            "device": "cpu",
        },
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "local_torch_threads": torch.get_num_threads(),
        "load_average_before_after": [round(load_start[0], 2), round(os.getloadavg()[0], 2)],
        "machine": platform.platform(),
        "local_seconds": [round(s, 2) for s in local_walls],
        "ray_seconds": [round(s, 2) for s in ray_walls],
        "ray_workers_wait_seconds": [round(s, 2) for s in ray_waits],
        "overhead": round(distributed / local, 3),
        "overhead_warm": round((distributed - wait) / local, 3),
        "startup_seconds": {"ray_init": round(ray_init, 2), "workers_wait": round(wait, 2)},
        "target_overhead": 1.10,
        "rows_identical": identical,
        "note": (
            "Local Ray instance on the same machine as the local run; the local executor uses all cores "
            "through torch threads, each Ray worker one thread on one CPU. Medians of the repeats."
        ),
    }
    Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    log(f"overhead {figures['overhead']} (warm {figures['overhead_warm']}); wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
