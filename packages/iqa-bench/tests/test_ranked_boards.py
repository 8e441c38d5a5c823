"""The ranked leaderboards (defences, metrics, attacks): ranks follow the scores' directions, intervals
hold their estimates, estimates agree with the roll-ups, ties are ties, Bradley-Terry follows the wins,
and the bootstrap intervals cover a known truth at about their nominal rate."""

from __future__ import annotations

import copy
import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _grids import run_grid, toy_grid
from _synthetic import BOUNDS, synthetic_rows

from iqa_bench import aggregate, leaderboard
from iqa_bench.config import parse_config
from iqa_bench.leaderboard import boards, ranking
from iqa_bench.leaderboard.coverage import measure
from iqa_bench.report import build_report, write_report
from iqa_bench.stats import WilcoxonTest

DIRECTIONS = {"m-wide": True, "m-narrow": True}


@pytest.fixture(scope="module")
def report() -> Any:
    return build_report(synthetic_rows(), None, BOUNDS, directions=DIRECTIONS, n_resamples=300)


def _check_intervals(board: boards.RankedBoard) -> None:
    for group, ranked in board.groups.items():
        assert ranked, group
        for r in ranked:
            assert r.rank.low <= r.rank.rank <= r.rank.high
            assert r.rank.unstable == (r.rank.low != r.rank.high)
            assert r.composite.low <= r.composite.estimate + 1e-9 and r.composite.estimate <= r.composite.high + 1e-9
            for key, value in r.scores.items():
                if math.isfinite(value.estimate):
                    assert value.low <= value.estimate + 1e-9 <= value.high + 2e-9, (group, r.method, key)


def test_every_board_has_intervals_holding_the_estimates(report: Any) -> None:
    assert set(report.boards) == {"defences", "metrics", "attacks", "attacks_matched"}
    assert not report.boards["attacks_matched"].groups  # every preset has the same PSNR: nothing to interpolate
    for board in report.boards.values():
        _check_intervals(board)


def test_defence_ranks_follow_the_known_effect_and_agree_with_the_rollups(report: Any) -> None:
    board = report.boards["defences"]
    assert list(board.groups) == ["non-adaptive", "adaptive"]
    by_defence = {(r["defence"], r["mode"]): r for r in aggregate.by_defence(report.selected)}
    for mode, ranked in board.groups.items():
        assert [r.method for r in ranked] == ["good", "bad"]  # 'none' is the baseline, not ranked
        assert [r.rank.rank for r in ranked] == [1, 2] and not ranked[0].rank.unstable
        assert ranked[0].strength > ranked[1].strength  # good wins the Wilcoxon tests on D^(D)
        for r in ranked:
            rollup = by_defence[(r.method, mode)]
            for key in ("d_defended", "r", "srocc_adv", "srocc_clean"):
                assert r.scores[key].estimate == pytest.approx(rollup[key], rel=1e-9, abs=1e-12), key
            assert r.scores["quality"].estimate == pytest.approx(rollup["quality"], abs=2e-3)  # of means, not mean of


def test_attack_ranks_put_the_strong_presets_first(report: Any) -> None:
    board = report.boards["attacks"]
    for group, ranked in board.groups.items():
        top = {r.method.split("@")[1] for r in ranked[:2]}
        assert top == {"strong"}, group  # strong shifts the score 25% of the range, weak 10%
        gains = [r.scores["gain"].estimate for r in ranked]
        assert gains[0] > gains[-1]  # higher Gain = stronger attack ranks first
    assert {g.split(" ")[0] for g in board.groups} == {"PSNR", "SSIM"}  # both budget kinds


def test_rank_order_follows_each_scores_direction() -> None:
    """One criterion: a higher-is-better score ranks the largest first, a lower-is-better one last."""
    values = {"a": 3.0, "b": 1.0, "c": 2.0}
    per_cell = {("ds",): {m: {"x": np.array([v, v, v])} for m, v in values.items()}}
    for higher, order in ((True, ["a", "c", "b"]), (False, ["b", "c", "a"])):
        criteria = (ranking.Criterion("x", "x", higher, ""),)
        ranked = ranking.rank_group("all", per_cell, criteria)
        assert [r.method for r in ranked] == order
        assert [r.rank.rank for r in ranked] == [1, 2, 3]


