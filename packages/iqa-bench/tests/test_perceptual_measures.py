"""Learned perceptual measures (config ``measures: [lpips]``): every attacked row carries LPIPS of
P(x') against x, a store gains the column, adding a measure recomputes rows from the adversarial
cache, and the attacks board ranks within LPIPS budget bins and at LPIPS levels.

The package is tested alone (without iqa-metrics), so a toy stands in for LPIPS here: the mean
absolute difference, whose value each row can be checked against. Real LPIPS (pyiqa, random
backbones) runs through the same path in ``tests-integration/test_perceptual_budgets.py``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from _grids import run_grid, toy_grid
from _synthetic import BOUNDS, synthetic_rows

from iqa_bench.config import ConfigError, parse_config
from iqa_bench.leaderboard import boards
from iqa_bench.store import ResultStore
from iqa_core import registry

DIRECTIONS = {"m-wide": True, "m-narrow": True}


class ToyPerceptual(torch.nn.Module):
    """Stands in for LPIPS: mean |x - y| per image (lower is better, like LPIPS)."""

    higher_is_better = False
    built = 0

    def __init__(self, *, device: str | torch.device = "cpu", scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale
        ToyPerceptual.built += 1

    def forward(self, reference: torch.Tensor, distorted: torch.Tensor) -> torch.Tensor:
        return self.scale * (reference - distorted).abs().flatten(1).mean(1)


@pytest.fixture
def toy_lpips() -> Iterator[type[ToyPerceptual]]:
    registry.register("measure", "lpips", ToyPerceptual, replace=True)
    ToyPerceptual.built = 0
    yield ToyPerceptual
    registry.unregister("measure", "lpips")


def _config(tmp_path: Path, folder: Path, store: str, **overrides: Any) -> Any:
    return parse_config(
        toy_grid(
            tmp_path,
            folder,
            defences=[{"name": "toy-blur", "presets": ["k3"]}],
            store=str(tmp_path / store / "results.sqlite"),
            cache=str(tmp_path / "cache"),
            **overrides,
        )
    )


def test_config_names_the_measures_and_refuses_those_without_a_column(tmp_path: Path, image_folder: Path) -> None:
    config = _config(tmp_path, image_folder, "a", measures=["lpips", {"name": "dists", "params": {"x": 1}}])
    assert [(m.name, m.params) for m in config.measures] == [("lpips", {}), ("dists", {"x": 1})]
    assert _config(tmp_path, image_folder, "a").measures == ()
    with pytest.raises(ConfigError, match=r"measures\[0\].name: 'psnr' has no result column; choose from lpips, dists"):
        _config(tmp_path, image_folder, "a", measures=["psnr"])
    with pytest.raises(ConfigError, match="measures listed more than once: \\['lpips'\\]"):
        _config(tmp_path, image_folder, "a", measures=["lpips", "lpips"])
    with pytest.raises(ConfigError, match="expected a list such as \\[lpips\\]"):
        _config(tmp_path, image_folder, "a", measures="lpips")
    with pytest.raises(ConfigError, match="unknown keys \\['presets'\\]; allowed: name, params"):
        _config(tmp_path, image_folder, "a", measures=[{"name": "lpips", "presets": ["x"]}])


def test_a_measure_that_is_not_installed_stops_the_run_before_any_work(
    tmp_path: Path, image_folder: Path, toy_plugins: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from iqa_bench import schema

    monkeypatch.setattr(schema, "PERCEPTUAL_MEASURES", (*schema.PERCEPTUAL_MEASURES, "toy-missing"))
    config = _config(tmp_path, image_folder, "a", measures=["toy-missing"])
    with pytest.raises(ConfigError, match=r"measures\[0\] \(toy-missing\): .*toy-missing"):
        run_grid(config)
    with ResultStore(config.store_path) as store:
        assert not list(store.results())


def test_attacked_rows_carry_the_measure_of_the_purified_adversarial_image(
    tmp_path: Path, image_folder: Path, toy_plugins: Any, toy_lpips: type[ToyPerceptual]
) -> None:
    config = _config(tmp_path, image_folder, "run", measures=[{"name": "lpips", "params": {"scale": 2.0}}])
    _, rows = run_grid(config)
    assert toy_lpips.built == 1  # built once, when the run starts
    done = [r for r in rows if r["status"] == "done"]
    attacked = [r for r in done if r["attack"] != "none"]
    assert attacked and all(r["lpips"] is not None and r["lpips"] > 0 for r in attacked)
    assert all(r["lpips"] is None for r in done if r["attack"] == "none")  # no x' on clean rows
    assert all(r["dists"] is None for r in done)  # not asked for
    # the value is the measure of P(x') against x: toy-blur's output differs from x' itself
    plain = [r for r in attacked if r["mode"] == "non-adaptive"]  # (the undefended rows are non-adaptive ones)
    undefended = {(r["image"], r["attack_preset"]): r["lpips"] for r in plain if r["defence"] == "none"}
    defended = {(r["image"], r["attack_preset"]): r["lpips"] for r in plain if r["defence"] != "none"}
    assert undefended.keys() == defended.keys() and any(undefended[k] != defended[k] for k in undefended)
    # against the toy's definition, 2 x mean |x - P(x')|: never above 2 x L-inf; and where toy-sign
    # moved every pixel by exactly eps (nothing clamped: RMS change = L-inf), exactly 2 x eps
    exact = 0
    for row in attacked:
        assert row["lpips"] <= 2.0 * row["linf"] + 1e-6
        if row["defence"] == "none" and abs(row["mse"] ** 0.5 - row["linf"]) < 1e-7:
            assert row["lpips"] == pytest.approx(2.0 * row["linf"], rel=1e-5)
            exact += 1
    assert exact > 0


def test_adding_a_measure_recomputes_rows_from_the_adversarial_cache(
    tmp_path: Path, image_folder: Path, toy_plugins: Any, toy_lpips: type[ToyPerceptual]
) -> None:
    first, rows = run_grid(_config(tmp_path, image_folder, "run"))
    assert first.work.get("attack", 0) > 0 and all(r["lpips"] is None for r in rows)
    again, rows = run_grid(_config(tmp_path, image_folder, "run", measures=["lpips"]))
    assert again.units_run > 0 and any("recomputed" in note for note in again.notes)
    assert again.work.get("attack", 0) == 0 and again.work.get("attack_reused", 0) > 0  # no attack runs again
    assert all(r["lpips"] is not None for r in rows if r["status"] == "done" and r["attack"] != "none")
    same, _ = run_grid(_config(tmp_path, image_folder, "run", measures=["lpips"]))
    assert same.units_run == 0  # resumed: nothing left


def test_an_older_store_gains_the_columns_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with ResultStore(path):
        pass
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE results DROP COLUMN lpips")
    db.execute("ALTER TABLE results DROP COLUMN dists")
    db.commit()
    db.close()
    with ResultStore(path) as store:
        assert store.meta("schema_version") == 4
    columns = {row[1] for row in sqlite3.connect(path).execute("PRAGMA table_info(results)")}
    assert {"lpips", "dists"} <= columns


def _with_lpips(rows: list[dict[str, Any]], weak: float, strong: float) -> list[dict[str, Any]]:
    for row in rows:
        if row["attack"] != "none":
            row["lpips"] = (weak if row["attack_preset"] == "weak" else strong) * (1 + 0.01 * int(row["image"][-2:]))
    return rows


def test_attacks_board_ranks_within_lpips_bins_only_when_the_rows_carry_it() -> None:
    plain = boards.attack_board(synthetic_rows(), BOUNDS, directions=DIRECTIONS, n_resamples=50)
    assert not any(g.startswith("LPIPS") for g in plain.groups)
    assert "lpips" not in [c.key for c in plain.criteria]

    board = boards.attack_board(
        _with_lpips(synthetic_rows(), 0.03, 0.15), BOUNDS, directions=DIRECTIONS, n_resamples=50
    )
    assert [c.key for c in board.criteria][-1] == "lpips" and not board.criteria[-1].composite
    lpips_groups = {g: {r.method for r in ranked} for g, ranked in board.groups.items() if g.startswith("LPIPS")}
    assert lpips_groups == {
        "LPIPS ≤ 0.05": {"fgsm@weak", "advcf@weak"},
        "LPIPS 0.1–0.2": {"fgsm@strong", "advcf@strong"},
    }
    for ranked in board.groups.values():
        for r in ranked:
            expected = (0.03 if r.method.endswith("@weak") else 0.15) * (1 + 0.01 * 9.5)  # mean over img-00..19
            assert r.scores["lpips"].estimate == pytest.approx(expected, rel=1e-9)
            assert r.scores["lpips"].low <= r.scores["lpips"].estimate <= r.scores["lpips"].high
    entries = {e["method"]: e for e in board.entries()}
    assert entries["fgsm@weak"]["ranking"]["LPIPS ≤ 0.05"]["scores"]["lpips"]["estimate"] > 0
    table = board.table("board-attacks", "Attacks")
    assert any("LPIPS" in c.label for c in table.columns)


def test_attacks_at_equal_lpips_interpolate_between_presets() -> None:
    rows = _with_lpips(synthetic_rows(), 0.02, 0.12)  # means 0.0219 (weak) and 0.1314 (strong)
    attacks = boards.attack_board(rows, BOUNDS, directions=DIRECTIONS, n_resamples=50)
    matched = boards.matched_attack_board(attacks, attacks.replicates)
    lpips_levels = sorted(g for g in matched.groups if g.startswith("LPIPS"))
    assert lpips_levels == ["LPIPS = 0.05", "LPIPS = 0.1"]  # 0.01, 0.02 and 0.2 lie outside the presets
    config = {r.method: r for ranked in attacks.groups.values() for r in ranked}
    for r in matched.groups["LPIPS = 0.1"]:
        weak, strong = config[f"{r.method}@weak"], config[f"{r.method}@strong"]
        x0, x1 = weak.scores["lpips"].estimate, strong.scores["lpips"].estimate
        share = (0.1 - x0) / (x1 - x0)
        for key in ("gain", "d"):
            expected = weak.scores[key].estimate + share * (strong.scores[key].estimate - weak.scores[key].estimate)
            assert r.scores[key].estimate == pytest.approx(expected, rel=1e-9)
