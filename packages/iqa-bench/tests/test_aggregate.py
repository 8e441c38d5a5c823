"""Per-experiment summaries and roll-ups against hand computation on synthetic rows with known effects.

``synthetic_rows`` (in ``_synthetic.py``) is shared with the other report tests.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from _synthetic import ATTACKS, BOUNDS, DEFENCES, METRICS, MODES, synthetic_rows
from scipy import stats

from iqa_bench import aggregate


def _experiment(rows: list[dict[str, Any]], **key: str) -> list[dict[str, Any]]:
    return [r for r in rows if all(r[k] == v for k, v in key.items()) and r["status"] == "done"]


def _summary(summaries: list[dict[str, Any]], **key: str) -> dict[str, Any]:
    found = [s for s in summaries if all(s[k] == v for k, v in key.items())]
    assert len(found) == 1, key
    return found[0]


KEY = {
    "metric": "m-narrow",
    "attack": "advcf",
    "attack_preset": "strong",
    "defence": "good",
    "defence_preset": "p1",
    "mode": "adaptive",
}


def test_one_experiment_matches_hand_computation() -> None:
    rows = synthetic_rows()
    summaries = aggregate.summarise(rows, BOUNDS)
    s = _summary(summaries, **KEY)
    group = _experiment(rows, **KEY)
    c = np.array([r["score_clean"] for r in group])
    pc = np.array([r["score_purified_clean"] for r in group])
    pa = np.array([r["score_purified_attacked"] for r in group])
    a = np.array([r["score_attacked"] for r in group])
    mos = np.array([r["mos"] for r in group])
    diam = 10.0
    assert s["n_images"] == 20 and s["n_failed"] == 0
    assert s["d"] == pytest.approx(100 * np.mean(np.abs(pa - c)) / diam)
    assert s["d_defended"] == pytest.approx(100 * np.mean(np.abs(pa - pc)) / diam)
    b1, b2 = c.max(), c.min()
    assert s["r"] == pytest.approx(np.mean(np.log10(np.maximum(b1 - c, c - b2) / (np.abs(c - pa) + 1e-6 * (b1 - b2)))))
    assert s["r_defended"] == pytest.approx(
        np.mean(np.log10(np.maximum(b1 - pc, pc - b2) / (np.abs(pc - pa) + 1e-6 * (b1 - b2))))
    )
    assert s["srocc_clean"] == pytest.approx(stats.spearmanr(mos, pc).statistic)
    assert s["srocc_adv"] == pytest.approx(stats.spearmanr(mos, pa).statistic)
    assert s["plcc_adv"] == pytest.approx(stats.pearsonr(mos, pa).statistic)
    assert s["krocc_adv"] == pytest.approx(stats.kendalltau(mos, pa).statistic)
    slope, intercept = np.polyfit(pa, mos, 1)
    assert s["rmse_adv"] == pytest.approx(np.sqrt(np.mean((mos - (slope * pa + intercept)) ** 2)))
    assert s["gain"] == pytest.approx(np.mean(np.abs(c - pa) / np.abs(c)))
    assert s["gain_attack"] == pytest.approx(np.mean(np.abs(c - a) / np.abs(c)))
    psnr = np.array([r["psnr"] for r in group])
    ssim = np.array([r["ssim"] for r in group])
    assert s["psnr"] == pytest.approx(psnr.mean())
    assert s["quality"] == pytest.approx(psnr.mean() / 100 + ssim.mean() / 2)
    assert s["mse"] == pytest.approx(np.mean([r["mse"] for r in group]))
    assert s["linf"] == pytest.approx(np.mean([r["linf"] for r in group]))
    assert s["seconds_per_image"] == pytest.approx(0.5 + 0.1 + 0.05)


def test_known_effects_order_defences() -> None:
    summaries = aggregate.summarise(synthetic_rows(), BOUNDS)
    key = {"metric": "m-wide", "attack": "fgsm", "attack_preset": "strong", "mode": "non-adaptive"}
    none = _summary(summaries, defence="none", **key)
    good = _summary(summaries, defence="good", defence_preset="p2", **key)
    bad = _summary(summaries, defence="bad", defence_preset="p2", **key)
    noisy = _summary(summaries, defence="good", defence_preset="p1", **key)
    assert good["d_defended"] < bad["d_defended"] < none["d_defended"]
    assert good["r"] > max(bad["r"], none["r"])
    assert good["r_defended"] > bad["r_defended"] > none["r_defended"]
    assert good["srocc_adv"] > noisy["srocc_adv"]
    # undefended: P is the identity, so D = D^(D) = the attack's mean shift (about 25% of the range)
    assert none["d"] == pytest.approx(none["d_defended"])
    assert 20 < none["d"] < 30
    assert none["gain"] == pytest.approx(none["gain_attack"])


def test_failed_rows_are_skipped_and_counted() -> None:
    rows = synthetic_rows()
    summaries = aggregate.summarise(rows, BOUNDS)
    key = {
        "metric": "m-wide",
        "attack": "fgsm",
        "attack_preset": "weak",
        "defence": "good",
        "defence_preset": "p2",
        "mode": "non-adaptive",
    }
    s = _summary(summaries, **key)
    assert (s["n_images"], s["n_failed"]) == (19, 1)
    group = _experiment(rows, **key)
    c = np.array([r["score_clean"] for r in group])
    pa = np.array([r["score_purified_attacked"] for r in group])
    assert s["d"] == pytest.approx(100 * np.mean(np.abs(pa - c)) / 100)


def test_done_row_with_nan_score_counts_as_failed_and_all_failed_gives_nan() -> None:
    rows = [r for r in synthetic_rows(failed=False) if r["metric"] == "m-wide" and r["defence"] == "bad"]
    rows[0]["score_purified_attacked"] = float("nan")
    summaries = aggregate.summarise(rows, BOUNDS)
    assert sum(s["n_failed"] for s in summaries) == 1
    for row in rows:
        row["status"] = "failed"
    broken = aggregate.summarise(rows, BOUNDS)
    assert all(s["n_images"] == 0 and math.isnan(s["d"]) for s in broken)


def test_clean_only_rows_use_x_prime_equals_x() -> None:
    rows = synthetic_rows()
    summaries = aggregate.summarise(rows, BOUNDS)
    s = _summary(summaries, metric="m-wide", attack="none", defence="bad", defence_preset="p2")
    group = _experiment(rows, metric="m-wide", attack="none", defence="bad", defence_preset="p2")
    c = np.array([r["score_clean"] for r in group])
    pc = np.array([r["score_purified_clean"] for r in group])
    assert s["d"] == pytest.approx(100 * np.mean(np.abs(pc - c)) / 100)  # the defence's own shift: 5%
    assert s["d"] == pytest.approx(5.0)
    assert s["d_defended"] == 0
    assert s["srocc_adv"] == pytest.approx(s["srocc_clean"])


def test_missing_bounds_and_bad_bounds_raise_clearly() -> None:
    rows = synthetic_rows()
    with pytest.raises(KeyError, match="no bounds for metric 'm-narrow'"):
        aggregate.summarise(rows, {"m-wide": (0, 100)})
    with pytest.raises(ValueError, match="lower < upper"):
        aggregate.summarise(rows, {"m-wide": (1, 1), "m-narrow": (0, 1)})


def test_rollups_average_summaries() -> None:
    summaries = aggregate.summarise(synthetic_rows(), BOUNDS)
    attacked = [s for s in summaries if s["attack"] != "none"]
    table = aggregate.by_defence(summaries)
    assert {(r["defence"], r["mode"]) for r in table} == {(d, m) for d in DEFENCES for m in MODES}
    row = next(r for r in table if (r["defence"], r["mode"]) == ("bad", "adaptive"))
    chosen = [s for s in attacked if (s["defence"], s["mode"]) == ("bad", "adaptive")]
    assert row["n_experiments"] == len(chosen) == 2 * 2 * 2 * 2
    assert row["d"] == pytest.approx(np.mean([s["d"] for s in chosen]))
    assert row["d_std"] == pytest.approx(np.std([s["d"] for s in chosen]))
    assert row["n_images"] == 20 * len(chosen)

    per_metric = aggregate.by_metric(summaries)
    assert {r["metric"] for r in per_metric} == set(METRICS)
    per_attack = aggregate.by_attack(summaries)
    assert {r["attack"] for r in per_attack} == set(ATTACKS)  # clean-only rows are left out
    per_type = aggregate.by_attack(summaries, {"fgsm": "restricted", "advcf": "unrestricted"})
    assert {r["attack_type"] for r in per_type} == {"restricted", "unrestricted"}
    strength = aggregate.by_attack_strength(summaries)
    weak = next(r for r in strength if (r["attack_preset"], r["defence"], r["mode"]) == ("weak", "none", "adaptive"))
    strong = next(
        r for r in strength if (r["attack_preset"], r["defence"], r["mode"]) == ("strong", "none", "adaptive")
    )
    assert weak["d"] < strong["d"]
    assert {r["dataset"] for r in aggregate.by_dataset(summaries)} == {"koniq"}
    with_clean = aggregate.rollup(summaries, ("attack",), include_clean=True)
    assert "none" in {r["attack"] for r in with_clean}


def test_defence_types_default_and_custom() -> None:
    summaries = aggregate.summarise(synthetic_rows(), BOUNDS)
    default = aggregate.by_defence_type(summaries)
    assert {r["defence_type"] for r in default} == {"none", "other"}
    custom = aggregate.by_defence_type(summaries, {"good": "neural", "bad": "classic"})
    assert {r["defence_type"] for r in custom} == {"none", "neural", "classic"}
    assert aggregate.DEFAULT_DEFENCE_TYPES["jpeg"] == "classic"
    assert aggregate.DEFAULT_DEFENCE_TYPES["disco"] == "neural"
    assert aggregate.DEFAULT_DEFENCE_TYPES["diffpure"] == "diffusion"
    with pytest.raises(KeyError, match="with_types"):
        aggregate.rollup(summaries, ("defence_type",))


def _certificate(image: int, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "dataset": "koniq",
        "image": f"img-{image}",
        "metric": "m-wide",
        "certifier": "rs",
        "certifier_preset": "default",
        "status": "done",
        "seconds": 2.0,
        "mos": float(image),
    }
    row.update(values)
    return row


def test_certified_summaries() -> None:
    classification = [
        _certificate(0, abstained=0, radius=0.2, score=10.0),
        _certificate(1, abstained=0, radius=0.4, score=20.0),
        _certificate(2, abstained=1, radius=None, score=None),
        _certificate(3, abstained=0, radius=0.3, score=15.0, seconds=4.0),
        _certificate(4, status="failed", error="boom"),
    ]
    regression = [
        _certificate(i, certifier="ms", abstained=0, delta=2.0 * (i + 1), relative_delta=None, score=float(i))
        for i in range(3)
    ] + [_certificate(3, certifier="ms", abstained=0, delta=None, relative_delta=0.5, score=3.0)]
    table = aggregate.summarise_certificates(classification + regression, BOUNDS)
    rs = next(s for s in table if s["certifier"] == "rs")
    assert rs["kind"] == "classification"
    assert rs["cert_r"] == pytest.approx((0.2 + 0.4 + 0 + 0.3) / 4)
    assert rs["abstention"] == pytest.approx(25.0)
    assert math.isnan(rs["cert_rd"])
    assert rs["srocc"] == pytest.approx(stats.spearmanr([0, 1, 3], [10, 20, 15]).statistic)
    assert rs["seconds_per_image"] == pytest.approx((2 + 2 + 2 + 4) / 4)
    assert (rs["n_images"], rs["n_failed"]) == (4, 1)
    ms = next(s for s in table if s["certifier"] == "ms")
    assert ms["kind"] == "regression" and math.isnan(ms["cert_r"])
    assert ms["cert_rd"] == pytest.approx(np.mean([2 / 100, 4 / 100, 6 / 100, 0.5]))
    assert ms["srocc"] == pytest.approx(1.0)
    per_certifier = aggregate.by_certifier(table)
    assert [r["certifier"] for r in per_certifier] == ["ms", "rs"]


def _lower_is_better(rows: list[dict[str, Any]], metric: str = "m-narrow") -> list[dict[str, Any]]:
    """The rows of ``metric`` re-expressed by a lower-is-better metric ``metric-low`` (scores negated)."""
    out = []
    for row in rows:
        if row["metric"] != metric:
            continue
        copy = dict(row, metric=f"{metric}-low")
        for column in ("score_clean", "score_attacked", "score_purified_clean", "score_purified_attacked"):
            if copy.get(column) is not None:
                copy[column] = -copy[column]
        out.append(copy)
    return out


def test_correlations_of_a_lower_is_better_metric_are_oriented() -> None:
    """Defect: SROCC/PLCC/KROCC were computed on raw scores, so a lower-is-better metric got them negated."""
    rows = synthetic_rows(failed=False)
    low = _lower_is_better(rows)
    lower, upper = BOUNDS["m-narrow"]
    bounds = {**BOUNDS, "m-narrow-low": (-upper, -lower)}
    original = {aggregate.experiment_key(s): s for s in aggregate.summarise(rows, BOUNDS) if s["metric"] == "m-narrow"}
    negated = aggregate.summarise(low, bounds, directions={"m-narrow-low": False})
    assert negated
    for s in negated:
        o = original[aggregate.experiment_key({**s, "metric": "m-narrow"})]
        for name in ("srocc_clean", "srocc_adv", "plcc_clean", "plcc_adv", "krocc_clean", "krocc_adv"):
            assert s[name] == pytest.approx(o[name], abs=1e-12), name
        for name in ("d", "d_defended", "r", "r_defended", "rmse_adv"):
            assert s[name] == pytest.approx(o[name], rel=1e-9), name
    assert min(s["srocc_clean"] for s in negated) > 0.9
    # bounds carrying the direction, as the store's metrics table holds them, work too
    as_store = {**BOUNDS, "m-narrow-low": (-upper, -lower, 0)}
    assert aggregate.summarise(low, as_store)[0]["srocc_clean"] == pytest.approx(negated[0]["srocc_clean"])


def test_gain_with_a_zero_clean_score_is_left_out_and_counted() -> None:
    """Defect: f(x) = 0 made Gain 1.5e307 (finite, kept in roll-ups) here and inf in the Wilcoxon values."""
    rows = [r for r in synthetic_rows(failed=False) if r["metric"] == "m-narrow" and r["attack"] == "fgsm"]
    key = rows[0]
    group = [r for r in rows if aggregate.experiment_key(r) == aggregate.experiment_key(key)]
    zero = dict(group[0], score_clean=0.0)
    changed = [zero if r is group[0] else r for r in rows]
    summary = next(
        s for s in aggregate.summarise(changed, BOUNDS) if aggregate.experiment_key(s) == aggregate.experiment_key(key)
    )
    rest = group[1:]
    expected = np.mean(
        [
            abs(r["score_clean"] - (r.get("score_purified_attacked") or r["score_attacked"])) / abs(r["score_clean"])
            for r in rest
        ]
    )
    assert summary["gain"] == pytest.approx(expected)
    assert summary["gain"] < 10
    assert summary["n_gain_undefined"] == 1
    table = aggregate.rollup([summary], ("defence",))
    assert table[0]["gain"] == pytest.approx(expected) and table[0]["n_gain_undefined"] == 1


def test_median_smoothing_rows_are_regression_certificates_without_cert_r() -> None:
    """Defect: MS rows as the runner stores them (radius 0.0) were reported as classification with Cert.R 0."""
    rows = [
        _certificate(i, certifier="ms", abstained=0, radius=0.0, score=float(i), delta=1.0, relative_delta=0.01)
        for i in range(3)
    ]
    rows.append(
        _certificate(3, certifier="ms", abstained=1, radius=0.0, score=3.0, delta=math.inf, relative_delta=math.inf)
    )
    (ms,) = aggregate.summarise_certificates(rows, BOUNDS)
    assert ms["kind"] == "regression"
    assert math.isnan(ms["cert_r"])
    assert ms["cert_rd"] == pytest.approx(0.01)
    assert ms["abstention"] == pytest.approx(25.0)
    (per_certifier,) = aggregate.by_certifier([ms])
    assert per_certifier["kind"] == "regression" and math.isnan(per_certifier["cert_r"])
    declared = [dict(r, kind="regression", delta=None, relative_delta=None) for r in rows[:2]]
    assert aggregate.summarise_certificates(declared, BOUNDS)[0]["kind"] == "regression"


def test_certified_srocc_is_the_shared_definition() -> None:
    """Defect: with abstentions this SROCC differed from iqa_certify.summary's (1.00 vs -0.43)."""
    from iqa_core import scoring

    mos = [1.0, 2.0, 3.0, 4.0, 5.0]
    scores = [10.0, 20.0, None, 40.0, 50.0]
    abstained = [0, 0, 1, 0, 0]
    rows = [
        _certificate(i, abstained=a, radius=None if a else 0.1, score=s, mos=m, prediction=None if a else i)
        for i, (m, s, a) in enumerate(zip(mos, scores, abstained, strict=True))
    ]
    (rs,) = aggregate.summarise_certificates(rows, BOUNDS)
    expected = scoring.certified_srocc(
        mos, [math.nan if s is None else s for s in scores], abstained, higher_is_better=True
    )
    assert rs["srocc"] == pytest.approx(expected) == pytest.approx(1.0)
    (low,) = aggregate.summarise_certificates(
        [dict(r, metric="m-low") for r in rows], {"m-low": (0.0, 100.0)}, directions={"m-low": False}
    )
    assert low["srocc"] == pytest.approx(-1.0)
