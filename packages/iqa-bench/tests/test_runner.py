import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from _grids import toy_grid

from iqa_bench.config import ConfigError, parse_config
from iqa_bench.runner import Runner
from iqa_bench.store import ResultStore

TIMING = ("seconds_attack", "seconds_defence", "seconds_metric")


def _rows(store_path):
    with ResultStore(store_path) as store:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in store.results()]


def test_grid_rows_scores_and_failures(tmp_path, image_folder, toy_plugins):
    config = parse_config(toy_grid(tmp_path, image_folder))
    with ResultStore(config.store_path) as store:
        summary = Runner(config, store, progress=False).run()
        rows = list(store.results())
        assert store.bounds() == {"toy-metric": (0.0, 100.0)}
    # per image: clean (1 + 3 defence presets) + 2 attack presets x (1 + 3) non-adaptive + 2 x 3 adaptive
    assert len(rows) == 10 * (4 + 8 + 6)
    assert len(
        {tuple(r[k] for k in ("image", "attack", "attack_preset", "defence", "defence_preset", "mode")) for r in rows}
    ) == len(rows)
    failed = [r for r in rows if r["status"] == "failed"]
    assert {r["image"] for r in failed} == {"img03.png"} and "cannot load image" in failed[0]["error"]
    assert summary.rows_failed == len(failed)
    done = [r for r in rows if r["status"] == "done"]
    attacked = [r for r in done if r["attack"] == "toy-sign" and r["defence"] == "none"]
    assert all(r["score_attacked"] > r["score_clean"] for r in attacked)
    assert all(r["linf"] <= 8 / 255 + 1e-6 for r in attacked if r["attack_preset"] == "strong")
    blurred = [
        r for r in done if r["defence"] == "toy-blur" and r["attack"] == "toy-sign" and r["mode"] == "non-adaptive"
    ]
    assert all(r["score_purified_clean"] is not None and r["psnr"] > 0 for r in blurred)


def test_rerun_skips_everything_done(tmp_path, image_folder, toy_plugins):
    config = parse_config(toy_grid(tmp_path, image_folder))
    with ResultStore(config.store_path) as store:
        first = Runner(config, store, progress=False).run()
        second = Runner(config, store, progress=False).run()
    assert first.units_run == first.units_total and second.units_run == 0 and second.units_skipped == first.units_total


def test_nan_scores_are_recorded_as_failures(tmp_path, image_folder, toy_plugins):
    config = parse_config(toy_grid(tmp_path, image_folder, metrics=["toy-nan"], attacks=[], mode="non-adaptive"))
    with ResultStore(config.store_path) as store:
        Runner(config, store, progress=False).run()
        rows = list(store.results())
    nan_rows = [r for r in rows if r["image"] == "img07.png"]
    assert nan_rows and all(r["status"] == "failed" and "non-finite" in r["error"] for r in nan_rows)
    assert all(r["status"] == "done" for r in rows if r["image"] not in ("img07.png", "img03.png"))


def test_adversarial_images_are_cached_and_reused(tmp_path, image_folder, toy_plugins):
    config = parse_config(toy_grid(tmp_path, image_folder, mode="non-adaptive"))
    with ResultStore(config.store_path) as store:
        Runner(config, store, progress=False).run()
    cached = list(config.cache_path.rglob("*.pt"))
    assert len(cached) == 3 * 2  # 3 chunks x 2 attack presets, shared by every defence
    # a second run into a fresh store (say, with another defence) reuses them: same files, same rows
    other = parse_config(
        toy_grid(
            tmp_path, image_folder, mode="non-adaptive", store=str(tmp_path / "b.sqlite"), cache=str(config.cache_path)
        )
    )
    with ResultStore(other.store_path) as store:
        Runner(other, store, progress=False).run()
    assert sorted(config.cache_path.rglob("*.pt")) == sorted(cached)
    assert _rows(other.store_path) == _rows(config.store_path)


