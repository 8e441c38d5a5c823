"""Parity of the score functions with the benchmark's own score code (golden: goldens/scores.json).

Generator: ``tools/parity/scores.py`` runs adversarial-defenses-for-iqa's
``defence_scoring_methods.py`` and MSU_Metrics_Robustness_Benchmark's ``score_methods.py`` on seeded
synthetic score arrays. Compared here, both through :mod:`iqa_bench.scores` and through
:func:`iqa_bench.aggregate.summarise` on result rows built from the same arrays:

* D, D^(D) = 100 x the reference's absolute gains (``metric_range = diam``): rtol 1e-12;
* SROCC_clear / SROCC_adv: abs 1e-12 (higher-is-better metric); a lower-is-better metric gets the
  negated value (deliberate: the reference correlates raw scores);
* R: per image and mean, rtol 1e-12 (``robustness_score``, scaler fitted on the case's clean values);
  R^(D) against ``robustness_score`` with the scaler fitted on f(x) (no reference code for R^(D));
* Gain / Gain of the unpurified attack: rtol 1e-5 (the reference divides by ``f(x) + 1e-6``, the
  project by ``|f(x)|``); at ``f(x) = 0`` the reference returns ``|change| * 1e6`` per image (a mean
  of ~1e4 here), the project leaves those images out and counts them (deliberate, issue 13 defect 9).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from iqa_bench import aggregate, scores
from iqa_core.testing.parity import assert_matches_golden, load_golden

GOLDEN = load_golden(Path(__file__).parent / "goldens" / "scores.json")
CASES = [case["name"] for case in GOLDEN["cases"]]


def _case(name: str) -> tuple[dict[str, np.ndarray], dict[str, Any], float]:
    case = GOLDEN.case(name)
    arrays = {
        k: np.asarray(case[k], dtype=np.float64)
        for k in ("mos", "clean", "attacked", "defended_clean", "defended_attacked")
    }
    return arrays, case["reference"], float(case["diam"])


def _rows(a: dict[str, np.ndarray], metric: str, sign: float = 1.0) -> list[dict[str, Any]]:
    return [
        {
            "dataset": "synthetic",
            "image": f"img-{i:03d}",
            "metric": metric,
            "attack": "atk",
            "attack_preset": "p",
            "defence": "def",
            "defence_preset": "q",
            "mode": "non-adaptive",
            "mos": float(a["mos"][i]),
            "score_clean": sign * float(a["clean"][i]),
            "score_attacked": sign * float(a["attacked"][i]),
            "score_purified_clean": sign * float(a["defended_clean"][i]),
            "score_purified_attacked": sign * float(a["defended_attacked"][i]),
            "status": "done",
        }
        for i in range(a["clean"].size)
    ]


@pytest.mark.parametrize("name", CASES)
def test_d_scores_and_srocc_match_the_benchmark(name: str) -> None:
    a, ref, diam = _case(name)
    what = f"{name} vs {GOLDEN.origin}"
    assert_matches_golden(
        scores.d_score(a["clean"], a["defended_attacked"], diam),
        100 * ref["robust_abs_gain"],
        rtol=1e-12,
        atol=0,
        what=f"D {what}",
    )
    assert_matches_golden(
        scores.d_score_defended(a["defended_clean"], a["defended_attacked"], diam),
        100 * ref["both_defended_abs_gain"],
        rtol=1e-12,
        atol=0,
        what=f"D^(D) {what}",
    )
    for ours, theirs in (
        ("defended_clean", "robust_clear_srocc_mos"),
        ("defended_attacked", "robust_attacked_srocc_mos"),
    ):
        value = scores.srocc(a["mos"], a[ours], higher_is_better=True)
        assert_matches_golden(value, ref[theirs], rtol=0, atol=1e-12, what=f"SROCC {ours} {what}")
        negated = scores.srocc(a["mos"], -a[ours], higher_is_better=False)
        assert_matches_golden(negated, ref[theirs], rtol=0, atol=1e-12, what=f"oriented SROCC {ours} {what}")


@pytest.mark.parametrize("name", CASES)
def test_r_score_matches_robustness_score(name: str) -> None:
    a, ref, diam = _case(name)
    beta = scores.beta_of(a["clean"])
    per_image = [
        scores.r_score([c], [p], beta=beta, diam=diam) for c, p in zip(a["clean"], a["defended_attacked"], strict=True)
    ]
    assert_matches_golden(
        np.array(per_image), ref["robustness_score"], rtol=1e-12, atol=1e-12, what=f"R per image {name}"
    )
    r = scores.r_score(a["clean"], a["defended_attacked"], beta=beta, diam=diam)
    assert_matches_golden(r, ref["robustness_score_mean"], rtol=1e-12, atol=0, what=f"R {name}")
    rd = scores.r_score_defended(a["defended_clean"], a["defended_attacked"], beta=beta, diam=diam)
    assert_matches_golden(
        rd, ref["robustness_score_defended_clean_scaler_mean"], rtol=1e-12, atol=0, what=f"R^(D) {name}"
    )


@pytest.mark.parametrize("name", CASES)
def test_gain_matches_the_relative_gain_where_defined(name: str) -> None:
    a, ref, _ = _case(name)
    defined = a["clean"] != 0
    ours = scores.gain_details(a["clean"], a["defended_attacked"])
    assert ours.n_undefined == int((~defined).sum())
    if defined.all():
        assert_matches_golden(ours.value, ref["robust_rel_gain"], rtol=1e-5, atol=0, what=f"Gain {name}")
        attack = scores.gain(a["clean"], a["attacked"])
        assert_matches_golden(attack, ref["nonpurified_rel_gain"], rtol=1e-5, atol=0, what=f"Gain (attack) {name}")
    else:
        assert ref["robust_rel_gain"] > 1e3  # the reference's |change| / 1e-6 at f(x) = 0
    classic = np.asarray(ref["relative_gain_classic"])  # signed (f(P(x')) - f(x)) / (f(x) + 1e-6)
    expected = float(np.mean(np.abs(classic[defined])))
    assert_matches_golden(ours.value, expected, rtol=1e-5, atol=0, what=f"Gain vs |relative_gain_classic| {name}")


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("higher_is_better", [True, False])
def test_the_aggregate_path_gives_the_same_numbers(name: str, higher_is_better: bool) -> None:
    a, ref, diam = _case(name)
    sign = 1.0 if higher_is_better else -1.0
    bounds = {"m": (0.0, diam) if higher_is_better else (-diam, 0.0)}
    (s,) = aggregate.summarise(_rows(a, "m", sign), bounds, directions={"m": higher_is_better})
    assert s["d"] == pytest.approx(100 * ref["robust_abs_gain"], rel=1e-12)
    assert s["d_defended"] == pytest.approx(100 * ref["both_defended_abs_gain"], rel=1e-12)
    assert s["srocc_clean"] == pytest.approx(ref["robust_clear_srocc_mos"], abs=1e-12)
    assert s["srocc_adv"] == pytest.approx(ref["robust_attacked_srocc_mos"], abs=1e-12)
    assert s["r"] == pytest.approx(ref["robustness_score_mean"], rel=1e-12)
    if higher_is_better:
        assert s["r_defended"] == pytest.approx(ref["robustness_score_defended_clean_scaler_mean"], rel=1e-12)
    defined = a["clean"] != 0
    assert s["n_gain_undefined"] == int((~defined).sum())
    assert math.isfinite(s["gain"]) and s["gain"] < 10