def test_a_lower_is_better_metric_ranks_as_its_oriented_twin() -> None:
    """Negating a metric's scores and declaring it lower-is-better changes none of its ranks or scores."""
    rows = synthetic_rows()
    flipped = copy.deepcopy(rows)
    for row in flipped:
        if row["metric"] == "m-narrow":
            for key in ("score_clean", "score_attacked", "score_purified_clean", "score_purified_attacked"):
                if row[key] is not None:
                    row[key] = -row[key]
    bounds = {**BOUNDS, "m-narrow": (-5.0, 5.0)}
    plain = boards.metric_board(rows, bounds, directions=DIRECTIONS, n_resamples=200)
    oriented = boards.metric_board(flipped, bounds, directions={**DIRECTIONS, "m-narrow": False}, n_resamples=200)
    for group in plain.groups:
        a = {r.method: r for r in plain.groups[group]}
        b = {r.method: r for r in oriented.groups[group]}
        for metric in a:
            assert a[metric].rank == b[metric].rank
            for key in ("r", "d", "srocc_drop", "srocc_adv"):
                assert a[metric].scores[key].estimate == pytest.approx(b[metric].scores[key].estimate, abs=1e-9)
    assert oriented.info["m-narrow"] == {"direction": "↓", "higher_is_better": False}


def test_ties_share_a_rank_and_are_marked() -> None:
    per_cell = {("ds",): {m: {"x": np.array([1.0, 1.0])} for m in ("a", "b")} | {"c": {"x": np.array([0.0, 0.0])}}}
    ranked = ranking.rank_group("all", per_cell, (ranking.Criterion("x", "x", True, ""),))
    assert [(r.method, r.rank.rank, r.tied) for r in ranked] == [("a", 1, True), ("b", 1, True), ("c", 3, False)]
    row = {"rank": 1, "rank_low": 1, "rank_high": 2, "tied": True, "unstable": True}
    assert leaderboard.html.rank_text(row) == "1= (1–2) ↕"
    assert leaderboard.html.rank_text({"rank": 2, "rank_low": 2, "rank_high": 2}) == "2 (2)"


def test_bradley_terry_follows_significant_wins_and_counts_ties_half() -> None:
    def test(cell: str, better: str, worse: str, significant: bool) -> WilcoxonTest:
        return WilcoxonTest((cell,), better, worse, "d", 10, 1.0, 0.01, 0.01, significant)

    tests = [test(c, "a", "b", True) for c in "xyz"] + [test(c, "b", "a", False) for c in "xyz"]
    tests += [test("x", "b", "c", False), test("x", "c", "b", False)]
    strengths = ranking.bt_strengths(tests)
    assert strengths["a"] > strengths["b"]
    assert ranking.bt_strengths(tests, reverse=True)["a"] < ranking.bt_strengths(tests, reverse=True)["b"]
    assert strengths["b"] == pytest.approx(strengths["c"], abs=0.5)  # b and c only tied


def test_several_seeds_are_resampled_too() -> None:
    rows = [r for r in synthetic_rows() if r["defence"] != "none" and r["defence_preset"] == "p2"]
    rng = np.random.default_rng(0)
    seeded = []
    for seed in range(3):
        for row in rows:
            copy_row = dict(row, seed=seed)
            if row["score_purified_attacked"] is not None:
                copy_row["score_purified_attacked"] = row["score_purified_attacked"] + rng.normal(0, 3.0)
            seeded.append(copy_row)
    one = boards.defence_board(rows, BOUNDS, directions=DIRECTIONS, n_resamples=300)
    three = boards.defence_board(seeded, BOUNDS, directions=DIRECTIONS, n_resamples=300)
    _check_intervals(three)
    for mode in one.groups:
        for a, b in zip(one.groups[mode], three.groups[mode], strict=True):
            assert a.method == b.method
            assert b.n_images == 3 * a.n_images
            assert b.scores["d_defended"].width > a.scores["d_defended"].width  # seed noise widens the interval


def test_csv_json_and_export_of_the_three_boards(tmp_path: Path) -> None:
    written = write_report(synthetic_rows(), None, BOUNDS, tmp_path, ("csv", "json"), directions=DIRECTIONS)
    names = {p.name for p in written["csv"]}
    assert {"leaderboard_defences.csv", "leaderboard_metrics.csv", "leaderboard_attacks.csv"} <= names
    with (tmp_path / "leaderboard_metrics.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {"rank", "rank_low", "rank_high", "unstable", "composite", "bt_strength", "r", "r_low", "r_high"} <= set(
        rows[0]
    )
    assert {r["attacks"] for r in rows} == {"all", "white-box"}
    for name in ("metrics", "attacks"):
        entries = leaderboard.load_entries(tmp_path / f"leaderboard_{name}.json")
        assert entries and all(e["board"] == name and e["schema_version"] == 2 for e in entries)
    defences = json.loads((tmp_path / "leaderboard.json").read_text())
    good = next(e for e in defences if e["method"] == "good")
    assert good["board"] == "defences" and good["ranking"]["non-adaptive"]["rank"] == 1
    bad = copy.deepcopy(leaderboard.load_entries(tmp_path / "leaderboard_attacks.json")[0])
    del bad["ranking"]
    with pytest.raises(leaderboard.EntryValidationError, match="'ranking' is a required property"):
        leaderboard.validate_entry(bad)


