"""Coverage of the leaderboards' bootstrap intervals on synthetic data with a known ranking.

Generating model (one cell, ``n`` images, metric range 100, so D is in score units):

* clean scores ``f(x_i) ~ U(20, 60)``, MOS increasing in ``f(x_i)``;
* method ``m`` (a defence) leaves ``f(P(x'_i)) - f(x_i) = shift_m + a_i + e_mi`` with an image
  effect ``a_i ~ U(-3, 3)`` shared by every method (the pairing the bootstrap keeps) and noise
  ``e_mi ~ U(-2, 2)``; the change is always positive, so the true D of ``m`` is ``shift_m``;
* the true Gain of ``m`` is ``shift_m * E[1 / f(x)] = shift_m * ln(3) / 40`` (change and clean
  score independent);
* the true ranking is the competition ranking of the shifts (lower is better; equal shifts are a
  true tie sharing a rank), on D and on Gain alike, so the true composite of the two (the mean of
  the per-score ranks) is the true rank.

Each draw builds result rows, runs the real path of the boards (:func:`.ranking.collect`,
:func:`.ranking.cell_scores`, :func:`.ranking.rank_group` with D and Gain as the composite's
scores) and checks whether each method's 95 % intervals of D, Gain and the composite hold their true
values and whether its rank interval holds its true rank.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..uncertainty import competition_ranks
from .ranking import Criterion, cell_scores, collect, rank_group

SHIFTS: tuple[float, ...] = (10.0, 10.5, 12.0, 15.0, 15.0)
"""True D of the synthetic methods: a close pair, a clear gap, and a true tie."""

CRITERIA = (
    Criterion("d", "D", False, "100/n sum |f(P(x')) - f(x)| / diam"),
    Criterion("gain", "Gain", False, "mean |f(x) - f(P(x'))| / |f(x)|"),
)
GAIN_FACTOR = math.log(3.0) / 40.0
"""E[1 / f(x)] for f(x) ~ U(20, 60)."""


def synthetic_rows(n_images: int, rng: np.random.Generator, shifts: Sequence[float] = SHIFTS) -> list[dict[str, Any]]:
    """One draw of the generating model as result rows (defences ``m0``, ``m1``, ...)."""
    clean = rng.uniform(20.0, 60.0, n_images)
    mos = 1.0 + 4.0 * (clean - 20.0) / 40.0 + rng.normal(0.0, 0.3, n_images)
    image_effect = rng.uniform(-3.0, 3.0, n_images)
    rows = []
    for m, shift in enumerate(shifts):
        change = shift + image_effect + rng.uniform(-2.0, 2.0, n_images)
        for i in range(n_images):
            rows.append(
                {
                    "dataset": "synthetic",
                    "image": f"img-{i:04d}",
                    "metric": "toy",
                    "attack": "a",
                    "attack_preset": "p",
                    "defence": f"m{m}",
                    "defence_preset": "default",
                    "mode": "non-adaptive",
                    "mos": float(mos[i]),
                    "score_clean": float(clean[i]),
                    "score_attacked": float(clean[i] + change[i]),
                    "score_purified_clean": float(clean[i]),
                    "score_purified_attacked": float(clean[i] + change[i]),
                    "status": "done",
                }
            )
    return rows


def measure(
    draws: int = 200,
    *,
    n_images: int = 50,
    n_resamples: int = 1000,
    seed: int = 0,
    shifts: Sequence[float] = SHIFTS,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Coverage of the D intervals and of the rank intervals over ``draws`` independent draws."""
    rng = np.random.default_rng(seed)
    true_ranks = competition_ranks(shifts, higher_is_better=False)
    bounds = {"toy": (0.0, 100.0, True)}
    d_hits = rank_hits = gain_hits = composite_hits = total = 0
    widths: list[float] = []
    unstable = 0
    per_method = np.zeros(len(shifts))
    for draw in range(draws):
        rows = synthetic_rows(n_images, rng, shifts)
        table = collect(
            rows, bounds, cell_by=("dataset", "metric", "attack", "attack_preset", "mode"), method_by=("defence",)
        )
        per_cell = cell_scores(table, ["d", "gain"], n_resamples=n_resamples, seed=draw)
        ranked = {r.method: r for r in rank_group("all", per_cell, CRITERIA, confidence=confidence)}
        for m, shift in enumerate(shifts):
            r = ranked[f"m{m}"]
            d = r.scores["d"]
            hit_d = d.low <= shift <= d.high
            hit_rank = r.rank.low <= int(true_ranks[m]) <= r.rank.high
            gain = r.scores["gain"]
            gain_hits += gain.low <= shift * GAIN_FACTOR <= gain.high
            composite_hits += r.composite.low <= float(true_ranks[m]) <= r.composite.high
            d_hits += hit_d
            rank_hits += hit_rank
            per_method[m] += hit_d
            total += 1
            widths.append(d.width)
            unstable += r.rank.unstable
    return {
        "model": {
            "shifts_true_d": list(shifts),
            "true_ranks": [int(r) for r in true_ranks],
            "n_images": n_images,
            "image_effect": "U(-3, 3), shared by the methods (paired)",
            "noise": "U(-2, 2) per method and image",
            "true_gain": [shift * GAIN_FACTOR for shift in shifts],
            "composite": "mean rank on D and Gain (true composite = true rank)",
        },
        "draws": draws,
        "n_resamples": n_resamples,
        "confidence": confidence,
        "seed": seed,
        "coverage_d": d_hits / total,
        "coverage_d_per_method": [float(v / draws) for v in per_method],
        "coverage_gain": gain_hits / total,
        "coverage_composite": composite_hits / total,
        "coverage_rank": rank_hits / total,
        "mean_width_d": float(np.mean(widths)) if widths else math.nan,
        "share_unstable": unstable / total,
        "intervals": total,
    }
