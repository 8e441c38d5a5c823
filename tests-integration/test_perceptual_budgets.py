"""Attack strength at equal LPIPS on the offline demo: a run with ``measures: [lpips]`` (pyiqa's LPIPS,
built offline on a random-weight AlexNet in torch.hub's cache) stores LPIPS of P(x') against x in
every attacked row, and ``iqa-bench report`` ranks the attacks within LPIPS budget bins."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from iqa_bench.cli import main
from iqa_bench.store import ResultStore
from iqa_metrics.offline import measure_stand_in_options, offline_backbones


def test_lpips_budgets_on_the_demo(tmp_path: Path, capsys, demo_run) -> None:
    with offline_backbones(tmp_path / "backbones") as root:
        path = demo_run(
            "lpips-budgets",
            attacks=[{"name": "ifgsm", "presets": ["weak", "strong"]}],
            mode="non-adaptive",
            measures=[{"name": "lpips", "params": measure_stand_in_options("lpips", root)}],
        )

    with ResultStore(tmp_path / "run" / "results.sqlite") as store:
        rows = [r for r in store.results() if r["status"] == "done"]
    attacked = [r for r in rows if r["attack"] != "none"]
    assert len(attacked) == 6 * 2 * 2  # images x presets x (undefended, jpeg q50)
    assert all(r["lpips"] is not None and 0 < r["lpips"] < 1 for r in attacked)
    assert all(r["lpips"] is None for r in rows if r["attack"] == "none")

    def mean(preset: str) -> float:
        values = [r["lpips"] for r in attacked if r["attack_preset"] == preset and r["defence"] == "none"]
        return sum(values) / len(values)

    assert mean("strong") > mean("weak")  # the larger L-inf budget is also the larger perceptual change

    report = tmp_path / "report"
    capsys.readouterr()
    assert main(["report", str(path), "--out", str(report), "--resamples", "100"]) == 0
    page = (report / "leaderboard.html").read_text()
    assert "LPIPS" in page
    with (report / "leaderboard_attacks.csv").open() as handle:
        board = list(csv.DictReader(handle))
    groups = {row["budget"] for row in board}
    assert any(g.startswith("LPIPS") for g in groups), groups
    assert all(float(row["lpips"]) > 0 for row in board if row["budget"].startswith("LPIPS"))
    entries = json.loads((report / "leaderboard_attacks.json").read_text())
    assert any(k.startswith("LPIPS") for e in entries for k in e["ranking"])
    experiments = list(csv.DictReader((report / "experiments.csv").open()))
    assert any(row["lpips"] not in ("", "nan") for row in experiments)
