"""``iqa-bench`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from iqa_core import registry

from .commands import estimate as estimate_command
from .commands import export as export_command
from .commands import run as run_command
from .commands import study as study_command
from .commands import submit as submit_command
from .commands import transfer as transfer_command
from .commands import verify as verify_command


def _cmd_list(args: argparse.Namespace) -> int:
    kinds = [args.kind] if args.kind else list(registry.KINDS)
    for kind in kinds:
        names = registry.available(kind)
        print(f"{kind}s ({len(names)}):")
        for name in names:
            line = f"  {name}"
            if args.presets:
                try:  # from the package's components.json when it ships one: no plugin is imported
                    info = registry.spec(kind, name)
                except Exception as error:  # noqa: BLE001 - a broken plugin must not hide the others
                    line += f"  [cannot load: {error}]"
                else:
                    if info.presets:
                        line += "  presets: " + ", ".join(
                            f"{p}*" if p == info.default_preset else p for p in info.presets
                        )
            print(line)
    return 0


def _cmd_quickstart(args: argparse.Namespace) -> int:
    from .quickstart import format_table, run_quickstart

    result = run_quickstart(
        attack_preset=args.attack_preset,
        defence_preset=args.defence_preset,
        eot_samples=args.eot_samples,
        device=args.device,
        batch_size=args.batch_size,
        limit=args.limit,
        seed=args.seed,
        progress=not args.no_progress,
        log=lambda msg: print(msg, file=sys.stderr),
    )
    print(format_table(result))
    print(f"\ndone in {result.seconds['total']:.1f} s", file=sys.stderr)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result.to_dict(), handle, indent=2)
    return 0


def _store_path(run: str) -> Path:
    """A run is named by its store file, the folder holding ``results.sqlite``, or its config YAML."""
    path = Path(run)
    if path.suffix in (".yaml", ".yml"):
        from .config import load_config

        return load_config(path).store_path
    if path.is_dir():
        path = path / "results.sqlite"
    if not path.is_file():
        raise SystemExit(f"no result store at {path}; pass the store file, its folder or the run's config")
    return path


def _cmd_status(args: argparse.Namespace) -> int:
    from .store import ResultStore

    path = _store_path(args.run)
    with ResultStore(path) as store:
        counts = store.counts()
        total = store.meta("units_total")
    done = counts["units"]
    print(f"store {path}")
    print(f"units finished: {done}" + (f" of {total}" if total else ""))
    print(f"result rows: {counts['results_done']} done, {counts['results_failed']} failed")
    print(f"certificate rows: {counts['certificates']}")
    return 0


def _write_report(
    store_path: Path, out: Path, formats: Sequence[str] | None, study: str | None = None, resamples: int = 1000
) -> int:
    """Write ``formats`` (None: all) of the store's report into the folder ``out``; print the paths.

    ``study``: a subjective study's folder; its scores join the defences board (docs/study.md)."""
    from . import transfer
    from .report import metric_directions, write_report
    from .store import ResultStore

    with ResultStore(store_path) as store:
        rows = list(store.results())
        certificates = list(store.certificates())
        bounds = store.bounds()
        directions = metric_directions(store)
        transfer_rows = list(store.transfer())  # `iqa-bench transfer`: matrices and heatmaps when present
    columns = [] if study is None else [_study_column(study)]
    extra = transfer.report_sections(transfer_rows)
    if formats is None:
        written = write_report(
            rows,
            certificates,
            bounds,
            out,
            directions=directions,
            extra_columns=columns,
            extra_sections=extra,
            n_resamples=resamples,
        )
    else:
        written = write_report(
            rows,
            certificates,
            bounds,
            out,
            tuple(formats),
            directions=directions,
            extra_columns=columns,
            extra_sections=extra,
            n_resamples=resamples,
        )
    if transfer_rows:
        written["transfer"] = transfer.write_files(
            transfer_rows, out, transfer.REPORT_FORMATS if formats is None else formats
        )
    for paths in written.values():
        for path in paths:
            print(path)
    return 0


