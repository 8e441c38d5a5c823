"""Wilcoxon / Bonferroni / win rates against scipy directly; preset selection; Pareto; Kruskal-Wallis."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _synthetic import BOUNDS, synthetic_rows
from scipy import stats as scipy_stats

from iqa_bench import aggregate, stats


def _selected_rows() -> list[dict]:
    rows = synthetic_rows()
    summaries = aggregate.summarise(rows, BOUNDS)
    for mode in ("non-adaptive", "adaptive"):
        rows = list(stats.apply_presets(rows, stats.select_presets(summaries, mode=mode), mode=mode))
    return rows


def test_preset_selection_picks_best_srocc_adv() -> None:
    summaries = aggregate.summarise(synthetic_rows(), BOUNDS)
    selection = stats.select_presets(summaries)
    assert selection == {"bad": "p2", "good": "p2", "none": "none"}
    worst = stats.select_presets([{**s, "srocc_adv": -s["srocc_adv"]} for s in summaries])
    assert worst["good"] == "p1"
    by_d = stats.select_presets(summaries, "d_defended")  # lower is better
    assert by_d["good"] == "p2"
    kept = stats.apply_presets(summaries, selection)
    assert {s["defence_preset"] for s in kept if s["mode"] == "non-adaptive" and s["defence"] == "good"} == {"p2"}
    assert {s["defence_preset"] for s in kept if s["mode"] == "adaptive" and s["defence"] == "good"} == {"p1", "p2"}


def test_wilcoxon_matches_scipy_and_bonferroni() -> None:
    rows = _selected_rows()
    tests = stats.wilcoxon_tests(rows, BOUNDS, "d_defended")
    cells = {t.cell for t in tests}
    assert len(cells) == 1 * 2 * 2 * 2 * 2  # dataset x metric x attack x attack preset x mode
    assert len(tests) == len(cells) * 3 * 2  # ordered pairs of 3 defences
    m = len(tests)
    test = next(
        t
        for t in tests
        if t.cell == ("koniq", "m-wide", "fgsm", "weak", "non-adaptive") and (t.better, t.worse) == ("good", "bad")
    )
    assert test.n_pairs == 19  # img-00 failed for "good" in that cell

    def values(defence: str) -> dict[str, float]:
        out = {}
        for r in rows:
            if (r["metric"], r["attack"], r["attack_preset"], r["mode"], r["defence"]) == (
                "m-wide",
                "fgsm",
                "weak",
                "non-adaptive",
                defence,
            ) and r["status"] == "done":
                out[r["image"]] = 100 * abs(r["score_purified_attacked"] - r["score_purified_clean"]) / 100
        return out

    good, bad = values("good"), values("bad")
    shared = sorted(set(good) & set(bad))
    expected = scipy_stats.wilcoxon([good[i] for i in shared], [bad[i] for i in shared], alternative="less")
    assert test.statistic == pytest.approx(expected.statistic)
    assert test.p_value == pytest.approx(expected.pvalue)
    assert test.p_adjusted == pytest.approx(min(1.0, expected.pvalue * m))
    assert test.significant == (min(1.0, expected.pvalue * m) < 0.05)
    assert test.significant  # the good defence is better on every image

    reverse = next(t for t in tests if t.cell == test.cell and (t.better, t.worse) == ("bad", "good"))
    assert not reverse.significant
    fixed = stats.wilcoxon_tests(rows, BOUNDS, "d_defended", family_size=10_000)
    assert all(t.p_adjusted == pytest.approx(min(1.0, t.p_value * 10_000)) for t in fixed)


def test_win_rate_matrix() -> None:
    tests = stats.wilcoxon_tests(_selected_rows(), BOUNDS, "d_defended")
    matrix = stats.win_rates(tests)
    assert matrix.methods == ["bad", "good", "none"]
    assert matrix.rates["good"]["bad"] == 100.0
    assert matrix.rates["good"]["none"] == 100.0
    assert matrix.rates["bad"]["good"] == 0.0
    assert matrix.rates["none"]["good"] == 0.0
    assert math.isnan(matrix.rates["good"]["good"])
    assert matrix.counts["good"]["bad"] == 16
    expected = 100 * sum(t.significant for t in tests if (t.better, t.worse) == ("bad", "none")) / 16
    assert matrix.rates["bad"]["none"] == pytest.approx(expected)
    rows = matrix.rows()
    assert rows[1]["defence"] == "good" and rows[1]["bad"] == 100.0


def test_higher_is_better_values_test_greater() -> None:
    rows = _selected_rows()
    tests = stats.wilcoxon_tests(rows, BOUNDS, "psnr")
    # psnr: good (residual 0.1) > bad (0.8) > none (1.0) on every image
    one = next(t for t in tests if (t.better, t.worse) == ("good", "bad"))
    assert one.significant
    a = np.array([30 + i * 0.5 - 0.5 for i in range(1, 20)])
    b = np.array([30 + i * 0.5 - 4.0 for i in range(1, 20)])
    _, p = stats.one_sided_wilcoxon(a, b, higher_is_better=True)
    assert p == pytest.approx(scipy_stats.wilcoxon(a, b, alternative="greater").pvalue)


def test_identical_samples_and_duplicate_presets() -> None:
    assert stats.one_sided_wilcoxon([1.0, 2.0], [1.0, 2.0], higher_is_better=False) == (
        pytest.approx(math.nan, nan_ok=True),
        1.0,
    )
    with pytest.raises(ValueError, match="several rows for image"):
        stats.wilcoxon_tests(synthetic_rows(), BOUNDS)
    with pytest.raises(ValueError, match="unknown paired value"):
        stats.paired_values(synthetic_rows(), BOUNDS, "nope")
    tests = stats.wilcoxon_tests(synthetic_rows(), BOUNDS, method_by=("defence", "defence_preset"))
    assert {t.better for t in tests} == {"none@none", "good@p1", "good@p2", "bad@p1", "bad@p2"}


def test_pareto_front() -> None:
    points = [(1.0, 1.0), (2.0, 2.0), (0.5, 3.0), (2.0, 1.0), (float("nan"), 5.0)]
    assert stats.pareto_front(points) == [2, 1]  # maximise both
    assert stats.pareto_front(points, maximize=(False, True)) == [2]
    assert stats.pareto_front(points, maximize=(False, False)) == [2, 0]
    summaries = aggregate.summarise(synthetic_rows(), BOUNDS)
    front = stats.pareto_points(summaries, "d", "srocc_adv")
    optimal = {(p["defence"], p["defence_preset"]) for p in front if p["pareto"]}
    assert ("good", "p2") in optimal  # lowest D and highest SROCC_adv: dominates everything
    assert optimal == {("good", "p2")}
    gain_quality = stats.pareto_points(summaries, "gain", "quality")
    assert {(p["defence"], p["defence_preset"]) for p in gain_quality if p["pareto"]} == {("good", "p2")}


def test_kruskal_sampling_validity() -> None:
    rng = np.random.default_rng(0)
    full = rng.normal(size=(500, 3))
    sample = full[rng.choice(500, 50, replace=False)]
    report = stats.sampling_validity(sample, full, names=["si", "cf", "mos"])
    for j, entry in enumerate(report):
        expected = scipy_stats.kruskal(sample[:, j], full[:, j])
        assert entry["p_value"] == pytest.approx(expected.pvalue)
        assert entry["statistic"] == pytest.approx(expected.statistic)
        assert entry["mean_full"] == pytest.approx(full[:, j].mean())
    shifted = stats.sampling_validity(sample[:, 0] + 3, full[:, 0])
    assert shifted[0]["feature"] == "feature_0" and not shifted[0]["valid"]
    with pytest.raises(ValueError, match="features"):
        stats.sampling_validity(sample, full[:, :2])
    samples = [full[rng.choice(500, 50, replace=False), 0] for _ in range(10)]
    across = stats.kruskal_across_samples(samples)
    assert across["p_value"] == pytest.approx(scipy_stats.kruskal(*samples).pvalue)
    assert across["variance_of_means"] == pytest.approx(np.var([s.mean() for s in samples]))


def test_preset_selection_with_a_lower_is_better_metric() -> None:
    """Defect: raw-score SROCC_adv of a lower-is-better metric is negated, so the worst preset won."""
    rows = [dict(r, metric="m-low") for r in synthetic_rows(failed=False) if r["metric"] == "m-narrow"]
    for row in rows:
        for column in ("score_clean", "score_attacked", "score_purified_clean", "score_purified_attacked"):
            if row.get(column) is not None:
                row[column] = -row[column]
    summaries = aggregate.summarise(rows, {"m-low": (-5.0, 5.0)}, directions={"m-low": False})
    assert stats.select_presets(summaries) == {"bad": "p2", "good": "p2", "none": "none"}


def test_paired_gain_leaves_a_zero_clean_score_out() -> None:
    rows = [r for r in _selected_rows() if r["metric"] == "m-narrow" and r["attack"] != "none"]
    rows[0] = dict(rows[0], score_clean=0.0)
    table = stats.paired_values(rows, BOUNDS, "gain")
    values = [v for methods in table.values() for images in methods.values() for v in images.values()]
    assert values and all(math.isfinite(v) for v in values)
    cell = aggregate.experiment_key(rows[0], stats.CELL_KEY)
    assert rows[0]["image"] not in table[cell][rows[0]["defence"]]
    assert rows[1]["image"] in table[aggregate.experiment_key(rows[1], stats.CELL_KEY)][rows[1]["defence"]]
