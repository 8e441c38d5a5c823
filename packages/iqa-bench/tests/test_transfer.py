"""``iqa-bench transfer``: stored adversarial images scored by every (metric, defence) pair of the run.

One toy run (two metrics, one of them lower-is-better; a deterministic and a randomized defence;
both modes) is made once per module and copied for each test that changes it.
"""

from __future__ import annotations

import math
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from _grids import run_grid, toy_grid
from _toy_plugins import register_toys
from PIL import Image

from iqa_bench import aggregate
from iqa_bench.cli import main
from iqa_bench.config import parse_config
from iqa_bench.datasets import ImageItem
from iqa_bench.store import TRANSFER_KEY, ResultStore
from iqa_bench.transfer import (
    Source,
    Target,
    Transfer,
    TransferError,
    matrices,
    pair_values,
    resolve_run,
    transfer_run,
)
from iqa_core import defended, registry, scoring
from iqa_core.testing import ToyBlurDefence, ToyMetric, ToySignAttack

VALUE_COLUMNS = ("n_images", "n_missing", "gain", "gain_defended", "srocc_clean", "srocc_adv", "srocc_drop", "status")


class ToyDarkness(ToyMetric):
    """Lower is better: 100 x mean darkness plus a little texture (another metric than toy-metric)."""

    name = "toy-darkness"
    higher_is_better = False

    def forward(self, images):
        gray = images.mean(1, keepdim=True)
        lap = torch.nn.functional.conv2d(gray, self.kernel.to(gray.dtype)).abs().flatten(1).mean(1)
        return 100 * (1 - gray.flatten(1).mean(1)) + 20 * lap


def _register() -> None:
    register_toys()
    registry.register("metric", "toy-darkness", ToyDarkness, replace=True)


def _images(folder: Path) -> None:
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True)
    lines = ["name,mos"]
    for i in range(9):
        name = f"im{i}.png"
        if i == 4:
            (folder / name).write_bytes(b"broken")  # undecodable: failed rows, no adversarial images
        else:
            base = np.full((24, 32, 3), 30 + 22 * i, dtype=np.int64)
            noise = rng.integers(0, 8 + 6 * i, size=base.shape)
            Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(folder / name)
        lines.append(f"{name},{20 + 7 * i - (i % 3) * 9}")
    (folder / "mos.csv").write_text("\n".join(lines) + "\n")


def _raw(root: Path) -> dict[str, Any]:
    return toy_grid(
        root,
        root / "images",
        metrics=["toy-metric", "toy-darkness"],
        attacks=[{"name": "toy-sign", "presets": ["strong"]}],
        defences=[{"name": "toy-blur", "presets": ["k3"]}, {"name": "toy-noise"}],
    )


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """A finished toy run: ``(folder, rows)``; the store is ``folder/run/results.sqlite``."""
    _register()
    root = tmp_path_factory.mktemp("transfer")
    _images(root / "images")
    config = parse_config(_raw(root))
    _, rows = run_grid(config)
    return root, rows


@pytest.fixture
def run_copy(toy_run, tmp_path):
    """A copy of the toy run (store and cache) that a test may change: its store path."""
    _register()
    root, _ = toy_run
    shutil.copytree(root / "run", tmp_path / "run")
    return tmp_path / "run" / "results.sqlite"


@pytest.fixture(scope="module")
def transferred(toy_run, tmp_path_factory):
    """The toy run's transfer rows (computed once on a copy)."""
    _register()
    root, _ = toy_run
    copy = tmp_path_factory.mktemp("transferred")
    shutil.copytree(root / "run", copy / "run")
    summary, store_path = transfer_run(copy / "run" / "results.sqlite")
    with ResultStore(store_path) as store:
        return summary, list(store.transfer()), store.bounds(), store.directions()


def _key(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(row[k]) for k in ("dataset", "attack", "attack_preset", "mode", "source_metric", "source_defence"))