def _study_column(folder: str) -> Any:
    from .study import board_column, load_results

    return board_column(load_results(folder))


def write_report_folder(store_path: Path, out: str) -> int:
    """Every table, statistic, plot and the HTML leaderboard of a store, into the folder ``out``."""
    return _write_report(store_path, Path(out), None)


def _cmd_report(args: argparse.Namespace) -> int:
    if args.resamples < 1:
        raise SystemExit(f"--resamples must be at least 1, got {args.resamples}")
    return _write_report(_store_path(args.run), Path(args.out), None, args.study, args.resamples)


def _cmd_sample(args: argparse.Namespace) -> int:
    from .config import DatasetConfig
    from .planning import dataset_items
    from .sampling import features, kruskal_wallis, sample_items

    items = dataset_items(DatasetConfig(args.name or args.kind, args.kind, args.root, args.csv))
    feats = features(items)
    chosen = sample_items(items, clusters=args.clusters, per_cluster=args.per_cluster, seed=args.seed, feats=feats)
    index = {item.id: k for k, item in enumerate(items)}
    sample_feats = feats[[index[item.id] for item in chosen]]
    result = {
        "dataset": args.kind,
        "seed": args.seed,
        "clusters": args.clusters,
        "per_cluster": args.per_cluster,
        "images": [item.id for item in chosen],
        "kruskal_wallis": kruskal_wallis(sample_feats, feats),
    }
    text = json.dumps(result, indent=2)
    if args.out:
        Path(args.out).write_text(text)
    print(text if not args.out else f"{len(chosen)} of {len(items)} images -> {args.out}")
    return 0


