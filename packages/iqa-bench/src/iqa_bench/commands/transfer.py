"""``iqa-bench transfer RUN``: score the run's adversarial images with every other metric and defence.

See :mod:`iqa_bench.transfer`. The pairs go to the store's ``transfer`` table (resumable: finished
pairs are not computed again); ``iqa-bench report`` then shows the matrices and heatmaps.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="the run: its result store file, the folder holding it, or its YAML config")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: the run's `device:`)")
    parser.add_argument(
        "--out",
        default=None,
        help="also write the matrices (CSV, transfer.json) and heatmaps (figures/) into this folder",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    from ..progress import StepProgress
    from ..store import ResultStore
    from ..transfer import Transfer, resolve_run, write_files

    def say(message: str) -> None:
        print(message, file=sys.stderr)

    config, store_path = resolve_run(args.run)
    with ResultStore(store_path) as store:
        transfer = Transfer(config, store, device=args.device, say=say)
        with StepProgress("pairs", None, enabled=not args.no_progress) as bar:
            summary = transfer.run(on_pair=bar.callback)
        failed = [row for row in store.transfer() if row["status"] != "done"]
        rows = list(store.transfer())
    for note in summary.notes:
        say(note)
    print(
        f"{summary.pairs_run} pairs computed, {summary.pairs_skipped} already done, {summary.pairs_failed} failed "
        f"({summary.pairs_total} in all) in {summary.seconds:.1f} s; store {store_path} (table `transfer`)"
    )
    if args.out:
        for path in write_files(rows, args.out):
            print(path)
    for row in failed[:5]:
        say(
            f"failed: {row['source_metric']}/{row['source_defence']} -> {row['target_metric']}/{row['target_defence']} "
            f"({row['attack']}[{row['attack_preset']}], {row['mode']}): {row['error']}"
        )
    if failed:
        say(f"{len(failed)} pairs failed (recorded with their error; `iqa-bench transfer` tries them again)")
        return 1
    return 0
