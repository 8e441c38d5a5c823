"""The Ray executor on one local Ray instance per module, CI-sized: same rows as the local runner,
resumable after a killed run, and reachable from the CLI."""

from pathlib import Path

import pytest
import ray  # a declared test dependency of iqa-bench: a missing install fails, never skips
import yaml

from iqa_bench.cli import main
from iqa_bench.config import parse_config
from iqa_bench.executors import RayExecutor, chunk_key, portable
from iqa_bench.runner import Runner
from iqa_bench.store import ResultStore

TIMING = ("seconds_attack", "seconds_defence", "seconds_metric")


@pytest.fixture(scope="module", autouse=True)
def ray_instance():
    """One local Ray instance for the module; its workers register the toy plugins when they start."""
    tests_dir = str(Path(__file__).parent)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={
            "env_vars": {"PYTHONPATH": tests_dir},
            "worker_process_setup_hook": "_toy_plugins.register_toys",
        },
    )
    yield
    ray.shutdown()


def _rows(store):
    return sorted(
        ({k: v for k, v in r.items() if k not in TIMING} for r in store.results()),
        key=lambda r: repr(sorted(r.items())),
    )


def _grid(image_folder, store, **extra):
    return {
        "name": "r",
        "datasets": [{"name": "toy", "kind": "folder", "root": str(image_folder), "csv": "mos.csv"}],
        "metrics": ["toy-metric"],
        "attacks": [{"name": "toy-sign", "presets": ["weak", "strong"]}],
        "defences": [{"name": "toy-blur"}, {"name": "toy-noise"}],
        "mode": "both",
        "device": "cpu",
        "chunk_size": 4,
        "store": str(store),
        **extra,
    }


@pytest.fixture
def local_rows(tmp_path, image_folder, toy_plugins):
    config = parse_config(_grid(image_folder, tmp_path / "local.sqlite"))
    with ResultStore(config.store_path) as store:
        Runner(config, store, progress=False).run()
        return _rows(store)


def test_ray_matches_local_runner_and_a_rerun_skips_everything(tmp_path, image_folder, local_rows):
    config = parse_config(_grid(image_folder, tmp_path / "ray.sqlite"))
    with ResultStore(config.store_path) as store:
        executor = RayExecutor(config, store, max_in_flight=2, progress=False)
        summary = executor.run()
        assert summary.units_run == summary.units_total > 0
        assert executor.timings["workers"] == 2
        assert _rows(store) == local_rows
        assert any(r["status"] == "failed" for r in local_rows)  # the corrupt image travels as a failure
        again = RayExecutor(config, store, progress=False).run()
        assert again.units_run == 0 and again.units_skipped == summary.units_total


def test_a_killed_ray_run_resumes_with_only_the_unfinished_units(tmp_path, image_folder, local_rows, monkeypatch):
    config = parse_config(_grid(image_folder, tmp_path / "ray.sqlite"))
    written = []
    original = ResultStore.write_unit

    def dying_write(self, unit, *args, **kwargs):
        if len(written) == 3:
            raise KeyboardInterrupt  # the driver is killed after three units
        written.append(unit)
        return original(self, unit, *args, **kwargs)

    with ResultStore(config.store_path) as store:
        monkeypatch.setattr(ResultStore, "write_unit", dying_write)
        with pytest.raises(KeyboardInterrupt):
            RayExecutor(config, store, progress=False).run()
        monkeypatch.setattr(ResultStore, "write_unit", original)
        assert sorted(store.finished_units()) == sorted(written)
    with ResultStore(config.store_path) as store:
        resumed = RayExecutor(config, store, progress=False).run()
        assert resumed.units_skipped == 3
        assert resumed.units_run == resumed.units_total - 3
        assert _rows(store) == local_rows


def test_cli_run_with_the_ray_executor(tmp_path, image_folder, local_rows, capsys):
    config_path = tmp_path / "tiny.yaml"
    store_path = tmp_path / "cli.sqlite"
    config_path.write_text(yaml.safe_dump(_grid(image_folder, store_path)))
    assert main(["run", str(config_path), "--executor", "ray", "--max-in-flight", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "2 Ray workers" in out and "0 already done" in out
    with ResultStore(store_path) as store:
        assert _rows(store) == local_rows


def test_cli_refuses_ray_options_without_the_ray_executor(tmp_path, image_folder, capsys):
    config_path = tmp_path / "tiny.yaml"
    config_path.write_text(yaml.safe_dump(_grid(image_folder, tmp_path / "s.sqlite")))
    assert main(["run", str(config_path), "--num-gpus", "1"]) == 2
    err = capsys.readouterr().err
    assert "--num-gpus only apply to the Ray executor" in err and "--executor ray" in err
    assert not (tmp_path / "s.sqlite").exists()


def test_cli_names_the_install_when_ray_is_missing(tmp_path, image_folder, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    config_path = tmp_path / "tiny.yaml"
    config_path.write_text(yaml.safe_dump(_grid(image_folder, tmp_path / "s.sqlite")))
    monkeypatch.setattr(builtins, "__import__", no_ray)
    assert main(["run", str(config_path), "--executor", "ray"]) == 2
    assert "pip install 'iqa-bench[ray]'" in capsys.readouterr().err


def test_chunks_travel_without_their_loaders(tmp_path, toy_plugins):
    config = parse_config(
        {
            "datasets": [{"name": "demo", "kind": "demo", "limit": 6}],
            "metrics": ["toy-metric"],
            "attacks": [{"name": "toy-sign", "presets": ["weak"]}],
            "defences": [{"name": "toy-blur"}],
            "certifiers": [],
            "mode": "both",
            "chunk_size": 4,
            "store": str(tmp_path / "s.sqlite"),
        }
    )
    runner = Runner(config, store=None, progress=False)  # type: ignore[arg-type]
    units = runner.load()
    assert {chunk_key(u) for u in units} == {("demo", 0), ("demo", 1)}
    data = runner._load_chunk(units[0])
    shipped = portable(data)
    assert all(item.loader is None for item in shipped.items + shipped.order)
    assert [item.id for item in shipped.items] == [item.id for item in data.items]
    assert all(a is b for a, b in zip(shipped.images, data.images, strict=True))
