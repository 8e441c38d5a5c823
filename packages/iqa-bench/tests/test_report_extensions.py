"""Extension points of the report: extra per-defence columns (a subjective study) and extra sections
(transfer matrices) reach the page, the CSV and the JSON entries, escaped."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from _synthetic import BOUNDS, synthetic_rows

from iqa_bench import leaderboard
from iqa_bench.report import build_report, write_report
from iqa_bench.uncertainty import Interval

HOSTILE = '<img src=x onerror="alert(1)">'


def _study() -> leaderboard.ExtraColumn:
    return leaderboard.ExtraColumn(
        "subjective",
        f"Subjective {HOSTILE}",
        True,
        {"good": Interval(0.8, 0.5, 1.1), "bad": {"estimate": -0.4, "low": -0.9, "high": 0.1}, "none": 0.0},
        description="Bradley-Terry log-strength from pairwise votes",
        digits=2,
    )


def _section() -> leaderboard.Table:
    columns = [leaderboard.Column("source", "source", numeric=False), leaderboard.Column("gain", "gain", digits=2)]
    rows = [{"source": HOSTILE, "gain": 0.25}, {"source": "m-wide", "gain": 0.5}]
    return leaderboard.Table("transfer-gain", "Transfer: gain", columns, rows, note="rows: source")


def test_extra_column_reaches_page_entries_and_csv(tmp_path: Path) -> None:
    written = write_report(
        synthetic_rows(), None, BOUNDS, tmp_path, ("csv", "json", "html"),
        extra_columns=[_study()], extra_sections=[_section()],
    )  # fmt: skip
    page = (tmp_path / "leaderboard.html").read_text(encoding="utf-8")
    assert "0.80 (0.50–1.10)" in page and "-0.40 (-0.90–0.10)" in page
    assert HOSTILE not in page and "&lt;img src=x onerror=" in page
    assert 'id="transfer-gain"' in page and "Transfer: gain" in page
    entries = {e["method"]: e for e in json.loads((tmp_path / "leaderboard.json").read_text())}
    assert entries["good"]["extra"]["subjective"] == {
        "label": f"Subjective {HOSTILE}",
        "higher_is_better": True,
        "estimate": 0.8,
        "low": 0.5,
        "high": 1.1,
        "description": "Bradley-Terry log-strength from pairwise votes",
    }
    assert entries["none"]["extra"]["subjective"]["low"] is None  # a plain number: no interval
    for entry in entries.values():
        leaderboard.validate_entry(entry)
    with (tmp_path / "transfer_gain.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0] == {"source": HOSTILE, "gain": "0.25"}
    assert tmp_path / "transfer_gain.csv" in written["csv"]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["tables"]["transfer_gain"][1] == {"source": "m-wide", "gain": 0.5}


def test_extension_points_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="lower-case letters"):
        leaderboard.ExtraColumn("Bad Key", "x", True, {})
    with pytest.raises(ValueError, match="already a column"):
        build_report(synthetic_rows(), None, BOUNDS, extra_columns=[leaderboard.ExtraColumn("gain", "g", True, {})])
    with pytest.raises(TypeError, match="Table or FigureSection"):
        build_report(synthetic_rows(), None, BOUNDS, extra_sections=["not a section"])  # type: ignore[list-item]


def test_version_1_entries_stay_valid() -> None:
    report = build_report(synthetic_rows(), None, BOUNDS)
    old = json.loads(json.dumps(report.entries[0]))
    assert old["schema_version"] == leaderboard.SCHEMA_VERSION == 2
    old["schema_version"] = 1
    leaderboard.validate_entry(old)
    old["schema_version"] = 3
    with pytest.raises(leaderboard.EntryValidationError, match="schema_version"):
        leaderboard.validate_entry(old)