def _is_run_cell(row: dict[str, Any]) -> bool:
    """The run computed this pair itself: the same metric, and the source's defence (adaptive) or any
    defence (non-adaptive images are scored behind every defence by the run)."""
    if row["source_metric"] != row["target_metric"]:
        return False
    if row["mode"] == "non-adaptive":
        return True
    return (row["source_defence"], row["source_defence_preset"]) == (
        row["target_defence"],
        row["target_defence_preset"],
    )


def test_every_pair_is_computed(transferred):
    summary, rows, _, _ = transferred
    # sources: 2 metrics x (1 non-adaptive + 2 adaptive); targets: 2 metrics x (none + 2 defences)
    assert summary.pairs_total == summary.pairs_run == len(rows) == 6 * 6
    assert summary.pairs_failed == 0 and all(r["status"] == "done" for r in rows)
    assert {r["mode"] for r in rows} == {"non-adaptive", "adaptive"}
    assert all(r["n_images"] == 8 and r["n_missing"] == 0 for r in rows)  # 9 items, one undecodable


def test_the_runs_own_cells_equal_the_runs_scores(toy_run, transferred):
    _, run_rows = toy_run
    _, rows, bounds, directions = transferred
    summaries = {
        tuple(str(s[k]) for k in aggregate.EXPERIMENT_KEY): s
        for s in aggregate.summarise(run_rows, bounds, directions=directions)
    }
    checked = 0
    for row in filter(_is_run_cell, rows):
        own = summaries[
            (
                row["dataset"],
                row["target_metric"],
                row["attack"],
                row["attack_preset"],
                row["target_defence"],
                row["target_defence_preset"],
                row["mode"],
            )
        ]
        assert row["n_images"] == own["n_images"]
        for value in ("gain", "srocc_clean", "srocc_adv"):
            assert row[value] == pytest.approx(own[value], rel=1e-12, abs=1e-12), (value, row)
        checked += 1
    # non-adaptive: 2 metrics x 3 targets each; adaptive: 2 metrics x 2 defences (the noise one randomized)
    assert checked == 6 + 4
    # the defended gain of a run cell is |f(P(x)) - f(P(x'))| / |f(P(x))| over the run's own rows
    row = next(r for r in rows if _is_run_cell(r) and r["mode"] == "adaptive" and r["target_defence"] == "toy-noise")
    cell = [
        aggregate.resolve(r)
        for r in run_rows
        if (r["metric"], r["defence"], r["mode"], r["status"])
        == (row["target_metric"], "toy-noise", "adaptive", "done")
    ]
    expected = scoring.mean_gain([c.purified_clean for c in cell], [c.purified_attacked for c in cell]).value
    assert row["gain_defended"] == pytest.approx(expected, rel=1e-12)


