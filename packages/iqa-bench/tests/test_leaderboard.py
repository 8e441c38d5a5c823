"""Leaderboard entries and their schema, CSV / Markdown / HTML escaping."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from _synthetic import BOUNDS, synthetic_rows

from iqa_bench import aggregate, leaderboard, stats


@pytest.fixture(scope="module")
def entries() -> list[dict[str, Any]]:
    summaries = aggregate.summarise(synthetic_rows(), BOUNDS)
    for mode in ("non-adaptive", "adaptive"):
        summaries = [
            dict(s) for s in stats.apply_presets(summaries, stats.select_presets(summaries, mode=mode), mode=mode)
        ]
    return leaderboard.build_entries(
        summaries, metadata={"good": {"name": "Good filter", "link": "https://example.org"}}
    )


def test_one_entry_per_method(entries: list[dict[str, Any]]) -> None:
    assert [e["method"] for e in entries] == ["bad", "good", "none"]
    good = entries[1]
    assert good["name"] == "Good filter"
    assert good["presets"] == {"adaptive": "p2", "non-adaptive": "p2"}
    assert set(good["results"]) == {"non-adaptive", "adaptive"}
    result = good["results"]["non-adaptive"]
    assert result["n_experiments"] == 8 and result["n_images"] == 8 * 20 - 1 and result["n_failed"] == 1
    assert set(result["scores"]) == set(aggregate.SCORES)
    json.dumps(entries, allow_nan=False)  # strict JSON
    for entry in entries:
        leaderboard.validate_entry(entry)
    jsonschema.Draft202012Validator.check_schema(leaderboard.load_schema())


def test_bad_entries_are_rejected_with_clear_paths(entries: list[dict[str, Any]]) -> None:
    bad = copy.deepcopy(entries[1])
    bad["results"]["non-adaptive"]["scores"]["srocc_adv"] = "high"
    bad["results"]["sometimes"] = bad["results"]["adaptive"]
    bad["link"] = "javascript:alert(1)"
    bad["surprise"] = 1
    del bad["results"]["adaptive"]["scores"]["d"]
    with pytest.raises(leaderboard.EntryValidationError) as error:
        leaderboard.validate_entry(bad)
    text = str(error.value)
    assert "invalid leaderboard entry 'good'" in text
    assert "at $.results.non-adaptive.scores.srocc_adv: 'high' is not of type 'number', 'null'" in text
    assert "'sometimes' is not one of ['non-adaptive', 'adaptive']" in text
    assert "at $.link: 'javascript:alert(1)' does not match '^https?://'" in text
    assert "Additional properties are not allowed ('surprise' was unexpected)" in text
    assert "at $.results.adaptive.scores: 'd' is a required property" in text
    assert len(error.value.errors) >= 5
    assert isinstance(error.value, ValueError)

    nan_entry = copy.deepcopy(entries[0])
    nan_entry["results"]["adaptive"]["scores"]["r"] = float("nan")
    with pytest.raises(leaderboard.EntryValidationError, match=r"\$.results.adaptive.scores.r: nan is not a finite"):
        leaderboard.validate_entry(nan_entry)
    out_of_range = copy.deepcopy(entries[0])
    out_of_range["results"]["adaptive"]["scores"]["srocc_clean"] = 1.5
    with pytest.raises(leaderboard.EntryValidationError, match="greater than the maximum of 1"):
        leaderboard.validate_entry(out_of_range)
    with pytest.raises(leaderboard.EntryValidationError, match="is not of type 'object'"):
        leaderboard.validate_entry([1, 2])
    assert leaderboard.entry_errors(entries[0]) == []


def test_load_entries_from_a_file(entries: list[dict[str, Any]], tmp_path: Path) -> None:
    path = leaderboard.write_json(entries, tmp_path / "board.json")
    assert leaderboard.load_entries(path) == entries
    single = tmp_path / "one.json"
    single.write_text(json.dumps(entries[0]))
    assert leaderboard.load_entries(single) == [entries[0]]
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(leaderboard.EntryValidationError, match="not valid JSON"):
        leaderboard.load_entries(broken)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps([entries[0], {"method": "x"}]))
    with pytest.raises(
        leaderboard.EntryValidationError, match=r"entry \[1\] \('x'\) at \$: 'schema_version' is a required"
    ):
        leaderboard.load_entries(wrong)


def test_csv_and_markdown_escaping(tmp_path: Path) -> None:
    rows = [
        {"defence": "<script>alert(1)</script>", "d": 1.23456, "note": "a|b"},
        {"defence": '=HYPERLINK("http://x")', "d": float("nan"), "note": None},
    ]
    path = leaderboard.write_csv(rows, tmp_path / "t.csv")
    with path.open(newline="") as handle:
        read = list(csv.DictReader(handle))
    assert read[0]["defence"] == "<script>alert(1)</script>" and read[0]["d"] == "1.23456"
    assert read[1]["defence"].startswith("'=") and read[1]["d"] == "" and read[1]["note"] == ""
    text = leaderboard.to_markdown(rows, labels={"d": "D"})
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "a\\|b" in text and "| D |" in text and "1.235" in text and "—" in text


def test_html_page_escapes_every_string() -> None:
    name = "<script>alert(1)</script>"
    table = leaderboard.Table(
        't"1',
        f"title {name}",
        [leaderboard.Column("defence", f"col {name}", numeric=False), leaderboard.Column("d", "D")],
        [{"defence": name, "d": 1.0, "metric": name}],
        note=name,
    )
    columns = [leaderboard.BoardColumn("srocc_adv", f"SROCC {name}", True, name)]
    summaries = [
        {"defence": d, "mode": "non-adaptive", "dataset": name, "metric": "m", "attack": name, "srocc_adv": v}
        for d, v in ((name, 0.9), ("none", 0.5), ("jpeg", 0.7))
    ]
    board = leaderboard.build_board(summaries, columns, rank_by="srocc_adv", presets={"non-adaptive": {name: name}})
    board.entry_links = {name: "entries/x.json"}
    figure = leaderboard.PageFigure("f1", name, b"\x89PNG", caption=name, filters={"mode": name})
    page = leaderboard.render_page(
        name,
        board=board,
        tables=[table],
        figures=[leaderboard.FigureSection("s", name, [figure], note=name)],
        notes=[name],
        glossary=[leaderboard.Glossary(name, False, name)],
        metric_directions={name: False},
    )
    assert page.count("<script>") == 1  # the page's own script only (the data block is typed JSON)
    assert '<script type="application/json" id="board-data">' in page
    data = page.split('id="board-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data and json.loads(data)["defences"][0] == "none"  # tojson escapes < as \u003c
    assert name not in page.replace(data, "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'id="t&#34;1"' in page and 'data-f-metric="&lt;script&gt;' in page
    assert "http://" not in page and "https://" not in page  # no network resource
    assert "script-src 'sha256-" in page
    ranks = [row.rank for row in leaderboard.board_view(board)]
    assert [row.defence for row in leaderboard.board_view(board)] == ["none", name, "jpeg"] and ranks == [None, 1, 2]


def test_board_view_ranks_ties_and_direction() -> None:
    columns = [
        leaderboard.BoardColumn("d", "D", False),
        leaderboard.BoardColumn("srocc_adv", "SROCC", True),
        leaderboard.BoardColumn("n_images", "n", None, how="sum"),
    ]
    values = {"a": (1.0, 0.5), "b": (1.0, 0.9), "c": (3.0, float("nan")), "none": (9.0, 0.1)}
    summaries = [
        {
            "defence": k,
            "mode": m,
            "dataset": "x",
            "metric": "m",
            "attack": "fgsm",
            "d": d,
            "srocc_adv": s,
            "n_images": 5,
        }
        for k, (d, s) in values.items()
        for m in ("non-adaptive", "adaptive")
    ]
    board = leaderboard.build_board(summaries, columns, rank_by="d")
    rows = leaderboard.board_view(board)
    assert [(r.defence, r.rank) for r in rows] == [("none", None), ("a", 1), ("b", 1), ("c", 3)]
    assert rows[1].values["n_images"] == 5  # one mode selected: counts are not doubled
    rows = leaderboard.board_view(board, rank_by="srocc_adv")
    assert [(r.defence, r.rank) for r in rows] == [("none", None), ("b", 1), ("a", 2), ("c", None)]
    with pytest.raises(ValueError, match="not in this leaderboard"):
        leaderboard.board_view(board, {"metric": "nope"})
    assert leaderboard.entry_slug("jpeg") == "jpeg"
    assert leaderboard.entry_slug("<script>").startswith("script-") and leaderboard.entry_slug("a/b") != "a-b"