def _cmd_bounds(args: argparse.Namespace) -> int:
    from .bounds import cached_bounds, measure

    report = measure(args.metric, args.images, refresh=args.refresh) if args.images else cached_bounds(args.metric)
    print(f"{args.metric}: lower {report['lower']:.4f}, upper {report['upper']:.4f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iqa-bench", description="Benchmark of NR-IQA defences.")
    sub = parser.add_subparsers(dest="command", required=True)

    p_list = sub.add_parser("list", help="list installed metrics, measures, attacks, defences, denoisers, certifiers")
    p_list.add_argument("kind", nargs="?", choices=registry.KINDS, help="list only this kind (default: every kind)")
    p_list.add_argument(
        "--presets",
        action="store_true",
        help="also show each component's presets, the default marked * (read from the packages' components.json)",
    )
    p_list.set_defaults(handler=_cmd_list)

    p_quick = sub.add_parser("quickstart", help="offline end-to-end demo: demo metric, I-FGSM, JPEG")
    p_quick.add_argument("--attack-preset", default="strong", help="I-FGSM preset (weak, medium, strong)")
    p_quick.add_argument("--defence-preset", default=None, help="JPEG preset (q90 ... q10; default q50)")
    p_quick.add_argument("--eot-samples", type=int, default=1, help="EOT draws for the adaptive attack")
    p_quick.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... or auto (default: auto)")
    p_quick.add_argument("--batch-size", type=int, default=16, help="images per batch (default 16)")
    p_quick.add_argument("--limit", type=int, default=None, help="use only the first N demo images")
    p_quick.add_argument("--seed", type=int, default=0, help="seed of the attack and defence draws (default 0)")
    p_quick.add_argument("--json", default=None, help="also write the table as JSON to this file")
    p_quick.add_argument("--no-progress", action="store_true", help="no progress bars")
    p_quick.set_defaults(handler=_cmd_quickstart)

    p_run = sub.add_parser("run", help="run (or resume) the experiment grid of a YAML config")
    run_command.add_arguments(p_run)
    p_run.set_defaults(handler=run_command.main)

    p_estimate = sub.add_parser(
        "estimate", help="size of a config's grid and the work in it (no datasets, no GPU needed)"
    )
    estimate_command.add_arguments(p_estimate)
    p_estimate.set_defaults(handler=estimate_command.main)

    p_status = sub.add_parser("status", help="progress of a run (store file, its folder or the config)")
    p_status.add_argument("run", help="the run: its result store file, the folder holding it, or its YAML config")
    p_status.set_defaults(handler=_cmd_status)

    p_report = sub.add_parser("report", help="every table, statistic, plot and the HTML leaderboard")
    p_report.add_argument("run", help="the run: its result store file, the folder holding it, or its YAML config")
    p_report.add_argument("--out", required=True, help="folder to write the report into (created if missing)")
    p_report.add_argument(
        "--study", default=None, help="a subjective study's folder: its scores join the board (`iqa-bench study`)"
    )
    p_report.add_argument(
        "--resamples",
        type=int,
        default=1000,
        help="bootstrap resamples of the ranked boards' intervals (default 1000; fewer for large runs: "
        "docs/uncertainty.md)",
    )
    p_report.set_defaults(handler=_cmd_report)

    p_transfer = sub.add_parser(
        "transfer",
        help="score the run's stored adversarial images with every other metric and defence (no new attacks)",
    )
    transfer_command.add_arguments(p_transfer)
    p_transfer.set_defaults(handler=transfer_command.main)

    p_export = sub.add_parser(
        "export", help="the leaderboard or one table in one format (--out: a file for one table, else a folder)"
    )
    export_command.add_arguments(p_export)
    p_export.set_defaults(handler=export_command.main)

    p_submit = sub.add_parser("submit", help="write a finished run as a submission with provenance (verifiable)")
    submit_command.add_arguments(p_submit)
    p_submit.set_defaults(handler=submit_command.main)

    p_verify = sub.add_parser("verify", help="check a submission: re-run a random sample of its cells and compare")
    verify_command.add_arguments(p_verify)
    p_verify.set_defaults(handler=verify_command.main)

    p_study = sub.add_parser("study", help="subjective study: prepare stimuli, serve the voting page, score votes")
    study_command.add_arguments(p_study)
    p_study.set_defaults(handler=study_command.main)

    p_sample = sub.add_parser("sample", help="K-Means sampling of a dataset (SI, colourfulness, MOS) + Kruskal-Wallis")
    p_sample.add_argument(
        "kind", choices=("demo", "koniq10k", "kadid10k", "nips2017", "agiqa3k", "folder"), help="dataset layout"
    )
    p_sample.add_argument("--root", default=None, help="the dataset's folder")
    p_sample.add_argument("--csv", default=None, help="MOS file (layout 'folder': CSV of file name, MOS)")
    p_sample.add_argument("--name", default=None, help="dataset name recorded in the output (default: the layout)")
    p_sample.add_argument("--clusters", type=int, default=10, help="K-Means clusters (default 10)")
    p_sample.add_argument("--per-cluster", type=int, default=100, help="images drawn per cluster (default 100)")
    p_sample.add_argument("--seed", type=int, default=0, help="seed of K-Means and the draws (default 0)")
    p_sample.add_argument("--out", default=None, help="write the sample as JSON to this file (default: print it)")
    p_sample.set_defaults(handler=_cmd_sample)

    p_bounds = sub.add_parser("bounds", help="measure a metric's bounds (iqa-metrics' procedure), cached per metric")
    p_bounds.add_argument("metric", help="registry name of the metric")
    p_bounds.add_argument("--images", default=None, help="folder of high-quality images; omit to show the cache")
    p_bounds.add_argument("--refresh", action="store_true", help="measure again even if cached")
    p_bounds.set_defaults(handler=_cmd_bounds)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors print one line (exit 2), ``--debug`` shows the traceback."""
    from iqa_core.errors import run_cli

    return run_cli(build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())
