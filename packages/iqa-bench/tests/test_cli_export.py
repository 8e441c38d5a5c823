"""``iqa-bench export``: ``--out`` is a file for one table (or one page), a folder for every table."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from _synthetic import BOUNDS, DEFENCES, synthetic_rows

from iqa_bench.cli import main
from iqa_bench.store import ResultStore


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("run") / "results.sqlite"
    with ResultStore(path) as db:
        db.write_unit("all", synthetic_rows())
        for metric, (lower, upper) in BOUNDS.items():
            db.set_bounds(metric, lower, upper, True)
    return path


def _export(store: Path, *args: str) -> int:
    return main(["export", str(store), *args])


def test_out_with_the_format_extension_is_one_file_the_leaderboard(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "leaderboard.csv"
    assert _export(store, "--format", "csv", "--out", str(out)) == 0
    assert out.is_file()
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["defence"] for row in rows} == set(DEFENCES)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["leaderboard.csv"]


def test_one_table_goes_to_the_named_file_whatever_its_extension(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "metrics.txt"
    assert _export(store, "--format", "csv", "--table", "by_metric", "--out", str(out)) == 0
    with out.open(newline="") as handle:
        assert {row["metric"] for row in csv.DictReader(handle)} == set(BOUNDS)
    md = tmp_path / "by_dataset.md"
    assert _export(store, "--format", "md", "--table", "by_dataset", "--out", str(md)) == 0
    assert md.read_text().startswith("# by dataset\n\n| ")


def test_json_leaderboard_is_the_validated_entries(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "board.json"
    assert _export(store, "--format", "json", "--table", "leaderboard", "--out", str(out)) == 0
    entries = json.loads(out.read_text())
    assert sorted(entry["method"] for entry in entries) == sorted(DEFENCES)


def test_an_existing_folder_receives_the_default_name(store: Path, tmp_path: Path) -> None:
    assert _export(store, "--format", "json", "--table", "clean", "--out", str(tmp_path)) == 0
    assert isinstance(json.loads((tmp_path / "clean.json").read_text()), list)


def test_without_a_table_csv_writes_every_table_into_a_folder(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "tables"
    assert _export(store, "--format", "csv", "--out", str(out)) == 0
    names = {p.name for p in out.iterdir()}
    assert {"by_defence.csv", "by_metric.csv", "experiments.csv"} <= names


def test_md_without_a_table_is_the_whole_report_in_one_file(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.markdown"
    assert _export(store, "--format", "md", "--out", str(out)) == 0
    text = out.read_text()
    assert text.startswith("# iqa-bench report") and "## by defence" in text


def test_html_page_at_the_named_file_with_its_entries_beside_it(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "site" / "board.html"
    assert _export(store, "--format", "html", "--out", str(out)) == 0
    assert out.is_file() and "entries/" in out.read_text()
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == ["board.html", "entries"]
    assert list((tmp_path / "site" / "entries").glob("*.json"))


def test_md_and_html_to_a_path_without_extension_write_into_that_folder(store: Path, tmp_path: Path) -> None:
    assert _export(store, "--format", "html", "--out", str(tmp_path / "site")) == 0
    assert (tmp_path / "site" / "leaderboard.html").is_file() and (tmp_path / "site" / "entries").is_dir()
    assert _export(store, "--format", "md", "--out", str(tmp_path / "md")) == 0
    assert (tmp_path / "md" / "report.md").read_text().startswith("# iqa-bench report")


def test_bad_requests_are_one_line_errors(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _export(store, "--format", "csv", "--table", "nope", "--out", str(tmp_path / "x.csv")) == 2
    err = capsys.readouterr().err
    assert "no such table" in err and "by_defence" in err and "winrate_" in err
    assert _export(store, "--format", "html", "--table", "by_metric") == 2
    assert "--table applies to csv, json and md" in capsys.readouterr().err
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    assert _export(store, "--format", "csv", "--out", str(taken)) == 2
    assert "is a file" in capsys.readouterr().err and taken.read_text() == "mine"