def test_cross_pairs_equal_a_direct_recomputation_on_the_cached_images(toy_run, transferred):
    """Images crafted against (toy-metric, toy-blur) adaptively, scored by toy-darkness behind toy-blur
    and alone, recomputed here without the transfer code; the cache holds the same images."""
    root, _ = toy_run
    _, rows, _, _ = transferred
    items = [
        ImageItem(f"im{i}.png", float(20 + 7 * i - (i % 3) * 9), root / "images" / f"im{i}.png")
        for i in range(9)
        if i != 4
    ]
    x = torch.stack([item.load() for item in items])
    source_metric, blur, darkness = ToyMetric(), ToyBlurDefence(3), ToyDarkness()
    crafted = ToySignAttack(eps=8 / 255)(defended(source_metric, blur, eot_samples=1), x)
    cached = [torch.load(p, weights_only=True)["images"] for p in (root / "run" / "results-cache").glob("*/*.pt")]
    for image in crafted:
        assert any(torch.allclose(image, c, atol=1e-6) for batch in cached for c in batch)
    with torch.no_grad():
        f_x = darkness(x).numpy().astype(np.float64)
        for defence in (None, blur):
            f_qx = (darkness(defence(x)) if defence else darkness(x)).numpy().astype(np.float64)
            f_qadv = (darkness(defence(crafted)) if defence else darkness(crafted)).numpy().astype(np.float64)
            mos = np.array([item.mos for item in items])
            row = next(
                r
                for r in rows
                if (r["mode"], r["source_metric"], r["source_defence"], r["target_metric"], r["target_defence"])
                == ("adaptive", "toy-metric", "toy-blur", "toy-darkness", "toy-blur" if defence else "none")
            )
            assert row["gain"] == pytest.approx(float(np.mean(np.abs(f_x - f_qadv) / np.abs(f_x))), rel=1e-6)
            assert row["gain_defended"] == pytest.approx(float(np.mean(np.abs(f_qx - f_qadv) / np.abs(f_qx))), rel=1e-6)
            # lower-is-better target: SROCC of MOS with the negated scores
            ranks = aggregate.scoring.rank_average
            srocc_adv = float(np.corrcoef(ranks(mos), ranks(-f_qadv))[0, 1])
            srocc_clean = float(np.corrcoef(ranks(mos), ranks(-f_qx))[0, 1])
            assert row["srocc_adv"] == pytest.approx(srocc_adv, abs=1e-9)
            assert row["srocc_drop"] == pytest.approx(srocc_clean - srocc_adv, abs=1e-9)
    assert row["gain"] != pytest.approx(
        next(r["gain"] for r in rows if _is_run_cell(r) and r["target_metric"] == "toy-darkness")
    )


def test_matrices_put_sources_in_rows_and_outline_the_crafted_for_cell(transferred):
    _, rows, _, _ = transferred
    gain, gain_through_q, srocc = matrices(rows)
    assert (gain.value, gain_through_q.value, srocc.value) == ("gain", "gain_defended", "srocc_adv")
    assert gain.sources[0] == "toy-darkness / none (non-adaptive)"
    assert gain.targets[:3] == ["toy-darkness / none", "toy-darkness / toy-blur[k3]", "toy-darkness / toy-noise"]
    assert gain.own == [(i, i) for i in range(6)]  # sources and targets in the same order
    assert gain.sources[1:3] == ["toy-darkness / toy-blur[k3] (adaptive)", "toy-darkness / toy-noise (adaptive)"]
    for i, j in gain.own:
        row = next(
            r
            for r in rows
            if Source(
                r["dataset"],
                r["attack"],
                r["attack_preset"],
                r["mode"],
                r["source_metric"],
                r["source_defence"],
                r["source_defence_preset"],
            ).label
            == gain.sources[i]
            and Target(r["target_metric"], r["target_defence"], r["target_defence_preset"]).label == gain.targets[j]
        )
        assert gain.values[i][j] == row["gain"] and srocc.values[i][j] == row["srocc_adv"]
        assert gain_through_q.values[i][j] == row["gain_defended"]


def test_a_killed_transfer_resumes_without_recomputing_finished_pairs(run_copy, transferred, monkeypatch):
    _, complete, _, _ = transferred
    calls: list[tuple[Source, Target]] = []
    original = Transfer.score_pair

    def killed_after_ten(self, source, target, batches):
        if len(calls) == 10:
            raise KeyboardInterrupt  # what Ctrl-C or a kill leaves: nothing after the 10th pair
        calls.append((source, target))
        return original(self, source, target, batches)

    monkeypatch.setattr(Transfer, "score_pair", killed_after_ten)
    with pytest.raises(KeyboardInterrupt):
        transfer_run(run_copy)
    with ResultStore(run_copy) as store:
        assert len(list(store.transfer())) == 10

    calls.clear()

    def counted(self, source, target, batches):
        calls.append((source, target))
        return original(self, source, target, batches)

    monkeypatch.setattr(Transfer, "score_pair", counted)
    summary, _ = transfer_run(run_copy)
    assert (summary.pairs_skipped, summary.pairs_run, len(calls)) == (10, 26, 26)
    with ResultStore(run_copy) as store:
        resumed = {tuple(r[k] for k in TRANSFER_KEY): r for r in store.transfer()}
    assert len(resumed) == len(complete)
    for row in complete:
        other = resumed[tuple(row[k] for k in TRANSFER_KEY)]
        assert all(row[c] == other[c] for c in VALUE_COLUMNS)
    # nothing left: a third transfer computes nothing
    summary, _ = transfer_run(run_copy)
    assert (summary.pairs_skipped, summary.pairs_run) == (36, 0)


