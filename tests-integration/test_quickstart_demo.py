"""The README's main job: `iqa-bench quickstart` on the real demo metric and demo dataset, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("quickstart") / "result.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "IQA_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "iqa_bench.cli", "quickstart", "--no-progress", "--json", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(Path(out).read_text()), proc.stdout


def test_attack_raises_scores_and_jpeg_pulls_them_back(quickstart):
    result, _ = quickstart
    no_defence, non_adaptive, adaptive = result["rows"]
    assert no_defence["mean_attacked"] > no_defence["mean_clean"]
    assert non_adaptive["mean_purified_attacked"] < no_defence["mean_attacked"]
    assert non_adaptive["d"] < no_defence["d"]  # JPEG reduces the discrepancy (lower D is better)
    # The adaptive attack optimises f(P(x')): it must raise the defended score, and more than the
    # non-adaptive attack does through the same defence. f(x') itself need not go up.
    assert adaptive["mean_purified_attacked"] > adaptive["mean_clean"]
    assert adaptive["mean_purified_attacked"] > non_adaptive["mean_purified_attacked"]


def test_demo_metric_correlates_with_the_synthetic_scores(quickstart):
    result, _ = quickstart
    no_defence = result["rows"][0]
    # Held-out demo references; measured 0.939 (blur, noise, JPEG, pixelation). A random scorer
    # would sit near 0.
    assert no_defence["srocc_clear"] > 0.8
    assert no_defence["srocc_adv"] < no_defence["srocc_clear"]  # the attack hurts the correlation


def test_table_is_printed(quickstart):
    result, stdout = quickstart
    assert result["n_images"] >= 100
    for column in ("D^(D)", "R^(D)", "SROCC_clear", "SROCC_adv"):
        assert column in stdout
