"""The benchmark report: every table, the statistics, the leaderboard and the figures of a run.

:func:`build_report` computes everything in memory; :func:`write_report` (called by
``iqa-bench report RUN --out DIR`` and ``iqa-bench export RUN --format ...``) writes it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from . import aggregate, plots, stats
from .aggregate import SCORES, Bounds, Row, Summary
from .leaderboard import board as lb_board
from .leaderboard import boards as lb_boards
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

LEADERBOARD_COLUMNS: tuple[tuple[str, str | None, int, float], ...] = (
    ("seconds_defence", "Time ms/img", 2, 1000.0),
    ("srocc_clean", None, 3, 1.0),
    ("srocc_adv", None, 3, 1.0),
    ("d_defended", None, 2, 1.0),
    ("r", None, 2, 1.0),
    ("psnr", None, 2, 1.0),
    ("ssim", None, 3, 1.0),
    ("mse", "MSE ×10⁻³", 2, 1000.0),
    ("linf", None, 3, 1.0),
    ("gain", None, 3, 1.0),
    ("quality", None, 3, 1.0),
    ("d", None, 2, 1.0),
    ("r_defended", None, 2, 1.0),
    ("plcc_adv", None, 3, 1.0),
)
"""The HTML leaderboard's score columns ``(score, label or None for the score's own, digits, display scale)``:
the benchmark's Table 2 first (time, SROCC clear/adv, D^(D), R, PSNR, SSIM, MSE ×10⁻³, Linf), then the
purification paper's Gain and Quality, then D, R^(D) and PLCC adv."""

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
    selected: list[dict[str, Any]] = field(default_factory=list)
    """Per-experiment summaries with each defence's selected preset per mode (the leaderboard's cells)."""
    select_by: str = "srocc_adv"
    extra_columns: list[lb_board.ExtraColumn] = field(default_factory=list)
    """Per-defence columns from outside the run (e.g. a subjective study), on the defences board."""
    boards: dict[str, lb_boards.RankedBoard] = field(default_factory=dict)
    """The ranked leaderboards (``defences``, ``metrics``, ``attacks``) with intervals (see
    :mod:`iqa_bench.leaderboard.boards`)."""
    board_entries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """``{"metrics": [...], "attacks": [...]}``: the other boards' validated entries."""
    extra_sections: list[lb_html.Table | lb_html.FigureSection] = field(default_factory=list)
    """Tables and figure sections from outside the leaderboards (e.g. transfer matrices), shown after
    the report's own tables; a table's rows also go to ``<table id>.csv`` and ``report.json``."""


ExtraSection = lb_html.Table | lb_html.FigureSection
"""What ``extra_sections`` holds: a sortable :class:`~iqa_bench.leaderboard.Table` or a
:class:`~iqa_bench.leaderboard.FigureSection` of inline PNG figures."""


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
    extra_columns: Sequence[lb_board.ExtraColumn] = (),
    extra_sections: Sequence[ExtraSection] = (),
    n_resamples: int = lb_boards.DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Report:
    """Compute every table of the report (see :func:`write_report` for the arguments)."""
    rows = list(rows)
    certificates = list(certificates or ())
    taken = {*SCORES, "n_experiments", "n_images", "n_failed"}
    clashes = sorted(c.key for c in extra_columns if c.key in taken)
    if clashes:
        raise ValueError(f"extra column key(s) {clashes} are already a column of the leaderboard; rename them")
    report = Report(extra_columns=list(extra_columns), extra_sections=_checked_sections(extra_sections))
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

    report.selected = selected
    report.select_by = select_by
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

    report.entries = lb_entries.build_entries(
        selected, defence_types=defence_types, metadata=metadata, extra_columns=report.extra_columns
    )
    _ranked_boards(report, rows, selected_rows, bounds, defence_types, attack_types, alpha, n_resamples, seed)
    return report