def test_a_recomputed_run_unit_makes_its_pairs_stale(run_copy):
    transfer_run(run_copy)
    with sqlite3.connect(run_copy) as db:  # the run recomputed a unit of toy-darkness: another fingerprint
        db.execute('UPDATE units SET fingerprint = \'changed\' WHERE unit LIKE \'["clean", "toy", "toy-darkness"%\'')
    summary, _ = transfer_run(run_copy)
    # its clean units are no longer those of this config: pairs scored by toy-darkness are skipped, not reused
    assert summary.pairs_total == 18 and summary.pairs_skipped == 18
    assert any("clean units are not finished, or not with this config" in note for note in summary.notes)


def test_a_partly_finished_run_is_transferred_on_the_images_it_attacked(run_copy):
    unit = '["non-adaptive", "toy", "toy-metric", 2, "toy-sign", "strong", "none", "none"]'  # chunk 2: im8
    with sqlite3.connect(run_copy) as db:  # as if the run had not reached this unit yet
        db.execute("DELETE FROM results WHERE unit = ?", (unit,))
        db.execute("DELETE FROM units WHERE unit = ?", (unit,))
    summary, _ = transfer_run(run_copy)
    assert summary.pairs_run == 36 and any("cover only the chunks" in note for note in summary.notes)
    with ResultStore(run_copy) as store:
        rows = list(store.transfer())
    partial = [r for r in rows if (r["mode"], r["source_metric"]) == ("non-adaptive", "toy-metric")]
    assert len(partial) == 6 and all(r["n_images"] == 7 for r in partial)
    assert all(r["n_images"] == 8 for r in rows if r not in partial)


def test_a_run_without_its_adversarial_images_fails_naming_the_cache_option(run_copy, capsys):
    shutil.rmtree(run_copy.parent / "results-cache")
    with pytest.raises(TransferError, match=r"`cache:`") as error:
        transfer_run(run_copy)
    assert str(run_copy.parent / "results-cache") in str(error.value)
    assert main(["transfer", str(run_copy), "--no-progress"]) == 2
    assert "`cache:`" in capsys.readouterr().err
    with ResultStore(run_copy) as store:
        assert list(store.transfer()) == []


def test_one_unreadable_cache_entry_fails_only_its_sources_pairs(run_copy, capsys):
    entry = sorted((run_copy.parent / "results-cache").glob("*/*.pt"))[0]
    entry.write_bytes(b"truncated")
    assert main(["transfer", str(run_copy), "--no-progress"]) == 1
    assert "6 pairs failed" in capsys.readouterr().err
    with ResultStore(run_copy) as store:
        rows = list(store.transfer())
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(rows) == 36 and len(failed) == 6  # one source x its 6 targets
    assert len({_key(r) for r in failed}) == 1
    assert all(str(entry) in r["error"] and "`cache:`" in r["error"] for r in failed)
    assert all(r["status"] == "done" and math.isfinite(r["gain"]) for r in rows if r not in failed)


def test_a_store_without_its_config_asks_for_the_config(run_copy, tmp_path):
    with sqlite3.connect(run_copy) as db:
        db.execute("DELETE FROM meta WHERE key = 'config'")
    with pytest.raises(TransferError, match=r"pass the run's YAML config"):
        resolve_run(run_copy.parent)
    raw = _raw(run_copy.parent.parent)
    raw["datasets"][0]["root"] = str(Path(raw["datasets"][0]["root"]).parent.parent / "images")
    config_file = tmp_path / "run.yaml"
    config_file.write_text(yaml.safe_dump({**raw, "store": str(run_copy)}))
    config, store = resolve_run(config_file)
    assert store == run_copy and config.cache_path == run_copy.parent / "results-cache"


