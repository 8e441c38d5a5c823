"""Issue 17 end to end on the offline demo: one small demo run, then transferability, a subjective
study (scripted participants through the vote store, as the package tests' browser test does through
Chromium) and the three ranked leaderboards, all in ``iqa-bench report``'s page and files."""

from __future__ import annotations

import csv
import json
import random
import sys
from pathlib import Path

from iqa_bench.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "packages" / "iqa-bench" / "tests"))
from _study_fixtures import FakeClock, vote_as  # the package tests' scripted participant


def test_transfer_study_and_ranked_boards_on_the_demo(tmp_path, capsys, demo_run):
    path = demo_run(
        "beyond",
        attacks=[{"name": "ifgsm", "presets": ["weak", "strong"]}],
        defences=[{"name": "jpeg", "presets": ["q90", "q10"]}],
    )

    # transferability: every (source, target) pair of the run, from the cached adversarial images
    assert main(["transfer", str(path)]) == 0

    # a study of the run's purified adversarial images; participants prefer weaker compression
    study = tmp_path / "study"
    assert main(["study", "prepare", str(path), "--out", str(study), "--images", "2", "--presets", "all"]) == 0
    from iqa_bench.study import VoteStore, load_study

    design = load_study(study)
    conditions = sorted({name for g in design.groups for name in g.versions})
    taste = {name: {"jpeg[q90]": 1.0, "none": 0.5, "jpeg[q10]": -1.5}.get(name, 0.0) for name in conditions}
    clock, rng = FakeClock(), random.Random(0)
    with VoteStore(study / "votes.sqlite", clock=clock) as store:
        for _ in range(8):
            vote_as(store, design, clock, taste, rng=rng)
    assert main(["study", "results", str(study)]) == 0

    report = tmp_path / "report"
    capsys.readouterr()
    assert main(["report", str(path), "--out", str(report), "--study", str(study), "--resamples", "200"]) == 0
    page = (report / "leaderboard.html").read_text()
    for section in ("board-defences", "board-metrics", "board-attacks"):
        assert f'id="{section}"' in page, f"{section} missing from the page"
    assert "Transferability" in page and "Subjective quality" in page
    with (report / "leaderboard_defences.csv").open() as handle:
        defences = {row["defence"]: row for row in csv.DictReader(handle)}
    assert float(defences["jpeg"]["subjective_low"]) <= float(defences["jpeg"]["subjective"])
    assert float(defences["jpeg"]["subjective"]) <= float(defences["jpeg"]["subjective_high"])
    pairs = list(csv.DictReader((report / "transfer_pairs.csv").open()))
    assert pairs and all(row["status"] == "done" for row in pairs)
    for board in ("metrics", "attacks"):
        entries = json.loads((report / f"leaderboard_{board}.json").read_text())
        assert entries and all("ranking" in e for e in entries)
