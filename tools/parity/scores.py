"""Golden for the benchmark's score functions, run on seeded synthetic score arrays.

Two reference repositories hold the score code the Guardians benchmark uses:

* msu-video-group/adversarial-defenses-for-iqa, ``metrics/defences/utils/defence_scoring_methods.py``
  (``--repo``): the defence scores on a data frame of per-image scores: ``robust_abs_gain`` /
  ``both_defended_abs_gain`` (D / 100 and D^(D) / 100 with ``metric_range = diam``),
  ``robust_rel_gain`` / ``nonpurified_rel_gain`` (Gain of f(P(x')) and of f(x')),
  ``robust_clear_srocc_mos`` / ``robust_attacked_srocc_mos`` (SROCC_clear / SROCC_adv);
* msu-video-group/MSU_Metrics_Robustness_Benchmark, ``robustness_benchmark/score_methods.py``
  (``--robustness-repo``): ``robustness_score`` (the R score: min-max scaler fitted on the clean
  values of the subset it is given, ``beta1 = 1``, ``beta2 = 0``, ``eps = 1e-6``) and the signed
  ``relative_gain_classic``.

Inputs are seeded arrays stored in the golden (no official code is copied; the official functions
are imported from the checkouts). R^(D) has no reference code: it is recorded as
``robustness_score(f(P(x)), f(P(x')), custom_scaler=<scaler fitted on f(x)>)``, the project's choice
of ``(b1, b2)`` for R^(D). PLCC, KROCC, Quality and the Wilcoxon/Bonferroni tables have no
reference code in either repository. Environment: scikit-learn is not a project dependency; run
with it on ``PYTHONPATH`` (e.g. ``uv pip install --target /tmp/sk scikit-learn``).

    PYTHONPATH=/tmp/sk uv run --locked python tools/parity/scores.py \\
        --repo /path/to/adversarial-defenses-for-iqa --robustness-repo /path/to/MSU_Metrics_Robustness_Benchmark
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from iqa_core.testing.parity import write_golden

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "packages/iqa-bench/tests/goldens/scores.json"
SEED = 20261130


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _commit(repo: Path) -> str:
    return subprocess.check_output(["git", "-C", str(repo), "rev-parse", "HEAD"], text=True).strip()


def make_cases() -> list[dict[str, Any]]:
    """Seeded per-image score arrays (f(x), f(x'), f(P(x)), f(P(x')), MOS) and the metric's diam."""
    rng = np.random.default_rng(SEED)
    cases: list[dict[str, Any]] = []

    n = 40
    mos = rng.uniform(1, 5, n)
    clean = 20 + 12 * mos + rng.normal(0, 3, n)
    attacked = clean + rng.uniform(5, 15, n)
    defended_clean = clean + rng.normal(0, 1, n)
    defended_attacked = clean + 0.3 * (attacked - clean) + rng.normal(0, 1.5, n)
    cases.append(
        {
            "name": "generic",
            "diam": 100.0,
            "mos": mos,
            "clean": clean,
            "attacked": attacked,
            "defended_clean": defended_clean,
            "defended_attacked": defended_attacked,
        }
    )

    n = 30
    mos = np.round(rng.uniform(1, 5, n), 1)  # ties in MOS
    clean = np.round(0.2 + 0.15 * mos + rng.normal(0, 0.05, n), 2)  # ties in scores
    attacked = np.round(clean + rng.uniform(0.02, 0.2, n), 2)
    defended_clean = clean.copy()
    defended_attacked = np.where(np.arange(n) % 4 == 0, clean, np.round(clean + rng.normal(0, 0.03, n), 2))
    cases.append(
        {
            "name": "ties_and_unchanged",
            "diam": 1.0,
            "mos": mos,
            "clean": clean,
            "attacked": attacked,
            "defended_clean": defended_clean,
            "defended_attacked": defended_attacked,
        }
    )

    n = 20
    mos = rng.uniform(1, 5, n)
    clean = 3.0 + 1.5 * mos + rng.normal(0, 0.5, n)
    clean[[3, 11]] = 0.0  # f(x) = 0: the relative gain is undefined
    attacked = clean + rng.uniform(0.5, 2.0, n)
    defended_clean = clean + rng.normal(0, 0.2, n)
    defended_attacked = clean + rng.normal(0, 0.4, n)
    cases.append(
        {
            "name": "zero_clean",
            "diam": 12.0,
            "mos": mos,
            "clean": clean,
            "attacked": attacked,
            "defended_clean": defended_clean,
            "defended_attacked": defended_attacked,
        }
    )
    return cases


