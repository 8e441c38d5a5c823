"""``iqa-bench estimate CONFIG``: the grid's size and its predicted device-hours, without datasets or a GPU.

The grid is planned from image counts (the official ones when a dataset folder is absent), then
multiplied by a throughput profile of the components (:mod:`iqa_bench.cost`): the cached profile of
this machine (measured on first use, a few minutes), or ``--profile FILE`` measured elsewhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="the run's YAML config")
    parser.add_argument(
        "--profile",
        default=None,
        help="throughput profile JSON to use as given (e.g. measured on a GPU machine); "
        "default: this machine's cached profile, measured where it lacks a component",
    )
    parser.add_argument("--measure", action="store_true", help="(re)measure the profile on this machine")
    parser.add_argument(
        "--profile-out", default=None, help="where to write the measured profile (default: the per-device cache)"
    )
    parser.add_argument("--json", action="store_true", help="print the estimate as JSON")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="profiling clock when measuring: wall time (default), or this process's CPU time (a loaded machine)",
    )
    parser.add_argument(
        "--measure-size",
        default=None,
        metavar="HxW",
        help="measure components at this one image size (e.g. 192x256) and scale to the datasets' sizes by "
        "pixel count, instead of measuring at every dataset size (far quicker on a CPU; an assumption of the "
        "estimate, listed in its output)",
    )
    parser.add_argument("--counts-only", action="store_true", help="only the grid size (no profile, no measuring)")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def counts(config_path: str) -> dict[str, object]:
    """Units, attacked images and result rows of the grid (no dataset files, no device needed)."""
    from ..config import load_config
    from ..planning import estimate, plan_without_data

    config, datasets, units = plan_without_data(load_config(config_path))
    return estimate(config, units, {name: d.items for name, d in datasets.items()})


def _parse_size(text: str) -> tuple[int, int]:
    """``"192x256"`` -> ``(192, 256)`` (height x width), or a clear error."""
    try:
        height, width = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"error: --measure-size expects HEIGHTxWIDTH such as 192x256, got {text!r}") from None
    if height < 16 or width < 16:
        raise SystemExit(f"error: --measure-size {text}: both sides must be at least 16 pixels")
    return height, width


def main(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from ..config import load_config
    from ..cost import model
    from ..cost import profile as P
    from ..planning import estimate, plan_without_data

    clock_name = str(getattr(args, "clock", "wall"))
    clock = time.process_time if clock_name == "cpu" else time.perf_counter
    t0 = clock()
    config, datasets, units = plan_without_data(load_config(args.config))
    prepare = {name: clock() - t0 for name, d in datasets.items() if d.source == "in memory"}
    grid: dict[str, Any] = estimate(config, units, {name: d.items for name, d in datasets.items()})
    grid["planned_from"] = {name: d.source for name, d in datasets.items()}
    as_json = getattr(args, "json", False)
    if getattr(args, "counts_only", False):
        print(json.dumps(grid, indent=2))
        return 0
    sizes = sorted({d.size for d in datasets.values()})
    measure_size = getattr(args, "measure_size", None)
    if measure_size:
        sizes = [_parse_size(measure_size)]
    given = getattr(args, "profile", None)
    if given:
        profile = P.load_profile(given)
        if getattr(args, "measure", False):
            raise P.ProfileError("--profile FILE is used as given; drop --measure, or drop --profile to measure here")
    else:
        import torch

        device = "cuda" if config.device in ("cuda", "auto") and torch.cuda.is_available() else "cpu"
        path = Path(getattr(args, "profile_out", None) or P.default_profile_path(device))
        cached = P.load_profile(path) if path.is_file() and not getattr(args, "measure", False) else None
        todo = None if cached is None else P.missing(cached, config, sizes)
        profile = cached or {}
        if (cached is None or todo) and not hasattr(args, "measure"):
            # `run --dry-run`: no measuring behind the user's back; the counts, and how to get the hours.
            print(json.dumps(grid, indent=2))
            what = f"lacks {len(todo)} of its components" if todo else "is not measured yet"
            _say(
                f"the throughput profile of this machine ({path}) {what}: `iqa-bench estimate {args.config}` "
                "measures it (minutes) and prints the device-hours"
            )
            return 0
        if cached is None or todo:
            from ..cost.measure import measure

            what = f"{len(todo)} missing" if todo else "all"
            _say(f"measuring the throughput profile on {device} ({what} components; cached at {path})")
            remeasure = getattr(args, "measure", False)
            measured = measure(
                config,
                sizes,
                cached,
                device=device,
                remeasure=remeasure,
                say=_say,
                clock=clock_name,
                checkpoint=lambda partial: P.save_profile(partial, path),  # an interrupted run resumes from here
            )
            if measure_size:
                measured["assumptions"] = [
                    *measured.get("assumptions", []),
                    f"components measured at {measure_size} only; other sizes scaled linearly by pixel count",
                ]
            P.save_profile(measured, path)
            profile = measured
    cost = model.estimate_cost(config, datasets, units, profile, prepare_seconds=prepare)
    if as_json:
        print(json.dumps({"grid": grid, "cost": cost.to_dict()}, indent=2))
        return 0
    print(json.dumps(grid, indent=2))
    print(model.format_estimate(cost))
    return 0
