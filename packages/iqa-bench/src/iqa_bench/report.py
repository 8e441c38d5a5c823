"""The benchmark report: every table, the statistics, the leaderboard and the figures of a run.

:func:`build_report` computes everything in memory; :func:`write_report` (called by
``iqa-bench report RUN --out DIR`` and ``iqa-bench export RUN --format ...``) writes it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import aggregate, plots, stats
from .aggregate import SCORES, Bounds, Row, Summary
from .leaderboard import entries as lb_entries
from .leaderboard import html as lb_html
from .leaderboard import tables as lb_tables
from .schema import MODES

FORMATS: tuple[str, ...] = ("csv", "json", "md", "html", "png", "svg")
"""Formats :func:`write_report` knows ("png" writes every figure as PNG and SVG, "svg" SVG only)."""

MAIN_SCORES: tuple[str, ...] = (
    "d",
    "d_defended",
    "r",
    "r_defended",
    "srocc_clean",
    "srocc_adv",
    "plcc_adv",
    "psnr",
    "ssim",
    "mse",
    "linf",
    "gain",
    "quality",
    "seconds_defence",
)
"""Scores shown in the Markdown and HTML tables (CSV and JSON carry every score and its std)."""

PARETO_PAIRS: tuple[tuple[str, str], ...] = (("d", "srocc_adv"), ("gain", "quality"))
"""(x, y) of the Pareto fronts: SROCC_adv vs D (Fig. 3a), Quality vs Gain (purification paper)."""

ROLLUPS: tuple[str, ...] = (
    "by_defence",
    "by_metric",
    "by_attack",
    "by_attack_strength",
    "by_dataset",
    "by_defence_type",
)


@dataclass
class Report:
    """Everything a report shows. ``tables`` maps a table name to plain row dicts."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    win_rates: dict[tuple[str, str, str], stats.WinRateMatrix] = field(default_factory=dict)
    """``(value, dataset, mode) -> matrix``."""
    pareto: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    """``(x, y) -> points`` (non-adaptive, one per defence and preset, before preset selection)."""
    entries: list[dict[str, Any]] = field(default_factory=list)
    directions: dict[str, bool] = field(default_factory=dict)
    """``{metric: higher_is_better}`` of every metric in the report."""


def metric_directions(store: Any) -> dict[str, bool]:
    """``{metric: higher_is_better}`` as recorded in a :class:`~iqa_bench.store.ResultStore`."""
    return {str(k): bool(v) for k, v in store.directions().items()}


def _direction_note(directions: Mapping[str, bool]) -> str:
    lower = sorted(m for m, higher in directions.items() if not higher)
    text = (
        "SROCC, PLCC and KROCC are computed on each metric's oriented score (negated for a lower-is-better "
        "metric), so higher is better for every metric; D, R and Gain do not depend on the direction."
    )
    if lower:
        text += " Lower-is-better metrics here: " + ", ".join(lower) + "."
    return text