def _ranked_boards(
    report: Report,
    rows: Sequence[Row],
    selected_rows: Sequence[Row],
    bounds: Bounds,
    defence_types: Mapping[str, str] | None,
    attack_types: Mapping[str, str] | None,
    alpha: float,
    n_resamples: int,
    seed: int,
) -> None:
    """The three ranked boards, their tables (``leaderboard_<board>``) and entries."""
    tests = [
        stats.WilcoxonTest(**{k: t[k] for k in ("better", "worse", "value", "n_pairs", "statistic", "p_value")},
                           cell=tuple(str(t[k]) for k in stats.CELL_KEY), p_adjusted=t["p_adjusted"],
                           significant=t["significant"])
        for t in report.tables.get("wilcoxon_d_defended", [])
    ]  # fmt: skip
    if not tests:
        tests = stats.wilcoxon_tests(selected_rows, bounds, "d_defended", alpha=alpha)
    types = {**aggregate.DEFAULT_DEFENCE_TYPES, **(defence_types or {})}
    common: dict[str, Any] = {"directions": report.directions, "n_resamples": n_resamples, "seed": seed}
    report.boards["defences"] = lb_boards.defence_board(
        selected_rows, bounds, defence_types=types, tests=tests, extra_columns=report.extra_columns, **common
    )
    report.boards["metrics"] = lb_boards.metric_board(rows, bounds, attack_types=attack_types, alpha=alpha, **common)
    report.boards["attacks"] = lb_boards.attack_board(rows, bounds, attack_types=attack_types, alpha=alpha, **common)
    report.boards["attacks_matched"] = lb_boards.matched_attack_board(
        report.boards["attacks"], report.boards["attacks"].replicates
    )
    for name, board in report.boards.items():
        report.tables[f"leaderboard_{name}"] = board.rows()
    ranking = report.boards["defences"].rankings()
    for entry in report.entries:
        entry["board"] = "defences"
        if entry["method"] in ranking:
            entry["ranking"] = ranking[entry["method"]]
        lb_entries.validate_entry(entry)
    report.board_entries = {name: report.boards[name].entries() for name in ("metrics", "attacks")}


def _checked_sections(sections: Sequence[ExtraSection]) -> list[ExtraSection]:
    out: list[ExtraSection] = []
    for section in sections:
        if not isinstance(section, lb_html.Table | lb_html.FigureSection):
            raise TypeError(
                f"extra_sections takes leaderboard Table or FigureSection objects, got {type(section).__name__}"
            )
        out.append(section)
    return out


def extra_tables(report: Report) -> dict[str, list[dict[str, Any]]]:
    """The rows of the report's extra tables by file-safe name (``<table id>`` with ``-`` as ``_``)."""
    return {
        "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in section.id.replace("-", "_")): [
            dict(row) for row in section.rows
        ]
        for section in report.extra_sections
        if isinstance(section, lb_html.Table)
    }


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


def _board(report: Report) -> lb_board.Board:
    columns = [
        lb_board.BoardColumn(
            key,
            label or SCORES[key].label,
            SCORES[key].higher_is_better,
            SCORES[key].description + (f" (shown ×{scale:g})" if scale != 1.0 else ""),
            digits,
            scale,
        )
        for key, label, digits, scale in LEADERBOARD_COLUMNS
    ]
    columns += [
        lb_board.BoardColumn("n_experiments", "n exp.", None, "experiments averaged", 0, how="sum"),
        lb_board.BoardColumn("n_images", "n images", None, "images scored", 0, how="sum"),
        lb_board.BoardColumn("n_failed", "n failed", None, "images whose evaluation failed (not scored)", 0, how="sum"),
    ]
    presets: dict[str, dict[str, str]] = {}
    for choice in report.tables.get("preset_selection", []):
        presets.setdefault(str(choice["mode"]), {})[str(choice["defence"])] = str(choice["preset"])
    rank_by = report.select_by if report.select_by in SCORES else "srocc_adv"
    return lb_board.build_board(
        report.selected,
        columns,
        presets=presets,
        types={str(e["method"]): str(e["defence_type"]) for e in report.entries},
        rank_by=rank_by,
        baseline=aggregate.NONE,
        modes=MODES,
        directions=report.directions,
        extra_columns=report.extra_columns,
    )


