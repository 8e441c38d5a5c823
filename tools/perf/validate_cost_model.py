"""Validate the cost model: predicted vs actual wall time of the demo grid on this machine.

1. measure a fresh throughput profile of configs/demo.yaml's components (``iqa-bench estimate
   --measure``, written to a temporary file) and take its prediction;
2. run the demo grid into a temporary store (``iqa-bench run``), timing it;
3. compare the prediction with the runner's own wall time (datasets loaded, components built, every
   unit computed and stored: the grid's time) and with the whole process (plus interpreter start and
   imports, which the model does not predict); write docs/perf-cost-model.json.

The goal is a prediction within 20 % of the grid's time. On a loaded machine wall time measures the
other processes too, so by default both steps run on one thread (``OMP_NUM_THREADS=1``) and the
profile is timed with the process's CPU clock (``--clock cpu``): the prediction is then compared with
the run's CPU seconds. ``--clock wall`` compares wall times (an idle machine). The load average
before and after each step is recorded with the figures.

    .venv/bin/python tools/perf/validate_cost_model.py [--config configs/demo.yaml] [--out docs/perf-cost-model.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "iqa_bench.cli"]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(command: list[str], env: dict[str, str]) -> tuple[str, float, float]:
    """stdout, wall seconds and CPU seconds of a child process (fails loudly)."""
    cpu0, t0 = _children_cpu(), time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"{' '.join(command)} failed with exit status {done.returncode}")
    return done.stdout, wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "demo.yaml"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "perf-cost-model.json"))
    parser.add_argument("--tolerance", type=float, default=0.20)
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: 1 with --clock cpu)")
    args = parser.parse_args()

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    threads = args.threads or (1 if args.clock == "cpu" else None)
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    with tempfile.TemporaryDirectory(prefix="iqa-cost-model-") as tmp:
        raw = yaml.safe_load(Path(args.config).read_text(encoding="utf-8"))
        raw["store"] = str(Path(tmp) / "results.sqlite")
        config = Path(tmp) / "config.yaml"
        config.write_text(yaml.safe_dump(raw), encoding="utf-8")
        profile = Path(tmp) / "profile.json"

        load_before = os.getloadavg()
        measure = ["--measure", "--clock", args.clock, "--profile-out", str(profile), "--json"]
        out, t_measure, cpu_measure = _run([*CLI, "estimate", str(config), *measure], env)
        predicted = json.loads(out)["cost"]
        load_mid = os.getloadavg()
        out, t_run, cpu_run = _run([*CLI, "run", str(config), "--no-progress"], env)
        load_after = os.getloadavg()
        match = re.search(r"in ([0-9.]+) s", out)
        if match is None:
            raise SystemExit(f"cannot read the run's time from its output: {out!r}")
        grid_seconds = float(match.group(1))
        profile_data = json.loads(profile.read_text(encoding="utf-8"))

    seconds = predicted["total_device_seconds"]
    actual = cpu_run if args.clock == "cpu" else grid_seconds
    error_grid = seconds / actual - 1
    result = {
        "what": "cost model validation: predicted vs measured wall time of the demo grid on this machine",
        "command": "python tools/perf/validate_cost_model.py",
        "config": os.path.relpath(args.config, ROOT),
        "device": predicted["device"],
        "predicted_seconds": round(seconds, 2),
        "predicted_by_mode_seconds": {k: round(v * 3600, 2) for k, v in predicted["device_hours"]["mode"].items()},
        "measured_grid_seconds": round(grid_seconds, 2),
        "measured_process_seconds": round(t_run, 2),
        "measured_process_cpu_seconds": round(cpu_run, 2),
        "clock": args.clock,
        "threads": threads,
        "compared_with": "the run's CPU seconds" if args.clock == "cpu" else "the grid's wall seconds",
        "relative_error": round(error_grid, 4),
        "relative_error_vs_grid_wall": round(seconds / grid_seconds - 1, 4),
        "relative_error_vs_process_wall": round(seconds / t_run - 1, 4),
        "tolerance": args.tolerance,
        "within_tolerance": abs(error_grid) <= args.tolerance,
        "profiling_seconds": round(t_measure, 2),
        "profiling_cpu_seconds": round(cpu_measure, 2),
        "load_average_1min": {"before": load_before[0], "between": load_mid[0], "after": load_after[0]},
        "cpu_count": os.cpu_count(),
        "profile": profile_data,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(
        f"predicted {seconds:.1f} s ({args.clock} clock), measured {actual:.1f} s "
        f"(grid wall {grid_seconds:.1f} s, process wall {t_run:.1f} s, process CPU {cpu_run:.1f} s): "
        f"{100 * error_grid:+.1f} % (tolerance {100 * args.tolerance:.0f} %); profiling took {t_measure:.1f} s; "
        f"load average {load_before[0]:.1f} / {load_mid[0]:.1f} / {load_after[0]:.1f}; wrote {args.out}"
    )
    return 0 if abs(error_grid) <= args.tolerance else 1


if __name__ == "__main__":
    raise SystemExit(main())