def build_report(
    rows: Iterable[Row],
    certificates: Iterable[Row] | None,
    bounds: Bounds,
    *,
    defence_types: Mapping[str, str] | None = None,
    attack_types: Mapping[str, str] | None = None,
    wilcoxon_values: Sequence[str] = ("d_defended",),
    alpha: float = 0.05,
    select_by: str = "srocc_adv",
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    directions: Mapping[str, bool] | None = None,
) -> Report:
    """Compute every table of the report (see :func:`write_report` for the arguments)."""
    rows = list(rows)
    certificates = list(certificates or ())
    report = Report()
    metrics = sorted({str(r["metric"]) for r in [*rows, *certificates] if r.get("metric") is not None})
    report.directions = {m: aggregate.higher_is_better(m, bounds, directions) for m in metrics}
    summaries = aggregate.with_types(
        aggregate.summarise(rows, bounds, directions=report.directions), defence_types, attack_types
    )
    report.tables["experiments"] = summaries

    selections = {mode: stats.select_presets(summaries, select_by, mode=mode) for mode in MODES}
    report.tables["preset_selection"] = [
        {"mode": mode, "defence": defence, "preset": preset}
        for mode, chosen in selections.items()
        for defence, preset in chosen.items()
    ]
    selected: list[Summary] = [dict(s) for s in summaries]
    selected_rows: list[Row] = rows
    for mode, chosen in selections.items():
        selected = [dict(s) for s in stats.apply_presets(selected, chosen, mode=mode)]
        selected_rows = list(stats.apply_presets(selected_rows, chosen, mode=mode))

    report.tables["by_defence"] = aggregate.by_defence(selected)
    report.tables["by_metric"] = aggregate.by_metric(selected)
    report.tables["by_attack"] = aggregate.by_attack(selected, attack_types)
    report.tables["by_attack_strength"] = aggregate.by_attack_strength(selected)
    report.tables["by_dataset"] = aggregate.by_dataset(selected)
    report.tables["by_defence_type"] = aggregate.by_defence_type(selected, defence_types)
    report.tables["clean"] = aggregate.rollup(
        [s for s in selected if s["attack"] == aggregate.NONE], ("defence", "mode"), include_clean=True
    )

    certified = aggregate.summarise_certificates(certificates, bounds, directions=report.directions)
    report.tables["certified"] = certified
    report.tables["by_certifier"] = aggregate.by_certifier(certified)

    for value in wilcoxon_values:
        tests = stats.wilcoxon_tests(selected_rows, bounds, value, alpha=alpha)
        report.tables[f"wilcoxon_{value}"] = [
            {
                **dict(zip(stats.CELL_KEY, t.cell, strict=True)),
                "better": t.better,
                "worse": t.worse,
                "value": t.value,
                "n_pairs": t.n_pairs,
                "statistic": t.statistic,
                "p_value": t.p_value,
                "p_adjusted": t.p_adjusted,
                "significant": t.significant,
            }
            for t in tests
        ]
        dataset_at, mode_at = stats.CELL_KEY.index("dataset"), stats.CELL_KEY.index("mode")
        for dataset, mode in sorted({(t.cell[dataset_at], t.cell[mode_at]) for t in tests}):
            subset = [t for t in tests if t.cell[dataset_at] == dataset and t.cell[mode_at] == mode]
            matrix = stats.win_rates(subset, alpha=alpha)
            matrix.family_size = len(tests)
            report.win_rates[(value, dataset, mode)] = matrix

    for x, y in PARETO_PAIRS:
        points = stats.pareto_points(summaries, x, y)
        for point in points:
            point["label"] = f"{point['defence']} ({point['defence_preset']})"
        report.pareto[(x, y)] = points
        report.tables[f"pareto_{x}_{y}"] = points

    report.entries = lb_entries.build_entries(selected, defence_types=defence_types, metadata=metadata)
    return report


def _label(name: str) -> str:
    if name in SCORES:
        return SCORES[name].label
    return name.replace("_", " ")


def _main_columns(table: Sequence[Mapping[str, Any]]) -> list[str]:
    present = lb_tables.columns_of(table)
    keys = [c for c in present if c not in SCORES and not c.endswith("_std") and not c.startswith("n_")]
    scores = [c for c in MAIN_SCORES if c in present]
    counts = [c for c in ("n_experiments", "n_images", "n_failed") if c in present]
    return keys + scores + counts


def _matrix_name(value: str, dataset: str, mode: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in f"{dataset}_{mode}")
    return f"winrate_{value}_{safe}"


def _heatmap_data(
    table: Sequence[Mapping[str, Any]], value: str, mode: str
) -> tuple[list[str], list[str], list[list[float]]]:
    rows = [r for r in table if r["mode"] == mode]
    column = "attack" if all("attack" in r for r in rows) else "attack_type"
    attacks = sorted({str(r[column]) for r in rows})
    defences = sorted({str(r["defence"]) for r in rows}, key=lambda d: (d == aggregate.NONE, d))
    lookup = {(str(r[column]), str(r["defence"])): float(r[value]) for r in rows}
    values = [[lookup.get((a, d), math.nan) for d in defences] for a in attacks]
    return attacks, defences, values


