"""Row evaluation (iqa_bench.evaluate): batched budget measures, work shared between units, the demo limit."""

from __future__ import annotations

import pytest
import torch
from _grids import run_grid, toy_grid

from iqa_bench import evaluate
from iqa_bench.config import parse_config
from iqa_core import measures


def _config(tmp_path, folder, **overrides):
    base = {"name": "shared", "defences": [{"name": "toy-blur", "presets": ["k3", "k5"]}, {"name": "toy-noise"}]}
    return parse_config(toy_grid(tmp_path, folder, **{**base, **overrides}))


_run = run_grid

MEASURES = ("psnr", "ssim", "mse", "linf")


def _key(row):
    return tuple(row[k] for k in ("metric", "image", "attack", "attack_preset", "defence", "defence_preset", "mode"))


def _per_image(reference, distorted):
    """The runner's former row loop: one call per image and measure."""
    out = {name: [] for name in MEASURES}
    for k in range(len(reference)):
        ref, dist = reference[k : k + 1], distorted[k : k + 1]
        for name in MEASURES:
            out[name].append(float(getattr(measures, name)(ref, dist)))
    return out


@pytest.mark.parametrize("size", [(24, 32), (8, 13), (64, 48)])
def test_batched_measures_equal_per_image_calls(size):
    generator = torch.Generator().manual_seed(sum(size))
    reference = torch.rand(5, 3, *size, generator=generator)
    distorted = (reference + 0.05 * torch.randn(5, 3, *size, generator=generator)).clamp(0, 1)
    distorted[2] = reference[2]  # identical pair: PSNR at its cap, SSIM 1, MSE and L-inf 0
    batched = evaluate.budget_measures(reference, distorted)
    single = _per_image(reference, distorted)
    for name in MEASURES:
        assert batched[name] == pytest.approx(single[name], rel=1e-6, abs=1e-6), name
    assert batched["psnr"][2] == 100.0 and batched["mse"][2] == 0.0


def test_grid_rows_equal_the_per_image_measures(tmp_path, image_folder, toy_plugins, monkeypatch):
    grid = {"defences": [{"name": "toy-blur", "presets": ["k3"]}, {"name": "toy-noise"}]}
    _, batched = _run(_config(tmp_path, image_folder, **grid))
    monkeypatch.setattr(evaluate, "budget_measures", _per_image)
    single_config = _config(tmp_path, image_folder, store=str(tmp_path / "single.sqlite"), **grid)
    _, single = _run(single_config)
    assert len(batched) == len(single) > 0
    by_key = {_key(r): r for r in single}
    timing = ("seconds_attack", "seconds_defence", "seconds_metric")
    measured = 0
    for row in batched:
        other = by_key[_key(row)]
        for name in MEASURES:
            if row[name] is None:
                assert other[name] is None
            else:
                assert row[name] == pytest.approx(other[name], rel=1e-6, abs=1e-6), (name, _key(row))
                measured += 1
        rest = [k for k in row if k not in (*MEASURES, *timing)]
        assert {k: row[k] for k in rest} == {k: other[k] for k in rest}
    assert measured > 0


def _expected_work(good_per_chunk, attacks, deterministic, randomized, metrics):
    """Images per component when shared work is done once (see iqa_bench.evaluate)."""
    defences = deterministic + randomized
    work = {"attack": 0, "defence": 0, "metric": 0, "defence_reused": 0, "metric_reused": 0}
    for m in range(metrics):
        for n in good_per_chunk:
            # clean unit: f(x); P(x) and f(P(x)) per defence preset (deterministic P(x) once for all metrics)
            work["metric"] += n + defences * n
            work["defence"] += (deterministic if m == 0 else 0) * n + randomized * n
            work["defence_reused"] += (deterministic if m > 0 else 0) * n
            # non-adaptive, per attack preset: one attack for every defence; f(x) and f(P(x)) reused
            work["attack"] += attacks * n
            work["metric"] += attacks * (n + defences * n)
            work["defence"] += attacks * defences * n
            work["metric_reused"] += attacks * (n + defences * n)
            work["defence_reused"] += attacks * defences * n
            # adaptive, per (attack preset, defence preset): f(x) and f(P(x)) reused
            work["attack"] += attacks * defences * n
            work["metric"] += attacks * defences * 2 * n
            work["defence"] += attacks * defences * n
            work["metric_reused"] += attacks * defences * 2 * n
            work["defence_reused"] += attacks * defences * n
    return work


