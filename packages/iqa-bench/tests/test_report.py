"""write_report end to end on synthetic rows: every format, readable outputs, consistent numbers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from _synthetic import BOUNDS, synthetic_rows
from PIL import Image

from iqa_bench import aggregate, leaderboard
from iqa_bench.report import FORMATS, build_report, write_report

CERTIFICATES = [
    {
        "dataset": "koniq",
        "image": f"img-{i:02d}",
        "metric": "m-wide",
        "certifier": "rs",
        "certifier_preset": "default",
        "mos": float(i),
        "abstained": int(i == 0),
        "radius": None if i == 0 else 0.1 * i,
        "score": None if i == 0 else float(i),
        "seconds": 1.0,
        "status": "done",
    }
    for i in range(5)
]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    out = tmp_path_factory.mktemp("report")
    return write_report(iter(synthetic_rows()), iter(CERTIFICATES), BOUNDS, out)


def test_every_format_is_written(written: dict[str, list[Path]]) -> None:
    assert set(written) == {"csv", "json", "md", "html", "png", "svg"}
    names = {p.name for p in written["csv"]}
    for table in (
        "experiments",
        "by_defence",
        "by_metric",
        "by_attack",
        "by_attack_strength",
        "by_dataset",
        "by_defence_type",
        "certified",
        "by_certifier",
        "preset_selection",
        "wilcoxon_d_defended",
        "pareto_d_srocc_adv",
        "pareto_gain_quality",
        "winrate_d_defended_koniq_non-adaptive",
    ):
        assert f"{table}.csv" in names
    for path in (p for paths in written.values() for p in paths):
        assert path.exists() and path.stat().st_size > 0
    for png in written["png"]:
        with Image.open(png) as image:
            assert image.width > 100 and image.height > 100
    assert {p.stem for p in written["png"]} == {p.stem for p in written["svg"]}
    assert all(p.read_text().lstrip().startswith(("<?xml", "<svg")) for p in written["svg"])


def test_tables_agree_with_aggregate(written: dict[str, list[Path]]) -> None:
    out = written["csv"][0].parent
    with (out / "experiments.csv").open(newline="") as handle:
        experiments = list(csv.DictReader(handle))
    direct = aggregate.summarise(synthetic_rows(), BOUNDS)
    assert len(experiments) == len(direct)
    first = direct[0]
    row = next(r for r in experiments if all(r[k] == first[k] for k in aggregate.EXPERIMENT_KEY))
    assert float(row["d"]) == pytest.approx(first["d"])
    with (out / "preset_selection.csv").open(newline="") as handle:
        selection = {(r["mode"], r["defence"]): r["preset"] for r in csv.DictReader(handle)}
    assert selection[("non-adaptive", "good")] == "p2"
    with (out / "by_defence.csv").open(newline="") as handle:
        by_defence = list(csv.DictReader(handle))
    good = next(r for r in by_defence if (r["defence"], r["mode"]) == ("good", "non-adaptive"))
    chosen = [
        s
        for s in direct
        if (s["defence"], s["defence_preset"], s["mode"]) == ("good", "p2", "non-adaptive") and s["attack"] != "none"
    ]
    assert float(good["d_defended"]) == pytest.approx(sum(s["d_defended"] for s in chosen) / len(chosen))
    with (out / "winrate_d_defended_koniq_non-adaptive.csv").open(newline="") as handle:
        matrix = {r["defence"]: r for r in csv.DictReader(handle)}
    assert float(matrix["good"]["bad"]) == 100.0 and matrix["good"]["good"] == ""


def test_json_outputs(written: dict[str, list[Path]]) -> None:
    board, metrics, attacks, full = written["json"]
    entries = leaderboard.load_entries(board)
    assert [e["method"] for e in entries] == ["bad", "good", "none"]
    assert {e["board"] for e in leaderboard.load_entries(metrics)} == {"metrics"}
    assert {e["board"] for e in leaderboard.load_entries(attacks)} == {"attacks"}
    data = json.loads(full.read_text())
    assert {"experiments", "by_defence", "certified"} <= set(data["tables"])
    assert data["tables"]["certified"][0]["abstention"] == pytest.approx(20.0)
    assert data["win_rates"][0]["family_size"] > 0


def test_markdown_and_html(written: dict[str, list[Path]]) -> None:
    md = written["md"][0].read_text()
    assert md.startswith("# iqa-bench report")
    assert "## by defence" in md and "| D^(D) |" in md and "## win rates on d\\_defended" in md
    page = written["html"][0].read_text()
    assert 'id="leaderboard"' in page and 'id="certified"' in page and 'id="by-defence"' in page
    figures = {p.stem for p in written["png"]}  # every written figure is inline in the page too
    assert page.count('<img src="data:image/png;base64,') == len(figures) >= 10
    for stem in figures:
        assert f'id="figure-{stem.replace("_", "-")}"' in page
    entries = [p for p in written["html"][1:] if p.parent.name == "entries"]
    assert len(entries) == 3  # none, good, bad
    for path in entries:
        (entry,) = leaderboard.load_entries(path)
        assert f'href="entries/{path.name}"' in page and entry["method"] == path.stem
    others = [p for p in written["html"][1:] if p.parent.name != "entries"]
    assert {p.parent.name for p in others} == {"metrics", "attacks"} and len(others) == 2 + 4  # 2 metrics, 4 configs
    for path in others:
        (entry,) = leaderboard.load_entries(path)
        assert f'href="entries/{path.parent.name}/{path.name}"' in page and entry["board"] == path.parent.name


def test_formats_subset_empty_input_and_errors(tmp_path: Path) -> None:
    only = write_report([], None, BOUNDS, tmp_path / "empty", formats=("csv", "json", "md", "html", "svg"))
    assert "png" not in only and only["svg"] == []
    assert "No results to show." in only["html"][0].read_text()
    assert 'id="leaderboard"' not in only["html"][0].read_text()
    assert json.loads(only["json"][0].read_text()) == []
    with pytest.raises(ValueError, match="unknown report format"):
        write_report([], None, BOUNDS, tmp_path / "x", formats=("pdf",))
    assert set(FORMATS) >= {"csv", "json", "md", "html", "png"}


def test_defence_types_and_attack_types_reach_the_tables() -> None:
    report = build_report(
        synthetic_rows(),
        None,
        BOUNDS,
        defence_types=aggregate.PAPER_DEFENCE_GROUPS | {"good": "denoising", "bad": "filtering"},
        attack_types={"fgsm": "restricted WB", "advcf": "unrestricted WB"},
        wilcoxon_values=("d_defended", "psnr"),
    )
    assert {r["defence_type"] for r in report.tables["by_defence_type"]} == {"none", "denoising", "filtering"}
    assert {r["attack_type"] for r in report.tables["by_attack"]} == {"restricted WB", "unrestricted WB"}
    assert {key[0] for key in report.win_rates} == {"d_defended", "psnr"}
    assert report.entries[1]["defence_type"] == "denoising"


def test_attack_types_in_written_figures_and_page(tmp_path: Path) -> None:
    types = {"fgsm": "restricted WB", "advcf": "unrestricted WB"}
    written = write_report(synthetic_rows(), None, BOUNDS, tmp_path, formats=("html", "svg"), attack_types=types)
    assert "unrestricted WB" in written["html"][0].read_text()
    assert any(p.name == "heatmap_gain_adaptive.svg" for p in written["svg"])


def test_direction_note_and_median_smoothing_without_cert_r(tmp_path: Path) -> None:
    """Defects 2 and 8 in the written report: the direction note, and Cert.R '—' for MS."""
    ms = [
        {
            **row,
            "certifier": "ms",
            "abstained": 0,
            "radius": 0.0,
            "score": float(i),
            "delta": 1.0,
            "relative_delta": 0.01,
            "prediction": None,
        }
        for i, row in enumerate(CERTIFICATES)
    ]
    rows = [r for r in synthetic_rows() if r["metric"] == "m-wide"]
    out = write_report(rows, ms, BOUNDS, tmp_path, ("md", "html"), directions={"m-wide": False})
    markdown = out["md"][0].read_text(encoding="utf-8")
    assert "Lower-is-better metrics here: m-wide" in markdown.replace("\\", "")
    certified = markdown.split("## certified")[1].split("##")[0]
    header, _, first = certified.strip().splitlines()[:3]
    cells = dict(zip([c.strip() for c in header.split("|")], [c.strip() for c in first.split("|")], strict=True))
    assert cells["kind"] == "regression"
    assert cells["cert r"] == "—"
    page = out["html"][0].read_text(encoding="utf-8")
    assert "Lower-is-better metrics here: m-wide" in page


def test_cli_report_reads_metric_directions_from_the_store(tmp_path: Path) -> None:
    """Defect 2 end to end: a lower-is-better metric's correlations and preset choice via `iqa-bench report`."""
    from iqa_bench.cli import _write_report
    from iqa_bench.store import ResultStore

    rows = [dict(r) for r in synthetic_rows() if r["metric"] == "m-narrow"]
    for row in rows:
        for column in ("score_clean", "score_attacked", "score_purified_clean", "score_purified_attacked"):
            if row.get(column) is not None:
                row[column] = -row[column]
    with ResultStore(tmp_path / "run.sqlite") as store:
        store.set_bounds("m-narrow", -5.0, 5.0, False)
        store.write_unit("unit", rows, [])
    _write_report(tmp_path / "run.sqlite", tmp_path / "out", ["json"])
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert min(e["srocc_adv"] for e in data["tables"]["by_defence"]) > 0.9
    chosen = {(e["mode"], e["defence"]): e["preset"] for e in data["tables"]["preset_selection"]}
    assert chosen[("non-adaptive", "good")] == "p2" and chosen[("non-adaptive", "bad")] == "p2"