def _html_page(report: Report, title: str) -> str:
    def columns_for(table: Sequence[Mapping[str, Any]]) -> list[lb_html.Column]:
        out = []
        for name in _main_columns(table):
            numeric = name in SCORES or name.startswith("n_")
            higher = SCORES[name].higher_is_better if name in SCORES else None
            out.append(lb_html.Column(name, _label(name), numeric=numeric, higher_is_better=higher))
        return out

    sections = [
        ("leaderboard", "Leaderboard: defences (best-SROCC_adv preset per mode)", "by_defence"),
        ("by-defence-type", "Per defence type", "by_defence_type"),
        ("by-attack-strength", "Per attack strength (preset)", "by_attack_strength"),
        ("by-attack", "Per attack", "by_attack"),
        ("by-metric", "Per metric", "by_metric"),
        ("by-dataset", "Per dataset", "by_dataset"),
        ("clean", "Clean images (attack = none)", "clean"),
    ]
    tables = [
        lb_html.Table(table_id, caption, columns_for(report.tables[name]), report.tables[name])
        for table_id, caption, name in sections
        if report.tables.get(name)
    ]
    if report.tables.get("by_certifier"):
        certified = report.tables["by_certifier"]
        columns = [lb_html.Column("certifier", "certifier", numeric=False), lb_html.Column("kind", "kind", False)]
        columns += [
            lb_html.Column(name, info.label, higher_is_better=info.higher_is_better)
            for name, info in aggregate.CERTIFIED_SCORES.items()
        ]
        columns += [lb_html.Column("n_images", "n images"), lb_html.Column("n_failed", "n failed")]
        tables.append(lb_html.Table("certified", "Certified defences", columns, certified))
    for (value, dataset, mode), matrix in sorted(report.win_rates.items()):
        columns = [lb_html.Column("defence", "defence", numeric=False)]
        columns += [lb_html.Column(m, m, digits=1) for m in matrix.methods]
        note = (
            f"% of experiments where the row defence beats the column defence on {value} "
            f"(one-sided Wilcoxon, Bonferroni over {matrix.family_size} tests, alpha = {matrix.alpha})"
        )
        tables.append(
            lb_html.Table(
                _matrix_name(value, dataset, mode).replace("_", "-"),
                f"Win rates on {value}: {dataset}, {mode}",
                columns,
                matrix.rows(),
                note,
            )
        )
    heatmaps = []
    modes = sorted({str(r["mode"]) for r in report.tables.get("by_attack", [])})
    for mode in modes:
        for value in ("gain", "srocc_adv"):
            attacks, defences, values = _heatmap_data(report.tables["by_attack"], value, mode)
            heatmaps.append(
                lb_html.Heatmap(
                    f"{SCORES[value].label} per attack x defence ({mode})",
                    attacks,
                    defences,
                    values,
                    SCORES[value].higher_is_better,
                )
            )
    scatters = [
        lb_html.Scatter(
            f"{SCORES[y].label} vs {SCORES[x].label} (non-adaptive, every defence preset)",
            SCORES[x].label + (" ↑" if SCORES[x].higher_is_better else " ↓"),
            SCORES[y].label + (" ↑" if SCORES[y].higher_is_better else " ↓"),
            [{"label": p["label"], "x": p[x], "y": p[y], "pareto": p["pareto"]} for p in points],
            ("red: Pareto-optimal configurations",),
        )
        for (x, y), points in report.pareto.items()
        if points
    ]
    notes = [
        "Scores as defined by the Guardians of Image Quality benchmark (section 3.5) and the adversarial "
        "purification paper (Gain, Quality). Click a column header to sort; #sort=<column>&desc=1 in the "
        "URL sorts on load.",
        _direction_note(report.directions),
        "Certified defences: Cert.R only for classification certifiers, Cert.RD only for regression ones "
        "(median smoothing); — where a score does not apply.",
    ]
    if not tables:
        notes.append("No results to show.")
    return lb_html.render_page(title, tables=tables, heatmaps=heatmaps, scatters=scatters, notes=notes)