def test_the_toy_grid_gets_three_boards(tmp_path: Path, image_folder: Path, toy_plugins: Any) -> None:
    config = parse_config(toy_grid(tmp_path, image_folder))
    _, rows = run_grid(config)
    bounds = {"toy-metric": (0.0, 100.0)}
    report = build_report(rows, None, bounds, directions={"toy-metric": True}, n_resamples=200)
    defences = report.boards["defences"]
    assert {r.method for r in defences.groups["non-adaptive"]} == {"toy-blur", "toy-quantize"}
    metrics = report.boards["metrics"]
    assert [(r.method, r.rank.rank, r.rank.unstable) for r in metrics.groups["all"]] == [("toy-metric", 1, False)]
    attacks = report.boards["attacks"]
    configs = {r.method for ranked in attacks.groups.values() for r in ranked}
    assert configs == {"toy-sign@weak", "toy-sign@strong"}
    for board in report.boards.values():
        _check_intervals(board)


def test_bootstrap_coverage_on_a_known_ranking() -> None:
    """Few draws (fast): the 95% D and Gain intervals cover the truth at 0.85-0.99, composite and rank
    intervals at >= 0.9.

    docs/uncertainty-coverage.json holds the full measurement (tools/stats/bootstrap_coverage.py).
    """
    result = measure(40, n_images=50, n_resamples=300, seed=1)
    assert result["intervals"] == 40 * 5
    assert 0.85 <= result["coverage_d"] <= 0.99
    assert 0.85 <= result["coverage_gain"] <= 0.99
    assert result["coverage_composite"] >= 0.9
    assert result["coverage_rank"] >= 0.9
    assert 0 < result["share_unstable"] < 1  # the close pair and the tie flip, the clear gap does not


def test_resampled_spearman_from_counts_equals_ranking_each_resample() -> None:
    """The fast path (ranks from draw counts) matches ranking every expanded resample, ties and NaN included."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 6, 40).astype(float)  # many ties
    s = rng.normal(size=40)
    s[[3, 4, 9]] = s[0]
    y[7] = np.nan
    index = rng.integers(0, 40, size=(200, 40))
    fast = ranking._weighted_spearman(y, s, ranking._counts(index))
    slow = ranking._spearman(y[index], s[index])
    np.testing.assert_allclose(fast, slow, atol=1e-12)
    assert np.isfinite(fast).all()


def test_attacks_at_equal_budgets_interpolate_between_presets() -> None:
    rows = synthetic_rows()
    for row in rows:
        if row["defence"] == "none" and row["attack_preset"] == "weak":
            row["psnr"] = row["psnr"] + 10.0  # weak: mean PSNR 39.75 dB, strong: 29.75 dB
    attacks = boards.attack_board(rows, BOUNDS, directions=DIRECTIONS, n_resamples=200)
    matched = boards.matched_attack_board(attacks, attacks.replicates)
    assert set(matched.groups) == {"PSNR = 35 dB", "PSNR = 30 dB"}  # 40 and 25 dB are outside the presets
    config = {r.method: r for ranked in attacks.groups.values() for r in ranked}
    for r in matched.groups["PSNR = 35 dB"]:
        weak, strong = config[f"{r.method}@weak"], config[f"{r.method}@strong"]
        share = (35.0 - strong.scores["psnr"].estimate) / (
            weak.scores["psnr"].estimate - strong.scores["psnr"].estimate
        )
        for key in ("gain", "d"):
            expected = strong.scores[key].estimate + share * (weak.scores[key].estimate - strong.scores[key].estimate)
            assert r.scores[key].estimate == pytest.approx(expected, rel=1e-9)
        assert r.n_cells == 2 and r.n_images == weak.n_images + strong.n_images
    _check_intervals(matched)
    ranked = matched.groups["PSNR = 30 dB"]
    assert ranked[0].scores["gain"].estimate >= ranked[-1].scores["gain"].estimate


def test_cli_report_takes_the_number_of_resamples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from iqa_bench.cli import main
    from iqa_bench.store import ResultStore

    with ResultStore(tmp_path / "run.sqlite") as store:
        for metric, (lower, upper) in BOUNDS.items():
            store.set_bounds(metric, lower, upper, True)
        store.write_unit("unit", synthetic_rows(), [])
    assert main(["report", str(tmp_path / "run.sqlite"), "--out", str(tmp_path / "out"), "--resamples", "20"]) == 0
    board = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "(20 resamples" in board and "(1000 resamples" not in board
    with pytest.raises(SystemExit, match="--resamples must be at least 1"):
        main(["report", str(tmp_path / "run.sqlite"), "--out", str(tmp_path / "out"), "--resamples", "0"])
