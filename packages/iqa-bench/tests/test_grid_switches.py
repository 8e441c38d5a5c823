"""Config switches that change how much the grid computes: per-metric precision and sufficient evaluation."""

from __future__ import annotations

import pytest
from _grids import run_grid, toy_grid

from iqa_bench.config import ConfigError, parse_config
from iqa_bench.store import ResultStore


def _key(row):
    return tuple(row[k] for k in ("image", "attack", "attack_preset", "defence", "defence_preset", "mode"))


# ---------------------------------------------------------------- precision


def test_bf16_precision_runs_the_grid_close_to_float32_and_never_reuses_float32_units(
    tmp_path, image_folder, toy_plugins
):
    exact = parse_config(toy_grid(tmp_path, image_folder))
    _, rows32 = run_grid(exact)
    fast = parse_config(toy_grid(tmp_path, image_folder, precision={"autocast": "bf16"}))
    assert fast.metric_precision(fast.metrics[0]) == {"autocast": "bf16", "channels_last": False, "compile": False}
    summary, rows16 = run_grid(fast)  # same store: every unit must be recomputed, not reused
    assert summary.units_skipped == 0 and summary.units_run == summary.units_total
    by_key = {_key(r): r for r in rows32 if r["status"] == "done"}
    diffs = [
        abs(r["score_clean"] - by_key[_key(r)]["score_clean"])
        for r in rows16
        if r["status"] == "done" and _key(r) in by_key
    ]
    assert diffs and max(diffs) < 1.0  # toy metric spans 0..100; bf16 keeps ~3 significant digits
    assert max(diffs) > 0.0, "bf16 autocast did not change any score"


def test_a_metric_precision_overrides_the_config_and_bad_values_name_the_key(tmp_path, image_folder):
    raw = toy_grid(
        tmp_path,
        image_folder,
        precision={"autocast": "bf16", "channels_last": True},
        metrics=[{"name": "toy-metric", "precision": {"autocast": "off"}}],
    )
    config = parse_config(raw)
    assert config.metric_precision(config.metrics[0]) == {"autocast": "off", "channels_last": True, "compile": False}
    raw["metrics"] = [{"name": "toy-metric", "precision": {"autocast": "fp8"}}]
    with pytest.raises(ConfigError, match=r"metrics\[0\]\.precision: precision\.autocast must be one of"):
        parse_config(raw)
    raw["metrics"] = ["toy-metric"]
    raw["attacks"] = [{"name": "toy-sign", "precision": {"autocast": "bf16"}}]
    with pytest.raises(ConfigError, match=r"attacks\[0\]: unknown keys \['precision'\]"):
        parse_config(raw)


def test_unset_switches_keep_the_config_fingerprint(tmp_path, image_folder):
    raw = toy_grid(tmp_path, image_folder)
    plain = parse_config(raw).fingerprint()
    assert parse_config({**raw, "precision": {"autocast": "bf16"}}).fingerprint() != plain
    assert parse_config(dict(raw)).fingerprint() == plain


# ---------------------------------------------------------------- sufficient evaluation


def test_a_settled_cell_skips_its_later_chunks_and_a_resumed_run_skips_them_again(tmp_path, image_folder, toy_plugins):
    full_summary, full = run_grid(parse_config(toy_grid(tmp_path / "full", image_folder)))
    config = parse_config(toy_grid(tmp_path, image_folder, sufficient={"ci_width": 1e9, "min_images": 3}))
    summary, rows = run_grid(config)
    saved = summary.sufficient
    assert saved is not None and saved["planned"] > 0
    # 10 items (one unreadable) in chunks of 4: only chunk 0 (4 items) of each attack cell is attacked
    assert all(cell["attacked"] == 4 and cell["planned"] == 10 for cell in saved["cells"].values())
    assert saved["saved"] == saved["planned"] - saved["attacked"] > 0
    attacked_images = {r["image"] for r in rows if r["attack"] != "none"}
    clean_images = {r["image"] for r in rows if r["attack"] == "none"}
    assert len(attacked_images) == 4 and len(clean_images) == 10  # clean units always run in full
    full_by_key = {_key(r): r for r in full}
    assert all(r["score_attacked"] == full_by_key[_key(r)]["score_attacked"] for r in rows if r["status"] == "done")
    again, rows_again = run_grid(config)
    assert again.units_run == 0 and again.sufficient["attacked"] == saved["attacked"]
    assert len(rows_again) == len(rows)
    with ResultStore(config.store_path) as store:
        assert store.meta("sufficient")["saved"] == saved["saved"]
    assert full_summary.sufficient is None


def test_an_unreachable_width_attacks_every_image(tmp_path, image_folder, toy_plugins):
    _, full = run_grid(parse_config(toy_grid(tmp_path / "full", image_folder)))
    summary, rows = run_grid(parse_config(toy_grid(tmp_path, image_folder, sufficient={"ci_width": 1e-12})))
    assert summary.sufficient["saved"] == 0
    assert sorted(map(_key, rows)) == sorted(map(_key, full))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"min_images": 10}, "sufficient.ci_width: expected the largest 95 % interval width"),
        ({"ci_width": -1}, "sufficient.ci_width"),
        ({"ci_width": 1, "value": "psnr"}, "sufficient.value: expected d, d_defended or gain"),
        ({"ci_width": 1, "tolerance": 2}, r"sufficient: unknown keys \['tolerance'\]"),
        ("fast", "sufficient: expected a mapping"),
    ],
)
def test_bad_sufficient_sections_name_the_key(tmp_path, image_folder, value, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(toy_grid(tmp_path, image_folder, sufficient=value))