def _markdown(report: Report, title: str) -> str:
    parts = [
        f"# {lb_tables.escape_markdown(title)}\n",
        lb_tables.escape_markdown(_direction_note(report.directions)) + "\n",
    ]
    for name, table in report.tables.items():
        if not table or name in ("experiments",) or name.startswith("wilcoxon_"):
            continue
        columns = _main_columns(table) if name not in ("certified", "by_certifier") else None
        if columns is not None and name.startswith("pareto_"):
            columns = lb_tables.columns_of(table)
        labels = {c: _label(c) for c in (columns or lb_tables.columns_of(table))}
        parts.append(f"## {lb_tables.escape_markdown(name.replace('_', ' '))}\n")
        parts.append(lb_tables.to_markdown(table, columns, labels=labels))
    for (value, dataset, mode), matrix in sorted(report.win_rates.items()):
        heading = f"win rates on {value}: {dataset}, {mode}"
        parts.append(f"## {lb_tables.escape_markdown(heading)}\n")
        parts.append(
            f"Row beats column (one-sided Wilcoxon, Bonferroni over {matrix.family_size} tests, "
            f"alpha = {matrix.alpha}), % of experiments.\n"
        )
        parts.append(lb_tables.to_markdown(matrix.rows(), ["defence", *matrix.methods], digits=1))
    return "\n".join(parts)


def _figures(report: Report, out: Path, formats: Sequence[str]) -> list[Path]:
    paths: list[Path] = []
    by_attack = report.tables.get("by_attack", [])
    for mode in sorted({str(r["mode"]) for r in by_attack}):
        for value in ("gain", "srocc_adv"):
            attacks, defences, values = _heatmap_data(by_attack, value, mode)
            paths += plots.heatmap(
                values,
                attacks,
                defences,
                out / f"heatmap_{value}_{mode}",
                title=f"{SCORES[value].label} per attack x defence ({mode})",
                higher_is_better=SCORES[value].higher_is_better,
                formats=formats,
            )
    for (x, y), points in report.pareto.items():
        if points:
            paths += plots.pareto_scatter(
                points,
                x,
                y,
                out / f"pareto_{x}_{y}",
                x_label=SCORES[x].label,
                y_label=SCORES[y].label,
                title="non-adaptive, every defence preset",
                formats=formats,
            )
    by_defence = report.tables.get("by_defence", [])
    if by_defence:
        for value in ("d_defended", "srocc_adv", "gain"):
            paths += plots.bar_chart(
                by_defence,
                value,
                out / f"bars_{value}",
                error=f"{value}_std",
                title=f"{SCORES[value].label} per defence",
                y_label=SCORES[value].label,
                formats=formats,
            )
    for (value, dataset, mode), matrix in sorted(report.win_rates.items()):
        if matrix.methods:
            paths += plots.heatmap(
                [[matrix.rates[a][b] for b in matrix.methods] for a in matrix.methods],
                matrix.methods,
                matrix.methods,
                out / _matrix_name(value, dataset, mode),
                title=f"Win rate % on {value} ({dataset}, {mode})",
                digits=0,
                formats=formats,
            )
    return paths