def _strip(rows, metric):
    """The rows of one metric without timings, in a fixed order."""
    timing = ("seconds_attack", "seconds_defence", "seconds_metric")
    kept = ({k: v for k, v in r.items() if k not in timing} for r in rows if r["metric"] == metric)
    return sorted(kept, key=_key)


def test_shared_work_is_done_once_and_counted(tmp_path, image_folder, toy_plugins):
    # 10 items in chunks of 4, img03 undecodable: 3, 4 and 2 good images per chunk
    small = {
        "attacks": [{"name": "toy-sign", "presets": ["strong"]}],
        "defences": [{"name": "toy-blur", "presets": ["k3"]}, {"name": "toy-noise"}],
    }
    config = _config(tmp_path, image_folder, metrics=["toy-metric", "toy-min16"], **small)
    summary, rows = _run(config)
    expected = _expected_work([3, 4, 2], attacks=1, deterministic=1, randomized=1, metrics=2)
    assert {k: summary.work.get(k, 0) for k in expected} == expected
    assert summary.work.get("attack_reused", 0) == 0

    # the shared deterministic P(x) gives the rows of a run of each metric alone
    for metric in ("toy-metric", "toy-min16"):
        alone = _config(tmp_path, image_folder, metrics=[metric], store=str(tmp_path / f"{metric}.sqlite"), **small)
        _, alone_rows = _run(alone)
        assert _strip(rows, metric) == _strip(alone_rows, metric)

    # a second run into a fresh store reuses every adversarial batch from the cache
    again = _config(
        tmp_path,
        image_folder,
        metrics=["toy-metric", "toy-min16"],
        store=str(tmp_path / "again.sqlite"),
        cache=str(config.cache_path),
        **small,
    )
    second, _ = _run(again)
    assert second.work.get("attack", 0) == 0 and second.work["attack_reused"] == expected["attack"]


def test_attack_image_limit_shares_the_chunk_cache(tmp_path, image_folder, toy_plugins):
    config = _config(
        tmp_path,
        image_folder,
        attacks=[{"name": "toy-sign", "presets": ["weak"], "images": 6}],
        defences=[{"name": "toy-blur", "presets": ["k3"]}],
        mode="non-adaptive",
    )
    summary, rows = _run(config)
    # chunk 0 whole (3 good), chunk 1 cut to 2 items: its clean f(x) is computed once more on the cut
    assert summary.work["attack"] == 3 + 2
    assert {r["image"] for r in rows if r["attack"] == "toy-sign"} == {f"img{i:02d}.png" for i in range(6)}


def test_demo_limit_builds_only_the_needed_references(monkeypatch):
    import iqa_bench.demo as demo_module
    from iqa_bench import datasets

    whole = datasets.demo()
    calls = []
    original = demo_module.demo_dataset

    def counting(*args, **kwargs):
        calls.append(kwargs.get("references"))
        return original(*args, **kwargs)

    monkeypatch.setattr(demo_module, "demo_dataset", counting)
    for limit in (7, 21):
        calls.clear()
        limited = datasets.demo(limit)
        assert [i.id for i in limited] == [i.id for i in whole[:limit]]
        assert [i.mos for i in limited] == [i.mos for i in whole[:limit]]
        assert all(torch.equal(a.load(), b.load()) for a, b in zip(limited, whole, strict=False))
        per_reference = 20  # 4 distortions x 5 levels
        assert len(calls) == -(-limit // per_reference)
        assert all(refs is not None and len(refs) == 1 for refs in calls)
    with pytest.raises(ValueError, match="limit must be >= 0"):
        datasets.demo(-1)


def test_demo_config_limit_reaches_the_dataset(tmp_path, monkeypatch):
    from iqa_bench import datasets
    from iqa_bench.config import DatasetConfig
    from iqa_bench.planning import dataset_items

    asked = []
    original = datasets.demo
    monkeypatch.setattr(datasets, "demo", lambda limit=None: asked.append(limit) or original(limit))
    items = dataset_items(DatasetConfig("demo", "demo", limit=5))
    assert len(items) == 5 and asked == [5]
