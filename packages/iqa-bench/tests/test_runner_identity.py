"""Images at their own size, minimum input sizes, unit fingerprints on resume, the store and cache edges."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _grids import run_grid, toy_grid
from PIL import Image

from iqa_bench.adversarial_cache import AdversarialCache
from iqa_bench.config import parse_config
from iqa_bench.datasets import folder
from iqa_bench.store import ResultStore, StoreError
from iqa_core.testing import ToyMetric


def _mixed_folder(tmp_path):
    """Six images of three sizes (one 8x8), interleaved so that every chunk mixes sizes."""
    rng = np.random.default_rng(1)
    root = tmp_path / "mixed"
    root.mkdir()
    sizes = [(24, 32), (40, 30), (24, 32), (8, 8), (40, 30), (24, 32)]
    lines = ["name,mos"]
    for i, (h, w) in enumerate(sizes):
        name = f"m{i}.png"
        Image.fromarray(rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)).save(root / name)
        lines.append(f"{name},{10 * (i + 1)}")
    (root / "mos.csv").write_text("\n".join(lines) + "\n")
    return root


def _config(tmp_path, root, **overrides):
    base = {
        "name": "identity",
        "datasets": [{"name": "mixed", "kind": "folder", "root": str(root), "csv": "mos.csv"}],
        "attacks": [{"name": "toy-sign", "presets": ["weak"]}],
        "defences": [{"name": "toy-blur", "presets": ["k3"]}],
        "mode": "non-adaptive",
        "chunk_size": 3,
        "batch_size": 4,
    }
    return parse_config(toy_grid(tmp_path, root, **{**base, **overrides}))


_run = run_grid


def test_each_image_is_scored_at_its_own_size(tmp_path, toy_plugins):
    root = _mixed_folder(tmp_path)
    _, rows = _run(_config(tmp_path, root, attacks=[]))
    metric = ToyMetric()
    clean = {r["image"]: r["score_clean"] for r in rows if r["defence"] == "none"}
    for item in folder(root, "mos.csv"):
        with torch.no_grad():
            alone = float(metric(item.load()[None]))
        assert clean[item.id] == pytest.approx(alone, rel=1e-5), item.id  # not resized to a chunk-mate's size


def test_images_below_the_metric_minimum_are_failed_rows_naming_the_reason(tmp_path, toy_plugins):
    root = _mixed_folder(tmp_path)
    _, rows = _run(_config(tmp_path, root, metrics=["toy-min16"]))
    small = [r for r in rows if r["image"] == "m3.png"]
    assert small and all(r["status"] == "failed" for r in small)
    assert "8x8 (HxW), smaller than the minimum input of metric 'toy-min16', 16x16" in small[0]["error"]
    assert all(r["status"] == "done" for r in rows if r["image"] != "m3.png")


def test_changed_attack_parameters_recompute_exactly_the_changed_units(tmp_path, toy_plugins):
    root = _mixed_folder(tmp_path)
    first, rows = _run(_config(tmp_path, root, metrics=["toy-metric"]))
    linf = {r["image"]: r["linf"] for r in rows if r["attack"] == "toy-sign" and r["defence"] == "none"}
    changed = _config(tmp_path, root, attacks=[{"name": "toy-sign", "presets": ["weak"], "params": {"eps": 6 / 255}}])
    second, rows2 = _run(changed)
    # 2 chunks: the clean units keep their fingerprint, the two attack units changed
    assert first.units_run == 4 and second.units_skipped == 2 and second.units_run == 2
    assert any("recomputed 2 changed units" in note for note in second.notes)
    linf2 = {r["image"]: r["linf"] for r in rows2 if r["attack"] == "toy-sign" and r["defence"] == "none"}
    for image, value in linf2.items():
        if value is not None and linf[image] is not None:  # the cached weak-preset images were not reused
            assert value == pytest.approx(6 / 255, abs=1e-6) and linf[image] == pytest.approx(2 / 255, abs=1e-6)
    assert len(rows2) == len(rows)  # replaced, not duplicated
    third, _ = _run(changed)
    assert third.units_run == 0


def test_changed_items_replace_the_chunk_rows(tmp_path, toy_plugins):
    root = _mixed_folder(tmp_path)
    _run(_config(tmp_path, root, attacks=[]))
    csv = root / "mos.csv"
    csv.write_text(csv.read_text().replace("m4.png,50", "m4.png,55"))
    summary, rows = _run(_config(tmp_path, root, attacks=[]))
    assert summary.units_run == 1 and summary.units_skipped == 1  # only the chunk holding m4
    assert {r["mos"] for r in rows if r["image"] == "m4.png"} == {55.0}


def test_a_file_that_is_not_a_store_is_refused_with_the_fix(tmp_path):
    bogus = tmp_path / "results.sqlite"
    bogus.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"not a usable result store.*move the file away"):
        ResultStore(bogus)
    with pytest.raises(StoreError, match="is a folder"):
        ResultStore(tmp_path)


def test_adversarial_cache_round_trip_unique_temporaries_and_damaged_entries(tmp_path):
    cache = AdversarialCache(tmp_path / "cache")
    images = torch.rand(2, 3, 4, 4)
    cache.save("ab" * 32, images, 1.5)
    loaded, seconds = cache.load("ab" * 32)
    assert torch.equal(loaded, images) and seconds == 1.5
    assert not list((tmp_path / "cache").rglob("*.tmp"))
    cache.path("cd" * 32).parent.mkdir(parents=True, exist_ok=True)
    cache.path("cd" * 32).write_bytes(b"truncated")
    assert cache.load("cd" * 32) is None
