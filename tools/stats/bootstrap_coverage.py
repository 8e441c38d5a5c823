"""Coverage of the leaderboards' 95 % bootstrap intervals on synthetic data with a known ranking.

    .venv/bin/python tools/stats/bootstrap_coverage.py [--draws 200] [--images 20 50 100]
        [--out docs/uncertainty-coverage.json]

The generating model and the checks: :mod:`iqa_bench.leaderboard.coverage`. Writes one record per
image count (coverage of the D intervals, of the rank intervals, mean D interval width, share of
ranks marked unstable) and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from iqa_bench.leaderboard.coverage import measure


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=200, help="independent draws per image count (default 200)")
    parser.add_argument("--images", type=int, nargs="+", default=[20, 50, 100], help="images per draw")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples per draw (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="docs/uncertainty-coverage.json")
    args = parser.parse_args()
    records = []
    for n in args.images:
        start = time.perf_counter()
        record = measure(args.draws, n_images=n, n_resamples=args.resamples, seed=args.seed)
        record["seconds"] = round(time.perf_counter() - start, 1)
        records.append(record)
        print(
            f"n={n:4d}: coverage D {record['coverage_d']:.3f}, Gain {record['coverage_gain']:.3f}, "
            f"composite {record['coverage_composite']:.3f}, rank {record['coverage_rank']:.3f}, "
            f"mean D width {record['mean_width_d']:.3f}, unstable {record['share_unstable']:.2f} "
            f"({record['intervals']} intervals, {record['seconds']} s)"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "command": f"tools/stats/bootstrap_coverage.py --draws {args.draws} --images {' '.join(map(str, args.images))} "
        f"--resamples {args.resamples} --seed {args.seed}",
        "python": platform.python_version(),
        "nominal": 0.95,
        "results": records,
    }
    out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