def test_cli_transfer_then_report_shows_the_heatmaps(run_copy, tmp_path, capsys):
    assert main(["transfer", str(run_copy.parent), "--no-progress", "--out", str(tmp_path / "matrices")]) == 0
    out = capsys.readouterr().out
    assert "36 pairs computed, 0 already done, 0 failed" in out
    assert (tmp_path / "matrices" / "figures" / "transfer_gain_toy_toy-sign_strong.png").is_file()
    assert main(["transfer", str(run_copy), "--no-progress"]) == 0
    assert "0 pairs computed, 36 already done" in capsys.readouterr().out

    report = tmp_path / "report"
    assert main(["report", str(run_copy), "--out", str(report)]) == 0
    for value in ("gain", "gain_defended", "srocc_adv"):
        name = f"transfer_{value}_toy_toy-sign_strong"
        assert (report / "figures" / f"{name}.png").stat().st_size > 1000
        assert (report / "figures" / f"{name}.svg").is_file()
        header = (report / f"{name}.csv").read_text().splitlines()[0]
        assert header.startswith("crafted against,toy-darkness / none")
    assert len((report / "transfer_pairs.csv").read_text().splitlines()) == 1 + 36
    html = (report / "leaderboard.html").read_text()
    assert "Transferability" in html
    assert 'id="figure-transfer-gain-toy-toy-sign-strong"' in html or "figure-transfer-gain-toy-toy-sign-strong" in html
    assert "data:image/png;base64," in html


def test_a_run_without_attacks_has_nothing_to_transfer(tmp_path):
    _register()
    _images(tmp_path / "images")
    config = parse_config({**_raw(tmp_path), "attacks": [], "mode": "non-adaptive"})
    run_grid(config)
    with pytest.raises(TransferError, match="no attacks"):
        transfer_run(config.store_path)


def _scores(image: str, clean: float, purified: float, mos: float) -> aggregate.ImageScores:
    nan = math.nan
    return aggregate.ImageScores(image, mos, clean, nan, purified, nan, nan, nan, nan, nan, nan, nan, nan)


def test_pair_values_are_nan_safe_and_oriented():
    clean = {
        "a": _scores("a", 0.0, 1.0, 1.0),  # f(x) = 0: no gain, still in the correlations
        "b": _scores("b", 2.0, 2.0, 2.0),
        "c": _scores("c", 4.0, 3.0, 3.0),
        "d": _scores("d", 8.0, 6.0, 4.0),
    }
    adversarial = {"a": 1.0, "b": 3.0, "c": 2.0, "d": 10.0, "e": 5.0}  # "e": no clean scores of the target
    higher = pair_values(adversarial, clean, higher_is_better=True)
    assert (higher["n_images"], higher["n_missing"], higher["n_gain_undefined"]) == (4, 1, 1)
    assert higher["gain"] == pytest.approx((0.5 + 0.5 + 0.25) / 3)
    assert higher["gain_defended"] == pytest.approx((0 + 0.5 + 1 / 3 + 4 / 6) / 4)
    assert higher["srocc_clean"] == pytest.approx(1.0)
    lower = pair_values(adversarial, clean, higher_is_better=False)
    assert lower["srocc_clean"] == pytest.approx(-1.0) and lower["srocc_adv"] == pytest.approx(-higher["srocc_adv"])
    assert higher["srocc_drop"] == pytest.approx(higher["srocc_clean"] - higher["srocc_adv"])
    adversarial["b"] = math.nan
    assert pair_values(adversarial, clean, higher_is_better=True)["n_images"] == 3
    with pytest.raises(ValueError, match="none of the 1 adversarial images"):
        pair_values({"e": 1.0}, clean, higher_is_better=True)
