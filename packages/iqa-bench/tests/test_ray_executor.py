"""The Ray executor on a local Ray instance, CI-sized: same rows as the local runner, resumable."""

from pathlib import Path

import ray  # a declared test dependency of iqa-bench: a missing install fails, never skips

from iqa_bench.config import parse_config
from iqa_bench.executors import RayExecutor, shards
from iqa_bench.runner import Runner
from iqa_bench.store import ResultStore

TIMING = ("seconds_attack", "seconds_defence", "seconds_metric")


def _register():
    from _toy_plugins import register_toys

    register_toys()


def _rows(store):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in store.results()]


def test_ray_matches_local_runner_and_resumes(tmp_path, image_folder, toy_plugins):
    base = {
        "name": "r",
        "datasets": [{"name": "toy", "kind": "folder", "root": str(image_folder), "csv": "mos.csv"}],
        "metrics": ["toy-metric"],
        "attacks": [{"name": "toy-sign", "presets": ["weak", "strong"]}],
        "defences": [{"name": "toy-blur"}, {"name": "toy-noise"}],
        "mode": "both",
        "device": "cpu",
        "chunk_size": 5,
    }
    local_cfg = parse_config({**base, "store": str(tmp_path / "local.sqlite")})
    ray_cfg = parse_config({**base, "store": str(tmp_path / "ray.sqlite")})
    with ResultStore(local_cfg.store_path) as store:
        Runner(local_cfg, store, progress=False).run()
        local_rows = _rows(store)
    tests_dir = str(Path(__file__).parent)
    ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": tests_dir}}
    )
    try:
        with ResultStore(ray_cfg.store_path) as store:
            summary = RayExecutor(ray_cfg, store, worker_setup=_register, progress=False).run()
            assert summary.units_run == summary.units_total > 0
            assert _rows(store) == local_rows
            again = RayExecutor(ray_cfg, store, worker_setup=_register, progress=False).run()
            assert again.units_run == 0 and again.units_skipped == summary.units_total
    finally:
        ray.shutdown()


def test_shards_group_units_of_one_attack_preset_and_chunk(tmp_path, image_folder, toy_plugins):
    config = parse_config(
        {
            "datasets": [{"name": "toy", "kind": "folder", "root": str(image_folder), "csv": "mos.csv"}],
            "metrics": ["toy-metric"],
            "attacks": [{"name": "toy-sign", "presets": ["weak"]}],
            "defences": [{"name": "toy-blur", "presets": ["k3", "k5"]}],
            "mode": "both",
            "chunk_size": 5,
            "store": str(tmp_path / "s.sqlite"),
        }
    )
    units = Runner(config, store=None, progress=False).load()  # type: ignore[arg-type]
    groups = shards(units)
    assert sum(len(g) for g in groups) == len(units)
    for group in groups:
        assert len({(u.dataset, u.metric, u.chunk, u.component, u.preset) for u in group}) == 1
