"""``iqa-bench run CONFIG``: run (or resume) the experiment grid of a config, locally or on Ray."""

from __future__ import annotations

import argparse
import sys

from iqa_core.errors import UserError

RAY_OPTIONS = ("address", "num_cpus", "num_gpus", "max_in_flight")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="the run's YAML config")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the grid size and the amount of work (as `estimate`), run nothing"
    )
    parser.add_argument("--report", default=None, help="write the report to this folder when done")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")
    parser.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local: this process, one unit after another (default); ray: a pool of Ray workers "
        "(needs iqa-bench[ray]); results land in the config's store either way",
    )
    ray = parser.add_argument_group("Ray executor (with --executor ray)")
    ray.add_argument(
        "--address",
        default=None,
        help="the Ray cluster to join ('auto', or HOST:PORT of `ray start --head`); default: $RAY_ADDRESS, "
        "else a Ray instance started on this machine for the run",
    )
    ray.add_argument("--num-cpus", type=float, default=None, help="CPUs per worker (default 1)")
    ray.add_argument("--num-gpus", type=float, default=None, help="GPUs per worker, e.g. 1 or 0.5 (default 0)")
    ray.add_argument(
        "--max-in-flight",
        type=int,
        default=None,
        help="at most this many workers, i.e. units computed at once (default: as many as the cluster fits)",
    )


def _check_options(args: argparse.Namespace) -> None:
    given = [name for name in RAY_OPTIONS if getattr(args, name, None) is not None]
    if args.executor != "ray" and given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise UserError(f"{flags} only apply to the Ray executor: add --executor ray, or drop them")
    for name in ("num_cpus", "num_gpus"):
        value = getattr(args, name, None)
        if value is not None and value < 0:
            raise UserError(f"--{name.replace('_', '-')} must be >= 0, got {value}")
    if args.max_in_flight is not None and args.max_in_flight < 1:
        raise UserError(f"--max-in-flight must be >= 1, got {args.max_in_flight}")


def main(args: argparse.Namespace) -> int:
    if args.dry_run:
        from .estimate import main as estimate_main

        return estimate_main(args)
    _check_options(args)
    from ..config import load_config
    from ..store import ResultStore

    config = load_config(args.config)

    def say(message: str) -> None:
        print(message, file=sys.stderr)

    startup = ""
    with ResultStore(config.store_path) as store:
        if args.executor == "ray":
            from ..executors import RayExecutor, import_ray

            import_ray()  # a missing Ray is a one-line error before anything runs
            if config.sufficient is not None:
                raise SystemExit(
                    "error: `sufficient:` (statistically sufficient evaluation) decides chunk by chunk from the "
                    "stored rows and runs on the local executor only; drop --executor ray or the config's "
                    "`sufficient:` section"
                )
            executor = RayExecutor(
                config,
                store,
                address=args.address,
                num_cpus=1.0 if args.num_cpus is None else args.num_cpus,
                num_gpus=0.0 if args.num_gpus is None else args.num_gpus,
                max_in_flight=args.max_in_flight,
                progress=not args.no_progress,
                say=say,
            )
            summary = executor.run()
            t = executor.timings
            if "workers" in t:
                startup = (
                    f" ({int(t['workers'])} Ray workers; start-up: ray.init {t['ray_init']:.1f} s, "
                    f"waiting for workers {t.get('workers_wait', 0.0):.1f} s)"
                )
        else:
            from ..runner import Runner

            summary = Runner(config, store, progress=not args.no_progress, say=say).run()
        store.set_meta("units_total", summary.units_total)
    print(
        f"{config.name}: {summary.units_run} units run, {summary.units_skipped} already done, "
        f"{summary.rows_written} rows written ({summary.rows_failed} failed) in {summary.seconds:.1f} s{startup}; "
        f"store {config.store_path}"
    )
    if summary.sufficient is not None:
        saved = summary.sufficient
        print(
            f"sufficient evaluation: {saved['attacked']} of {saved['planned']} planned attacked images "
            f"({100 * saved['saved_fraction']:.1f} % saved; per cell in the store's meta 'sufficient')"
        )
    if args.report:
        from ..cli import write_report_folder

        return write_report_folder(config.store_path, args.report)
    return 0