RUN_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from _toy_plugins import register_toys
register_toys()
from iqa_bench.cli import main
raise SystemExit(main(["run", {config!r}, "--no-progress"]))
"""


def _run_cli(config_path, tests_dir, **kwargs):
    script = RUN_SCRIPT.format(tests=str(tests_dir), config=str(config_path))
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def test_kill_dash_nine_and_restart_gives_the_rows_of_an_uninterrupted_run(tmp_path, image_folder):
    tests_dir = Path(__file__).parent
    raw = toy_grid(tmp_path, image_folder, defences=[{"name": "toy-slow-blur"}, {"name": "toy-noise"}])
    killed_cfg, clean_cfg = tmp_path / "killed.yaml", tmp_path / "clean.yaml"
    killed_cfg.write_text(yaml.safe_dump({**raw, "store": str(tmp_path / "killed" / "results.sqlite")}))
    clean_cfg.write_text(yaml.safe_dump({**raw, "store": str(tmp_path / "clean" / "results.sqlite")}))

    proc = _run_cli(killed_cfg, tests_dir)
    store_path = tmp_path / "killed" / "results.sqlite"
    deadline = time.time() + 120
    units = 0
    while time.time() < deadline and proc.poll() is None:
        if store_path.exists():
            with ResultStore(store_path) as store:
                units = store.counts()["units"]
            if units >= 3:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed; make it slower"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with ResultStore(store_path) as store:
        partial = store.counts()["units"]
    assert partial >= 3

    assert _run_cli(killed_cfg, tests_dir).wait(timeout=300) == 0
    assert _run_cli(clean_cfg, tests_dir).wait(timeout=300) == 0
    resumed, uninterrupted = _rows(store_path), _rows(tmp_path / "clean" / "results.sqlite")
    assert len(resumed) == len(uninterrupted) > 0
    assert resumed == uninterrupted  # none lost, none duplicated, same values


def test_dry_run_prints_the_grid(tmp_path, image_folder, toy_plugins, capsys):
    from iqa_bench.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(toy_grid(tmp_path, image_folder)))
    assert main(["run", str(cfg), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert '"toy": 10' in out and '"result_rows": 180' in out
    assert not (tmp_path / "run" / "results.sqlite").exists()


def test_status_command(tmp_path, image_folder, toy_plugins, capsys):
    from iqa_bench.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(toy_grid(tmp_path, image_folder, mode="non-adaptive", attacks=[])))
    assert main(["run", str(cfg), "--no-progress"]) == 0
    assert main(["status", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "units finished: 3 of 3" in out and "1 failed" not in out


@pytest.mark.parametrize(
    "change, message",
    [
        ({"mode": "sometimes"}, "mode: expected non-adaptive, adaptive or both"),
        ({"attacks": [{"name": "x", "presets": "strong"}]}, "attacks[0].presets: expected a non-empty list"),
        ({"datasets": [{"kind": "koniq10k"}]}, "datasets[0].root"),
        ({"defences": [{"name": "none"}]}, "always evaluated"),
        ({"colour": 1}, "unknown keys ['colour']"),
        ({"batch_size": 0}, "batch_size: expected an integer >= 1"),
    ],
)
def test_config_errors_name_the_key(tmp_path, image_folder, change, message):
    with pytest.raises(ConfigError) as info:
        parse_config(toy_grid(tmp_path, image_folder, **change))
    assert message in str(info.value)


def test_attack_image_limit_evaluates_only_the_first_items(tmp_path, image_folder, toy_plugins):
    raw = toy_grid(
        tmp_path, image_folder, mode="non-adaptive", attacks=[{"name": "toy-sign", "presets": ["weak"], "images": 5}]
    )
    config = parse_config(raw)
    with ResultStore(config.store_path) as store:
        Runner(config, store, progress=False).run()
        attacked = {r["image"] for r in store.results(attack="toy-sign")}
        clean = {r["image"] for r in store.results(attack="none")}
    assert attacked == {f"img{i:02d}.png" for i in range(5)}
    assert len(clean) == 10


def test_presets_all_expands_from_the_registry(tmp_path, image_folder, toy_plugins):
    from iqa_bench.planning import expand_presets

    config = parse_config(toy_grid(tmp_path, image_folder, defences=[{"name": "toy-blur", "presets": "all"}]))
    assert expand_presets(config).defences[0].presets == ("k3", "k5")


def test_kill_then_resume_with_a_changed_config_keeps_nothing_stale(tmp_path, image_folder):
    """kill -9 mid-run, change an attack parameter, resume twice: the store equals an uninterrupted run
    of the changed config (changed units recomputed, their old rows replaced, none duplicated)."""
    tests_dir = Path(__file__).parent
    raw = toy_grid(tmp_path, image_folder, defences=[{"name": "toy-slow-blur"}], mode="non-adaptive")
    store_path = tmp_path / "killed" / "results.sqlite"
    first_cfg, changed_cfg, clean_cfg = tmp_path / "first.yaml", tmp_path / "changed.yaml", tmp_path / "clean.yaml"
    first_cfg.write_text(yaml.safe_dump({**raw, "store": str(store_path)}))
    changed = {**raw, "attacks": [{"name": "toy-sign", "presets": ["weak", "strong"], "params": {"eps": 5 / 255}}]}
    changed_cfg.write_text(yaml.safe_dump({**changed, "store": str(store_path)}))
    clean_cfg.write_text(yaml.safe_dump({**changed, "store": str(tmp_path / "clean" / "results.sqlite")}))

    for attempt in range(2):  # two kills, the second one during the changed config
        proc = _run_cli(first_cfg if attempt == 0 else changed_cfg, tests_dir)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if store_path.exists():
                with ResultStore(store_path) as store:
                    if store.counts()["units"] >= 2 + attempt:
                        break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed; make it slower"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    assert _run_cli(changed_cfg, tests_dir).wait(timeout=300) == 0
    assert _run_cli(clean_cfg, tests_dir).wait(timeout=300) == 0
    resumed, uninterrupted = _rows(store_path), _rows(tmp_path / "clean" / "results.sqlite")
    assert len(resumed) == len(uninterrupted) > 0
    assert resumed == uninterrupted
    attacked = [r for r in resumed if r["attack"] == "toy-sign" and r["defence"] == "none" and r["status"] == "done"]
    assert attacked and all(abs(r["linf"] - 5 / 255) < 1e-6 for r in attacked)  # the new eps, not a cached old one
