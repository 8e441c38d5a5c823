"""``iqa-bench run CONFIG``: run (or resume) the experiment grid of a config."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="the run's YAML config")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the grid size and the amount of work (as `estimate`), run nothing"
    )
    parser.add_argument("--report", default=None, help="write the report to this folder when done")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")


def main(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..runner import Runner
    from ..store import ResultStore

    if args.dry_run:
        from .estimate import main as estimate_main

        return estimate_main(args)
    config = load_config(args.config)
    with ResultStore(config.store_path) as store:
        runner = Runner(config, store, progress=not args.no_progress, say=lambda m: print(m, file=sys.stderr))
        summary = runner.run()
        store.set_meta("units_total", summary.units_total)
    print(
        f"{config.name}: {summary.units_run} units run, {summary.units_skipped} already done, "
        f"{summary.rows_written} rows written ({summary.rows_failed} failed) in {summary.seconds:.1f} s; "
        f"store {config.store_path}"
    )
    if args.report:
        from ..cli import write_report_folder

        return write_report_folder(config.store_path, args.report)
    return 0
