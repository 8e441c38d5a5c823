"""Statistically sufficient evaluation on the demo: images saved, time saved, conclusions kept.

    .venv/bin/python tools/perf/sufficient_evaluation.py [--ci-width 2.0] [--min-images 40] [--chunk-size 20]

Runs the demo grid twice into temporary stores, one thread each: with a fixed image count (every
image of every cell, as the paper does) and with ``sufficient: {ci_width, min_images}``. Reports
the attacked images and the wall time of both, and whether the conclusions are the same:

* per cell (mode, attack preset), the order of the defences by mean D (the leaderboard's order);
* the defences table (mean D per defence over all cells) order;
* the largest difference of a cell's mean D between the two runs, in D points, next to the full
  run's 95 % interval half-width for that cell.

The sufficient run goes first, so warm-up costs count against it. Writes ``docs/perf-sufficient.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from iqa_bench.aggregate import diameter, resolve
from iqa_bench.config import parse_config
from iqa_bench.runner import Runner
from iqa_bench.stats import PAIRED_VALUES
from iqa_bench.store import ResultStore
from iqa_bench.uncertainty import bootstrap_interval

ROOT = Path(__file__).resolve().parents[2]


def per_cell(store_path: Path) -> dict[tuple[str, str, str], dict[str, np.ndarray]]:
    """``{(mode, attack, preset): {defence@preset: per-image D}}`` for the attacked rows."""
    out: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    with ResultStore(store_path) as store:
        bounds = store.bounds()
        for row in store.results():
            if row["attack"] == "none":
                continue
            scores = resolve(row)
            if scores is None:
                continue
            d = PAIRED_VALUES["d"].compute(scores, diameter(bounds, row["metric"]))
            cell = (row["mode"], row["attack"], row["attack_preset"])
            out[cell][f"{row['defence']}@{row['defence_preset']}"].append(d)
    return {cell: {k: np.asarray(v) for k, v in ds.items()} for cell, ds in out.items()}


def order(means: dict[str, float]) -> list[str]:
    return [k for k, _ in sorted(means.items(), key=lambda kv: (kv[1], kv[0]))]


def run(raw: dict[str, Any], folder: Path) -> tuple[float, Any]:
    config = parse_config({**raw, "store": str(folder / "results.sqlite")})
    t0 = time.perf_counter()
    with ResultStore(config.store_path) as store:
        summary = Runner(config, store, progress=False).run()
    return time.perf_counter() - t0, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "demo.yaml"))
    parser.add_argument("--ci-width", type=float, default=2.0)
    parser.add_argument("--min-images", type=int, default=40)
    parser.add_argument("--chunk-size", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "docs" / "perf-sufficient.json"))
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    raw = yaml.safe_load(Path(args.config).read_text(encoding="utf-8"))
    raw.pop("certifiers", None)  # certificates do not take part in sufficient evaluation
    raw["chunk_size"] = args.chunk_size
    sufficient = {"ci_width": args.ci_width, "min_images": args.min_images}
    with tempfile.TemporaryDirectory(prefix="iqa-sufficient-") as tmp:
        # the sufficient run goes first: any warm-up cost (lazy imports, allocator) falls on it
        suff_s, suff_summary = run({**raw, "sufficient": sufficient}, Path(tmp) / "sufficient")
        full_s, full_summary = run(raw, Path(tmp) / "full")
        full = per_cell(Path(tmp) / "full" / "results.sqlite")
        suff = per_cell(Path(tmp) / "sufficient" / "results.sqlite")

    cells = []
    totals_full: dict[str, list[float]] = defaultdict(list)
    totals_suff: dict[str, list[float]] = defaultdict(list)
    for cell in sorted(full):
        mf = {k: float(v.mean()) for k, v in full[cell].items()}
        ms = {k: float(v.mean()) for k, v in suff[cell].items()}
        for k in mf:
            totals_full[k].append(mf[k])
            totals_suff[k].append(ms[k])
        half = {k: bootstrap_interval(v, seed=0).width / 2 for k, v in full[cell].items()}
        cells.append(
            {
                "cell": "/".join(cell),
                "images_full": int(max(len(v) for v in full[cell].values())),
                "images_sufficient": int(max(len(v) for v in suff[cell].values())),
                "order_full": order(mf),
                "order_sufficient": order(ms),
                "same_order": order(mf) == order(ms),
                "max_mean_d_difference": max(abs(mf[k] - ms[k]) for k in mf),
                "full_run_ci_half_width": max(half.values()),
            }
        )
    table_full = order({k: float(np.mean(v)) for k, v in totals_full.items()})
    table_suff = order({k: float(np.mean(v)) for k, v in totals_suff.items()})
    saved = suff_summary.sufficient
    result = {
        "what": "statistically sufficient evaluation vs a fixed image count on the demo grid (one thread each)",
        "command": "python tools/perf/sufficient_evaluation.py",
        "config": os.path.relpath(args.config, ROOT),
        "chunk_size": args.chunk_size,
        "sufficient": sufficient,
        "attacked_images": {"full": saved["planned"], "sufficient": saved["attacked"]},
        "images_saved_fraction": round(saved["saved_fraction"], 4),
        "wall_seconds": {"full": round(full_s, 1), "sufficient": round(suff_s, 1)},
        "time_ratio_sufficient_over_full": round(suff_s / full_s, 3),
        "cells_with_same_defence_order": f"{sum(c['same_order'] for c in cells)} of {len(cells)}",
        "defences_table_order": {"full": table_full, "sufficient": table_suff, "same": table_full == table_suff},
        "cells": cells,
        "units": {"full": full_summary.units_run, "sufficient": suff_summary.units_run},
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_average_1min": os.getloadavg()[0],
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(
        f"attacked images {saved['attacked']} of {saved['planned']} ({100 * saved['saved_fraction']:.1f} % saved); "
        f"time {suff_s:.0f} s vs {full_s:.0f} s; same defence order in {result['cells_with_same_defence_order']} "
        f"cells; defences table order same: {table_full == table_suff}; wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