def write_report(
    rows: Iterable[Row],
    certificates: Iterable[Row] | None,
    bounds: Bounds,
    out_dir: str | Path,
    formats: Sequence[str] = ("csv", "json", "md", "html", "png"),
    *,
    title: str = "iqa-bench report",
    defence_types: Mapping[str, str] | None = None,
    attack_types: Mapping[str, str] | None = None,
    wilcoxon_values: Sequence[str] = ("d_defended",),
    alpha: float = 0.05,
    select_by: str = "srocc_adv",
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    directions: Mapping[str, bool] | None = None,
) -> dict[str, list[Path]]:
    """Write the report of a run into ``out_dir`` and return ``{format: [written paths]}``.

    Arguments:
        rows: result rows (dicts with the columns of :data:`iqa_bench.schema.RESULT_COLUMNS`;
            any iterable, read once). Failed rows are counted, not scored.
        certificates: certificate rows (:data:`iqa_bench.schema.CERTIFICATE_COLUMNS`) or ``None``.
        bounds: ``{metric: (lower, upper)}`` for every metric in ``rows`` / ``certificates``.
        out_dir: directory to write into (created if missing; existing files are overwritten).
        formats: any of :data:`FORMATS`:

            * ``"csv"``: ``experiments.csv`` (one row per experiment, every score), the roll-ups
              ``by_defence.csv``, ``by_metric.csv``, ``by_attack.csv``, ``by_attack_strength.csv``,
              ``by_dataset.csv``, ``by_defence_type.csv``, ``clean.csv``, ``certified.csv``,
              ``by_certifier.csv``, ``preset_selection.csv``, ``wilcoxon_<value>.csv`` (every test),
              ``winrate_<value>_<dataset>_<mode>.csv`` and ``pareto_<x>_<y>.csv``;
            * ``"json"``: ``leaderboard.json`` (validated entries, one per defence) and
              ``report.json`` (every table; NaN as null);
            * ``"md"``: ``report.md``; ``"html"``: ``leaderboard.html`` (one static page);
            * ``"png"``: ``figures/*.png`` and ``figures/*.svg`` (heatmaps, Pareto scatter, bars,
              win-rate matrices); ``"svg"`` alone: the SVG figures only.

        title: page / document title (escaped).
        defence_types: ``{defence: type}`` for the per-type table (default
            :data:`iqa_bench.aggregate.DEFAULT_DEFENCE_TYPES`; :data:`~iqa_bench.aggregate.PAPER_DEFENCE_GROUPS`
            gives Table 18's groups).
        attack_types: ``{attack: type}``; when given, the per-attack table groups by attack type.
        wilcoxon_values: per-image values tested pairwise (keys of :data:`iqa_bench.stats.PAIRED_VALUES`).
        alpha: significance level after Bonferroni correction.
        select_by: score used to choose each defence's preset per mode (best mean; SROCC_adv as in
            the paper). The roll-ups, tests and leaderboard use the chosen presets; ``experiments``
            and the Pareto fronts keep every preset.
        metadata: ``{defence: {"name": ..., "paper": ..., "link": ...}}`` added to the entries.
        directions: ``{metric: higher_is_better}`` (e.g. :func:`metric_directions` of the run's store;
            bounds given as ``(lower, upper, higher_is_better)`` work too). Correlations with MOS are
            computed on the oriented score, so a lower-is-better metric (NIQE, BRISQUE, ...) gets
            the sign a higher-is-better one would; a metric whose direction is unknown is taken as
            higher-is-better, with a logged warning.

    Raises ``ValueError`` for an unknown format and ``KeyError`` for a metric without bounds.
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown report format(s) {unknown}; choose from {list(FORMATS)}")
    report = build_report(
        rows,
        certificates,
        bounds,
        defence_types=defence_types,
        attack_types=attack_types,
        wilcoxon_values=wilcoxon_values,
        alpha=alpha,
        select_by=select_by,
        metadata=metadata,
        directions=directions,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {}
    if "csv" in formats:
        paths = [lb_tables.write_csv(table, out / f"{name}.csv") for name, table in report.tables.items()]
        for (value, dataset, mode), matrix in sorted(report.win_rates.items()):
            name = _matrix_name(value, dataset, mode)
            paths.append(lb_tables.write_csv(matrix.rows(), out / f"{name}.csv", ["defence", *matrix.methods]))
        written["csv"] = paths
    if "json" in formats:
        board = lb_entries.write_json(report.entries, out / "leaderboard.json")
        everything = {
            "tables": report.tables,
            "win_rates": [
                {"value": v, "dataset": d, "mode": m, "family_size": x.family_size, "alpha": x.alpha, "rows": x.rows()}
                for (v, d, m), x in sorted(report.win_rates.items())
            ],
        }
        full = out / "report.json"
        full.write_text(json.dumps(lb_entries.plain(everything), indent=1, allow_nan=False) + "\n", encoding="utf-8")
        written["json"] = [board, full]
    if "md" in formats:
        path = out / "report.md"
        path.write_text(_markdown(report, title), encoding="utf-8")
        written["md"] = [path]
    if "html" in formats:
        path = out / "leaderboard.html"
        path.write_text(_html_page(report, title), encoding="utf-8")
        written["html"] = [path]
    figure_formats = [f for f in ("png", "svg") if f in formats or (f == "svg" and "png" in formats)]
    if figure_formats:
        paths = _figures(report, out / "figures", figure_formats)
        for fmt in figure_formats:
            written[fmt] = [p for p in paths if p.suffix == f".{fmt}"]
    return written
