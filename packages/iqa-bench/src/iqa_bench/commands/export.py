"""``iqa-bench export RUN --format F [--table NAME] [--out PATH]``: the leaderboard or one table, in one format.

``--out`` names a file when the export is one file: one ``--table`` (csv, json, md), the whole
Markdown report (md), the HTML page (html, its ``entries/`` folder beside it), or an ``--out``
ending in the format's extension (``--out leaderboard.csv``: the leaderboard table). Otherwise
(csv or json without ``--table``) ``--out`` is a folder that receives every table, one file each.
An existing folder, or for the md report and the html page an ``--out`` without an extension,
receives the file under its default name.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from iqa_core.errors import UserError

FORMATS = ("csv", "json", "md", "html")
EXTENSIONS = {"csv": ".csv", "json": ".json", "md": ".md", "html": ".html"}
FIXED_TABLES = (
    "leaderboard",
    "leaderboard_defences",
    "leaderboard_metrics",
    "leaderboard_attacks",
    "leaderboard_attacks_matched",
    "experiments",
    "preset_selection",
    "by_defence",
    "by_metric",
    "by_attack",
    "by_attack_strength",
    "by_dataset",
    "by_defence_type",
    "clean",
    "certified",
    "by_certifier",
)
PATTERN_TABLES = ("wilcoxon_<value>", "pareto_<x>_<y>", "winrate_<value>_<dataset>_<mode>")

DESCRIPTION = (
    "Export a run's leaderboard or one of its tables in one format. --out names a FILE when one file is "
    "exported: with --table NAME (csv, json, md), with --format md without --table (the whole report), with "
    "--format html (the page; its entries/ folder is written beside it), or when --out ends in the format's "
    "extension (e.g. --out leaderboard.csv exports the leaderboard table). Otherwise (csv or json without "
    "--table) --out is a FOLDER that receives every table, one file each. An existing folder given as --out "
    "receives the file under its default name (<table>.<format>); so does, for the md report and the html "
    "page, an --out without an extension (report.md, leaderboard.html)."
)
TABLE_HELP = (
    "export only this table: "
    + ", ".join(FIXED_TABLES)
    + ", or one of "
    + ", ".join(PATTERN_TABLES)
    + " (the run's own are listed when a name is unknown). 'leaderboard' is one row per defence "
    "(csv/md: the by_defence roll-up of the selected presets; json: the validated leaderboard entries); "
    "'leaderboard_defences', 'leaderboard_metrics', 'leaderboard_attacks' are the ranked boards (rank with its "
    "interval, composite, Bradley-Terry strength, scores with intervals; json: their validated entries)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.add_argument("run", help="the run: its result store file, the folder holding it, or its YAML config")
    parser.add_argument("--format", required=True, choices=FORMATS, help="output format")
    parser.add_argument("--table", default=None, metavar="NAME", help=TABLE_HELP)
    parser.add_argument(
        "--out",
        default=None,
        metavar="PATH",
        help="a file when one file is exported (see above), else a folder (default: the current folder)",
    )


def _single_file(fmt: str, table: str | None, out: Path | None) -> bool:
    if table is not None or fmt in ("md", "html"):
        return True
    return out is not None and out.suffix.lower() == EXTENSIONS[fmt] and not out.is_dir()


def _target(out: Path | None, name: str, fmt: str, *, folder_unless_suffix: bool = False) -> Path:
    """The file to write: ``out`` itself, or ``<name>.<fmt>`` inside ``out`` when it is a folder.

    With ``folder_unless_suffix`` (the whole md report, the html page) an ``out`` without an
    extension that is not an existing file is a folder, as it was before single-file exports.
    """
    as_folder = out is None or out.is_dir() or (folder_unless_suffix and not out.suffix and not out.is_file())
    if as_folder:
        folder = out or Path(".")
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{name}{EXTENSIONS[fmt]}"
    assert out is not None
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _tables(report: Any) -> dict[str, tuple[list[dict[str, Any]], list[str] | None]]:
    """Every table of the report by name: ``(rows, columns or None)``."""
    from ..report import _matrix_name

    tables: dict[str, tuple[list[dict[str, Any]], list[str] | None]] = {
        name: (rows, None) for name, rows in report.tables.items()
    }
    for (value, dataset, mode), matrix in sorted(report.win_rates.items()):
        tables[_matrix_name(value, dataset, mode)] = (matrix.rows(), ["defence", *matrix.methods])
    tables["leaderboard"] = tables.get("by_defence", ([], None))
    return tables


def _write_table(report: Any, name: str, fmt: str, target: Path) -> Path:
    from ..leaderboard import entries as lb_entries
    from ..leaderboard import tables as lb_tables

    tables = _tables(report)
    if name not in tables:
        raise UserError(f"--table {name!r}: this run has no such table; its tables: {', '.join(sorted(tables))}")
    rows, columns = tables[name]
    if fmt == "csv":
        return lb_tables.write_csv(rows, target, columns)
    if fmt == "json":
        if name in ("leaderboard", "leaderboard_defences"):
            return lb_entries.write_json(report.entries, target)
        if name.startswith("leaderboard_") and name[len("leaderboard_") :] in report.board_entries:
            return lb_entries.write_json(report.board_entries[name[len("leaderboard_") :]], target)
        text = json.dumps(lb_entries.plain(rows), indent=1, allow_nan=False, ensure_ascii=False)
        target.write_text(text + "\n", encoding="utf-8")
        return target
    heading = f"# {lb_tables.escape_markdown(name.replace('_', ' '))}\n\n"
    target.write_text(heading + lb_tables.to_markdown(rows, columns) + "\n", encoding="utf-8")
    return target


def _write_html(report: Any, out: Path | None, title: str) -> list[Path]:
    """The page at ``out`` (a file) or ``out/leaderboard.html`` (a folder), ``entries/`` beside it."""
    from ..report import write_html

    page = _target(out, "leaderboard", "html", folder_unless_suffix=True)
    folder = page.parent
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=folder))
    try:
        written = write_html(report, staging, title)
        moved = []
        for path in written:
            relative = path.relative_to(staging)
            final = page if relative == Path("leaderboard.html") else folder / relative
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, final)
            moved.append(final)
        return moved
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def export(store_path: Path, fmt: str, table: str | None, out: Path | None) -> list[Path]:
    """Write the export and return the paths written (see the module docstring)."""
    from ..report import _markdown, build_report, metric_directions, write_report
    from ..store import ResultStore

    if table is not None and fmt == "html":
        raise UserError("--table applies to csv, json and md; --format html writes the whole leaderboard page")
    with ResultStore(store_path) as store:
        rows = list(store.results())
        certificates = list(store.certificates())
        bounds = store.bounds()
        directions = metric_directions(store)
    if not _single_file(fmt, table, out):
        folder = out or Path(".")
        if folder.exists() and not folder.is_dir():
            raise UserError(
                f"--out {folder} is a file, but --format {fmt} without --table writes every table: "
                "give a folder, or --table NAME for one file"
            )
        written = write_report(rows, certificates, bounds, folder, (fmt,), directions=directions)
        return [path for paths in written.values() for path in paths]
    report = build_report(rows, certificates, bounds, directions=directions)
    title = "iqa-bench report"
    if fmt == "html":
        return _write_html(report, out, title)
    if table is None and fmt == "md":
        target = _target(out, "report", fmt, folder_unless_suffix=True)
        target.write_text(_markdown(report, title), encoding="utf-8")
        return [target]
    name = table or "leaderboard"
    return [_write_table(report, name, fmt, _target(out, name, fmt))]


def main(args: argparse.Namespace) -> int:
    from ..cli import _store_path

    for path in export(_store_path(args.run), args.format, args.table, Path(args.out) if args.out else None):
        print(path)
    return 0