def _table_columns(table: Sequence[Mapping[str, Any]]) -> list[lb_html.Column]:
    out = []
    for name in _main_columns(table):
        numeric = name in SCORES or name.startswith("n_")
        info = SCORES.get(name)
        out.append(
            lb_html.Column(
                name,
                _label(name),
                numeric=numeric,
                higher_is_better=info.higher_is_better if info else None,
                digits=0 if name.startswith("n_") else 3,
                description=info.description if info else "",
            )
        )
    return out


BOARD_TITLES: dict[str, str] = {
    "defences": "Defences: composite rank with 95% intervals",
    "metrics": "Metrics: which NR metric is most robust",
    "attacks": "Attacks: strength at matched perceptual budgets",
    "attacks_matched": "Attacks at equal budgets: Gain and D interpolated at fixed PSNR, SSIM or LPIPS",
}
"""The ranked boards' sections on the page, in order (each also a CSV ``leaderboard_<board>.csv``)."""


def _html_page(
    report: Report,
    title: str,
    *,
    entry_links: Mapping[str, str] | None = None,
    figures: Sequence[lb_html.FigureSection] = (),
    board_links: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    board = _board(report)
    links = {"defences": dict(entry_links or {}), **(board_links or {})}
    board.entry_links = dict(entry_links or {})
    sections = [
        ("by-defence", "Per defence and mode (every column)", "by_defence"),
        ("by-defence-type", "Per defence type", "by_defence_type"),
        ("by-attack-strength", "Per attack strength (preset)", "by_attack_strength"),
        ("by-attack", "Per attack", "by_attack"),
        ("by-metric", "Per metric", "by_metric"),
        ("by-dataset", "Per dataset", "by_dataset"),
        ("clean", "Clean images (attack = none)", "clean"),
    ]
    tables = [
        board_table
        for name, board_title in BOARD_TITLES.items()
        if name in report.boards
        and (
            board_table := report.boards[name].table(f"board-{name.replace('_', '-')}", board_title, links.get(name))
        ).rows
    ]
    tables += [
        lb_html.Table(table_id, caption, _table_columns(report.tables[name]), report.tables[name])
        for table_id, caption, name in sections
        if report.tables.get(name)
    ]
    if report.tables.get("by_certifier"):
        certified = report.tables["by_certifier"]
        columns = [lb_html.Column("certifier", "certifier", numeric=False), lb_html.Column("kind", "kind", False)]
        columns += [
            lb_html.Column(name, info.label, higher_is_better=info.higher_is_better, description=info.description)
            for name, info in aggregate.CERTIFIED_SCORES.items()
        ]
        columns += [lb_html.Column("n_images", "n images", digits=0), lb_html.Column("n_failed", "n failed", digits=0)]
        tables.append(lb_html.Table("certified", "Certified defences", columns, certified))
    for (value, dataset, mode), matrix in sorted(report.win_rates.items()):
        columns = [lb_html.Column("defence", "row beats column", numeric=False)]
        columns += [
            lb_html.Column(
                m, m, digits=1, higher_is_better=True, description=f"% of experiments where the row beats {m}"
            )
            for m in matrix.methods
        ]
        note = (
            f"% of experiments where the row defence beats the column defence on {value} "
            f"(one-sided Wilcoxon, Bonferroni over {matrix.family_size} tests, alpha = {matrix.alpha}); "
            "higher is better for the row."
        )
        tables.append(
            lb_html.Table(
                _matrix_name(value, dataset, mode).replace("_", "-"),
                f"Win rates on {value}: {dataset}, {mode}",
                columns,
                matrix.rows(),
                note,
                filters={"dataset": dataset, "mode": mode},
            )
        )
    glossary = [
        lb_html.Glossary(
            "#",
            None,
            f"rank by the chosen column (default {SCORES[board.rank_by].label}, the score "
            "each defence's preset was chosen by); ties share a rank; the baseline 'none' is not ranked",
        ),
        lb_html.Glossary("preset", None, "the defence's preset in the selected mode"),
        *(lb_html.Glossary(c.label, c.higher_is_better, c.description) for c in board.columns),
        *(lb_html.Glossary(e.label, e.higher_is_better, f"{e.description} (estimate, interval)") for e in board.extras),
        lb_html.Glossary("entry", None, "the defence's raw leaderboard entry (JSON Schema: entry.schema.json)"),
    ]
    notes = [
        "Scores as defined by the Guardians of Image Quality benchmark (section 3.5, Table 2) and the adversarial "
        "purification paper (Gain, Quality). Filters recompute the leaderboard and hide the rows of the breakdown "
        "tables and the figures they exclude; the filters and the sort live in the URL hash, so a view can be shared "
        "as a link. Click a column header to sort.",
        _direction_note(report.directions),
        "Certified defences: Cert.R only for classification certifiers, Cert.RD only for regression ones "
        "(median smoothing); — where a score does not apply.",
    ]
    tables += [section for section in report.extra_sections if isinstance(section, lb_html.Table)]
    figures = [*figures, *(s for s in report.extra_sections if isinstance(s, lb_html.FigureSection))]
    if not tables:
        notes.append("No results to show.")
    return lb_html.render_page(
        title,
        board=board if board.cells else None,
        tables=tables,
        figures=figures,
        notes=notes,
        glossary=glossary,
        metric_directions=report.directions,
    )


def _compact_board_row(board: lb_boards.RankedBoard, row: Mapping[str, Any]) -> dict[str, str]:
    """A ranked board's row for Markdown: rank as ``2 (1–3) ↕``, each score as ``estimate (low–high)``."""

    def interval(key: str, digits: int = 3) -> str:
        return lb_html.format_interval((row.get(key), row.get(f"{key}_low"), row.get(f"{key}_high")), digits)

    out = {
        "#": lb_html.rank_text(row),
        board.group_label: str(row[board.group_label]),
        board.method_label: str(row[board.method_label]),
        "composite": interval("composite", 2),
        "BT": lb_tables.format_value(row.get("bt_strength"), 2),
    }
    out.update({c.label: interval(c.key) for c in board.criteria})
    out.update({e.label: interval(e.key, e.digits) for e in board.extras})
    return out


def _markdown(report: Report, title: str) -> str:
    parts = [
        f"# {lb_tables.escape_markdown(title)}\n",
        lb_tables.escape_markdown(_direction_note(report.directions)) + "\n",
    ]
    for name, board in report.boards.items():
        rows = board.rows()
        if not rows:
            continue
        parts.append(f"## {lb_tables.escape_markdown(BOARD_TITLES.get(name, name))}\n")
        parts.append(lb_tables.escape_markdown(board.note) + "\n")
        compact = [_compact_board_row(board, row) for row in rows]
        parts.append(lb_tables.to_markdown(compact, lb_tables.columns_of(compact)))
    for name, table in report.tables.items():
        if not table or name in ("experiments",) or name.startswith(("wilcoxon_", "leaderboard_")):
            continue
        columns = _main_columns(table) if name not in ("certified", "by_certifier") else None
        if columns is not None and name.startswith(("pareto_", "leaderboard_")):
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


@dataclass
class FigureSpec:
    """One report figure: file stem, page section, title, the filters it belongs to, and its builder."""

    name: str
    section: str
    title: str
    build: Callable[[], Figure]
    caption: str = ""
    filters: dict[str, str] = field(default_factory=dict)


FIGURE_SECTIONS: dict[str, tuple[str, str]] = {
    "pareto": ("Pareto fronts", "Every defence preset (non-adaptive); red: Pareto-optimal configurations."),
    "heatmaps": ("Heatmaps", "Green is better in each map's own direction."),
    "bars": ("Per-defence bars", "Mean ± std over experiments, one bar per mode."),
    "winrates": ("Win-rate matrices", "% of experiments where the row defence significantly beats the column one."),
}
"""Figure sections of the HTML page: ``{id: (title, note)}``, in page order."""


def figure_specs(report: Report) -> list[FigureSpec]:
    """Every figure of the report (Pareto fronts, heatmaps, bars, win-rate matrices), not yet drawn."""
    specs: list[FigureSpec] = []
    for (x, y), points in report.pareto.items():
        if points:
            x_label, y_label = f"{SCORES[x].label} ({_arrow(x)})", f"{SCORES[y].label} ({_arrow(y)})"
            build = partial(
                plots.pareto_figure, points, x, y, x_label=x_label, y_label=y_label, title="non-adaptive, every preset"
            )
            specs.append(
                FigureSpec(
                    f"pareto_{x}_{y}", "pareto", f"{y_label} vs {x_label}", build, filters={"mode": "non-adaptive"}
                )
            )
    by_attack = report.tables.get("by_attack", [])
    for mode in sorted({str(r["mode"]) for r in by_attack}):
        for value in ("gain", "srocc_adv"):
            attacks, defences, values = _heatmap_data(by_attack, value, mode)
            title = f"{SCORES[value].label} per attack x defence ({mode})"
            higher = SCORES[value].higher_is_better
            build = partial(plots.heatmap_figure, values, attacks, defences, title=title, higher_is_better=higher)
            specs.append(
                FigureSpec(
                    f"heatmap_{value}_{mode}",
                    "heatmaps",
                    title,
                    build,
                    caption=direction_caption(higher),
                    filters={"mode": mode},
                )
            )
    by_defence = report.tables.get("by_defence", [])
    if by_defence:
        for value in ("d_defended", "srocc_adv", "gain"):
            title = f"{SCORES[value].label} per defence"
            build = partial(
                plots.bar_figure,
                by_defence,
                value,
                error=f"{value}_std",
                title=title,
                y_label=f"{SCORES[value].label} ({_arrow(value)})",
            )
            specs.append(
                FigureSpec(
                    f"bars_{value}", "bars", title, build, caption=direction_caption(SCORES[value].higher_is_better)
                )
            )
    for (value, dataset, mode), matrix in sorted(report.win_rates.items()):
        if matrix.methods:
            title = f"Win rate % on {value} ({dataset}, {mode})"
            rates = [[matrix.rates[a][b] for b in matrix.methods] for a in matrix.methods]
            build = partial(plots.heatmap_figure, rates, matrix.methods, matrix.methods, title=title, digits=0)
            specs.append(
                FigureSpec(
                    _matrix_name(value, dataset, mode),
                    "winrates",
                    title,
                    build,
                    caption="row beats column; higher is better for the row",
                    filters={"dataset": dataset, "mode": mode},
                )
            )
    return specs


def _arrow(score: str) -> str:
    return "↑" if SCORES[score].higher_is_better else "↓"


def direction_caption(higher_is_better: bool) -> str:
    return "higher is better" if higher_is_better else "lower is better"


def _figures(report: Report, out: Path, formats: Sequence[str]) -> list[Path]:
    paths: list[Path] = []
    for spec in figure_specs(report):
        paths += plots.save_figure(spec.build(), out / spec.name, formats)
    return paths


def page_figures(report: Report, *, dpi: int = 80) -> list[lb_html.FigureSection]:
    """The report's figures as inline PNGs for the HTML page, grouped by section."""
    by_section: dict[str, list[lb_html.PageFigure]] = {key: [] for key in FIGURE_SECTIONS}
    for spec in figure_specs(report):
        png = plots.png_bytes(spec.build(), dpi=dpi)
        figure_id = "figure-" + spec.name.replace("_", "-")
        by_section.setdefault(spec.section, []).append(
            lb_html.PageFigure(figure_id, spec.title, png, spec.caption, spec.filters)
        )
    return [
        lb_html.FigureSection(
            key, FIGURE_SECTIONS.get(key, (key, ""))[0], figures, FIGURE_SECTIONS.get(key, (key, ""))[1]
        )
        for key, figures in by_section.items()
    ]


def write_html(report: Report, out: Path, title: str) -> list[Path]:
    """``leaderboard.html`` and, beside it, ``entries/<defence>.json`` (one validated entry per defence)
    and ``entries/metrics/<metric>.json``, ``entries/attacks/<attack@preset>.json`` (the other boards')."""
    folder = out / "entries"
    folder.mkdir(parents=True, exist_ok=True)
    links: dict[str, str] = {}
    paths: list[Path] = []
    taken: set[str] = set()
    for entry in report.entries:
        lb_entries.validate_entry(entry)
        slug = lb_board.entry_slug(str(entry["method"]), taken)
        path = folder / f"{slug}.json"
        path.write_text(
            json.dumps(lb_entries.plain(entry), indent=2, allow_nan=False, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        links[str(entry["method"])] = f"entries/{slug}.json"
        paths.append(path)
    board_links: dict[str, dict[str, str]] = {}
    for name, entries in report.board_entries.items():
        (folder / name).mkdir(exist_ok=True)
        board_taken: set[str] = set()
        for entry in entries:
            slug = lb_board.entry_slug(str(entry["method"]), board_taken)
            path = folder / name / f"{slug}.json"
            path.write_text(json.dumps(entry, indent=2, allow_nan=False, ensure_ascii=False) + "\n", encoding="utf-8")
            board_links.setdefault(name, {})[str(entry["method"])] = f"entries/{name}/{slug}.json"
            paths.append(path)
    page = out / "leaderboard.html"
    html = _html_page(report, title, entry_links=links, figures=page_figures(report), board_links=board_links)
    page.write_text(html, encoding="utf-8")
    return [page, *paths]


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
    extra_columns: Sequence[lb_board.ExtraColumn] = (),
    extra_sections: Sequence[ExtraSection] = (),
    n_resamples: int = lb_boards.DEFAULT_RESAMPLES,
    seed: int = 0,
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
            * ``"md"``: ``report.md``; ``"html"``: ``leaderboard.html`` (one static page: the ranked
              leaderboard with filters, the tables and the figures inline) and ``entries/<defence>.json``
              beside it (each row's raw entry, linked from the page);
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
        extra_columns: per-defence columns from outside the run
            (:class:`~iqa_bench.leaderboard.ExtraColumn`, e.g. a subjective study's Bradley-Terry
            scores with intervals): shown on the defences board, added to the entries and the CSV.
        extra_sections: tables / figure sections from outside (e.g. transfer matrices): shown on
            the page after the report's tables; a table's rows also go to CSV and ``report.json``.
        n_resamples: bootstrap replicates of the ranked boards' intervals
            (:mod:`iqa_bench.leaderboard.boards`; composite, paired bootstrap and Bradley-Terry in
            :mod:`iqa_bench.leaderboard.ranking`).
        seed: seed of those bootstrap draws.

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
        extra_columns=extra_columns,
        extra_sections=extra_sections,
        n_resamples=n_resamples,
        seed=seed,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[Path]] = {}
    if "csv" in formats:
        paths = [lb_tables.write_csv(table, out / f"{name}.csv") for name, table in report.tables.items()]
        paths += [lb_tables.write_csv(rows, out / f"{name}.csv") for name, rows in extra_tables(report).items()]
        for (value, dataset, mode), matrix in sorted(report.win_rates.items()):
            name = _matrix_name(value, dataset, mode)
            paths.append(lb_tables.write_csv(matrix.rows(), out / f"{name}.csv", ["defence", *matrix.methods]))
        written["csv"] = paths
    if "json" in formats:
        board = lb_entries.write_json(report.entries, out / "leaderboard.json")
        others = [
            lb_entries.write_json(entries, out / f"leaderboard_{name}.json")
            for name, entries in report.board_entries.items()
        ]
        everything = {
            "tables": {**report.tables, **extra_tables(report)},
            "win_rates": [
                {"value": v, "dataset": d, "mode": m, "family_size": x.family_size, "alpha": x.alpha, "rows": x.rows()}
                for (v, d, m), x in sorted(report.win_rates.items())
            ],
        }
        full = out / "report.json"
        full.write_text(json.dumps(lb_entries.plain(everything), indent=1, allow_nan=False) + "\n", encoding="utf-8")
        written["json"] = [board, *others, full]
    if "md" in formats:
        path = out / "report.md"
        path.write_text(_markdown(report, title), encoding="utf-8")
        written["md"] = [path]
    if "html" in formats:
        written["html"] = write_html(report, out, title)
    figure_formats = [f for f in ("png", "svg") if f in formats or (f == "svg" and "png" in formats)]
    if figure_formats:
        paths = _figures(report, out / "figures", figure_formats)
        for fmt in figure_formats:
            written[fmt] = [p for p in paths if p.suffix == f".{fmt}"]
    return written