def run_reference(case: dict[str, Any], defence: ModuleType, robustness: ModuleType) -> dict[str, Any]:
    import pandas as pd
    from sklearn.preprocessing import MinMaxScaler

    df = pd.DataFrame(
        {
            "mos": case["mos"],
            "clear": case["clean"],
            "attacked": case["attacked"],
            "defended-clear": case["defended_clean"],
            "defended-attacked": case["defended_attacked"],
        }
    )
    diam = case["diam"]
    out: dict[str, Any] = {
        "robust_abs_gain": defence.robust_abs_gain(df, metric_range=diam),
        "both_defended_abs_gain": defence.both_defended_abs_gain(df, metric_range=diam),
        "robust_rel_gain": defence.robust_rel_gain(df, metric_range=diam),
        "nonpurified_rel_gain": defence.nonpurified_rel_gain(df, metric_range=diam),
        "robust_clear_srocc_mos": defence.robust_clear_srocc_mos(df, metric_range=diam),
        "robust_attacked_srocc_mos": defence.robust_attacked_srocc_mos(df, metric_range=diam),
    }
    clean, pc, pa = df["clear"], df["defended-clear"], df["defended-attacked"]
    r = robustness.robustness_score(clean, pa)
    out["robustness_score"] = r
    out["robustness_score_mean"] = float(np.mean(r))
    scaler = MinMaxScaler().fit(np.array(clean.values).reshape(-1, 1))
    rd = robustness.robustness_score(pc, pa, custom_scaler=scaler)
    out["robustness_score_defended_clean_scaler"] = rd
    out["robustness_score_defended_clean_scaler_mean"] = float(np.mean(rd))
    out["relative_gain_classic"] = np.asarray(robustness.relative_gain_classic(clean, pa), dtype=np.float64)
    return {k: np.asarray(v, dtype=np.float64) if isinstance(v, np.ndarray) else float(v) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of adversarial-defenses-for-iqa")
    parser.add_argument(
        "--robustness-repo", type=Path, required=True, help="checkout of MSU_Metrics_Robustness_Benchmark"
    )
    parser.add_argument("--commit", help="commit of --repo (read with git when omitted)")
    parser.add_argument("--robustness-commit", help="commit of --robustness-repo (read with git when omitted)")
    args = parser.parse_args()
    commit = args.commit or _commit(args.repo)
    robustness_commit = args.robustness_commit or _commit(args.robustness_repo)

    defence = _load(args.repo / "metrics/defences/utils/defence_scoring_methods.py", "defence_scoring_methods")
    robustness = _load(args.robustness_repo / "robustness_benchmark/score_methods.py", "score_methods")

    cases = []
    for case in make_cases():
        reference = run_reference(case, defence, robustness)
        cases.append({**case, "reference": reference})
    notes = (
        "Seeded synthetic per-image scores (arrays stored). Reference functions: adversarial-defenses-for-iqa "
        "metrics/defences/utils/defence_scoring_methods.py (D, D^(D) = 100 * abs gains with metric_range = diam; "
        "Gain = rel gains; SROCC clear/adv) and msu-video-group/MSU_Metrics_Robustness_Benchmark@"
        f"{robustness_commit} robustness_benchmark/score_methods.py (robustness_score = R, fitted on the clean "
        "values of the case; relative_gain_classic, signed). R^(D) has no reference: robustness_score of "
        "(f(P(x)), f(P(x'))) with the scaler fitted on f(x). Environment: scikit-learn "
        "put on PYTHONPATH for the generator only (not a project dependency); no code patched."
    )
    write_golden(
        GOLDEN,
        component="scores",
        repo="msu-video-group/adversarial-defenses-for-iqa",
        commit=commit,
        entry="metrics/defences/utils/defence_scoring_methods.py; "
        f"msu-video-group/MSU_Metrics_Robustness_Benchmark@{robustness_commit}:robustness_benchmark/score_methods.py",
        generator="tools/parity/scores.py",
        cases=cases,
        notes=notes,
    )
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
