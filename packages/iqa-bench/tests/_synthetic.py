"""Synthetic result rows with known effects, shared by the report tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from iqa_bench.schema import RESULT_COLUMNS

BOUNDS = {"m-wide": (0.0, 100.0), "m-narrow": (-5.0, 5.0)}
METRICS = ("m-wide", "m-narrow")
ATTACKS = ("fgsm", "advcf")
ATTACK_PRESETS = ("weak", "strong")
DEFENCES = {"none": ("none",), "good": ("p1", "p2"), "bad": ("p1", "p2")}
MODES = ("non-adaptive", "adaptive")
N_IMAGES = 20
RESIDUAL = {"none": 1.0, "good": 0.1, "bad": 0.8}
"""Share of the attack's shift left after the defence (the known effect)."""


def synthetic_rows(*, failed: bool = True, clean_rows: bool = True) -> list[dict[str, Any]]:
    """2 metrics x 2 attacks x 2 attack presets x 3 defences (2 presets each but 'none') x 2 modes x 20 images.

    * MOS rises with the image index; f(x) is linear in MOS plus a little noise (high SROCC);
    * the attack shifts the score up by 10% (weak) / 25% (strong) of the metric's range;
    * a defence leaves ``RESIDUAL`` of that shift; preset ``p1`` adds large noise to f(P(x'))
      (low SROCC_adv), ``p2`` does not, so ``p2`` is the best-SROCC_adv preset;
    * defence "good" / "bad" move clean scores by +1% / +5% of the range;
    * with ``failed``, image "img-00" of (m-wide, fgsm, weak, good, p2, non-adaptive) failed;
    * with ``clean_rows``, attack "none" rows for every defence preset (non-adaptive).
    """
    rng = np.random.default_rng(1234)
    mos = np.linspace(1.0, 5.0, N_IMAGES)
    rows: list[dict[str, Any]] = []
    for metric in METRICS:
        lower, upper = BOUNDS[metric]
        diam = upper - lower
        clean = lower + diam * (0.2 + 0.12 * mos) + rng.normal(0, 0.002 * diam, N_IMAGES)
        attacks = [(a, p) for a in ATTACKS for p in ATTACK_PRESETS] + ([("none", "none")] if clean_rows else [])
        for attack, attack_preset in attacks:
            strength = {"weak": 0.10, "strong": 0.25, "none": 0.0}[attack_preset]
            attacked = clean + strength * diam * (1 + rng.uniform(-0.2, 0.2, N_IMAGES))
            for defence, presets in DEFENCES.items():
                for preset in presets:
                    for mode in MODES:
                        if attack == "none" and mode == "adaptive":
                            continue
                        shift = {"none": 0.0, "good": 0.01, "bad": 0.05}[defence] * diam
                        purified_clean = clean + shift
                        purified_attacked = purified_clean + RESIDUAL[defence] * (attacked - clean)
                        if preset == "p1":
                            purified_attacked = purified_attacked + rng.normal(0, 0.2 * diam, N_IMAGES)
                        for i in range(N_IMAGES):
                            row: dict[str, Any] = dict.fromkeys(RESULT_COLUMNS)
                            row.update(
                                dataset="koniq",
                                image=f"img-{i:02d}",
                                metric=metric,
                                attack=attack,
                                attack_preset=attack_preset,
                                defence=defence,
                                defence_preset=preset,
                                mode=mode,
                                mos=float(mos[i]),
                                score_clean=float(clean[i]),
                                score_attacked=None if attack == "none" else float(attacked[i]),
                                score_purified_clean=float(purified_clean[i]),
                                score_purified_attacked=None if attack == "none" else float(purified_attacked[i]),
                                psnr=float(30 + i * 0.5 - 5 * RESIDUAL[defence]),
                                ssim=float(0.9 - 0.01 * RESIDUAL[defence] * i),
                                mse=float(1e-3 * (1 + i)),
                                linf=float(0.02 + 0.001 * i),
                                seconds_attack=0.5,
                                seconds_defence=0.1 if defence != "none" else 0.0,
                                seconds_metric=0.05,
                                status="done",
                            )
                            rows.append(row)
    if failed:
        for row in rows:
            if (row["metric"], row["attack"], row["attack_preset"], row["defence"], row["defence_preset"]) == (
                "m-wide",
                "fgsm",
                "weak",
                "good",
                "p2",
            ) and (row["mode"], row["image"]) == ("non-adaptive", "img-00"):
                row.update(status="failed", error="CUDA out of memory", score_purified_attacked=None)
    return rows
