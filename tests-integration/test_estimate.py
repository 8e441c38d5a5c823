"""``iqa-bench estimate``: dataset-free planning, throughput profiles and the cost arithmetic."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from iqa_bench import datasets as ds_sources
from iqa_bench.commands import estimate as estimate_command
from iqa_bench.config import load_config, parse_config
from iqa_bench.cost import estimate_cost, load_profile, save_profile
from iqa_bench.cost import profile as P
from iqa_bench.datasets.official import OFFICIAL
from iqa_bench.planning import expand_presets, plan, plan_without_data
from iqa_bench.sampling import sample_items

PAPER = Path(__file__).resolve().parents[1] / "configs" / "paper.yaml"


# ---------------------------------------------------------------------------------------- fake datasets
def _write_official_layout(root: Path, kind: str) -> None:
    """The official score file with the official number of rows (no pixels: planning reads none)."""
    n = OFFICIAL[kind].count
    root.mkdir(parents=True)
    if kind == "koniq10k":
        (root / "512x384").mkdir()
        lines = ["image_name,MOS"] + [f"{i}.jpg,{50 + i % 7}" for i in range(n)]
        (root / "koniq10k_scores_and_distributions.csv").write_text("\n".join(lines))
    elif kind == "kadid10k":
        (root / "images").mkdir()
        lines = ["dist_img,ref_img,dmos"] + [
            f"I{r:02d}_{d:02d}_{lv:02d}.png,I{r:02d}.png,{1 + lv / 2}"
            for r in range(1, 82)
            for d in range(1, 26)
            for lv in range(1, 6)
        ]
        assert len(lines) - 1 == n
        (root / "dmos.csv").write_text("\n".join(lines))
    elif kind == "nips2017":
        (root / "images").mkdir()
        (root / "images.csv").write_text("\n".join(["ImageId,TrueLabel"] + [f"img{i},{i % 1000}" for i in range(n)]))
    else:
        (root / "images").mkdir()
        (root / "data.csv").write_text("\n".join(["name,mos_quality"] + [f"a{i}.png,{i % 5}" for i in range(n)]))


def test_paper_plan_without_datasets_is_the_planners_plan_on_official_size_datasets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the config's data/ folders are absent here
    config = load_config(PAPER)
    assert not Path(config.datasets[0].root or "").exists()
    planned_config, planned, units = plan_without_data(config)
    assert {name: len(d.items) for name, d in planned.items()} == dict.fromkeys(planned, 1000)
    assert planned["nips2017"].size == (299, 299) and planned["agiqa3k"].size == (512, 512)
    assert all("official figures" in d.source for d in planned.values())

    # The planner's own path: the official layouts on disk, sampled by the benchmark's sampling.
    items = {}
    rng = np.random.default_rng(0)
    for spec in config.datasets:
        root = tmp_path / "fake" / spec.kind
        _write_official_layout(root, spec.kind)
        listed = getattr(ds_sources, spec.kind)(root)
        assert len(listed) == OFFICIAL[spec.kind].count
        if spec.sample and "references" in spec.sample:
            listed = sample_items(listed, references=spec.sample["references"], seed=spec.sample["seed"])
        elif spec.sample:
            feats = rng.normal(size=(len(listed), 3))  # K-Means on stand-in features (no pixels on disk)
            listed = sample_items(listed, **spec.sample, feats=feats)
        items[spec.name] = listed
    expected = plan(expand_presets(config), items)
    assert len(units) == len(expected)
    assert units == expected
    kinds = Counter(u.kind for u in units)
    assert kinds == {"clean": 720, "non-adaptive": 24_300, "adaptive": 1_846_800, "certify": 216}
    assert planned_config.defences[0].presets != ("all",)  # presets expanded from the registry


# ---------------------------------------------------------------------------------------- a hand-made profile
SMALL = {
    "name": "small",
    "datasets": [{"name": "nips", "kind": "nips2017", "root": "absent/nips2017", "limit": 10}],
    "metrics": ["demo-cnniqa"],
    "attacks": [{"name": "fgsm", "presets": ["medium"]}],
    "defences": [{"name": "jpeg", "presets": ["q50"]}],
    "certifiers": [{"name": "rs", "presets": ["fast"], "images": 3}],
    "mode": "both",
    "chunk_size": 4,
    "device": "cpu",
}


def _point(**times: float) -> dict[str, Any]:
    return {"height": 299, "width": 299, "batch": 1, **times}


def hand_profile(device_type: str = "cuda", name: str = "nvidia-a100-sxm4-80gb") -> dict[str, Any]:
    profile = P.empty_profile({"type": device_type, "name": name, "threads": 1, "torch": "x"})
    profile["metrics"]["demo-cnniqa"] = {"points": [_point(forward=1.0, backward=3.0)], "build": 0.0, "proxy": None}
    profile["defences"]["jpeg"] = {"q50": {"points": [_point(forward=0.5, backward=0.5)], "randomized": False}}
    profile["attacks"]["fgsm"] = {
        "medium": {"grad_evals": 1, "evals": 2, "overhead_fixed": 0.1, "overhead_per_mpix": 0.0, "fit": None}
    }
    profile["certifiers"]["rs"] = {"fast": {"evals": 100, "overhead_fixed": 2.0, "overhead_per_mpix": 0.0}}
    profile["runner"] = {"row": 0.01, "unit": 0.1, "measures_per_mpix": 0.0, "decode_per_mpix": 0.0}
    return profile


def test_estimate_arithmetic_on_a_hand_made_profile(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config, planned, units = plan_without_data(parse_config(SMALL))
    assert len(planned["nips"].items) == 10 and planned["nips"].size == (299, 299)
    cost = estimate_cost(config, planned, units, hand_profile())
    # 10 images in chunks of 4, 4, 2: 3 clean, 3 non-adaptive, 3 adaptive units and 1 certify unit.
    units_s = 10 * 0.1
    clean = 10 * (1.0 + (0.5 + 1.0)) + 10 * 2 * 0.01  # f(x); f(P(x)); two rows per image
    attack = 1 * 3.0 + 2 * 1.0 + 0.1
    non_adaptive = 10 * (attack + 1.0 + (0.5 + 1.0)) + 10 * 2 * 0.01
    attack_defended = 1 * (0.5 + 3.0) + 2 * (0.5 + 1.0) + 0.1  # jpeg is deterministic: one draw
    adaptive = 10 * (attack_defended + 1.0 + 0.5 + 1.0 + 0.01)
    certify = 3 * (100 * 1.0 + 2.0 + 0.01)
    assert cost.total_seconds == pytest.approx(units_s + clean + non_adaptive + adaptive + certify)
    assert cost.parts["mode"]["adaptive"] == pytest.approx(adaptive + 3 * 0.1)
    assert cost.parts["mode"]["certify"] == pytest.approx(certify + 0.1)
    assert cost.parts["certifier"]["rs"] == pytest.approx(certify + 0.1)
    assert cost.parts["defence"]["jpeg"] == pytest.approx(10 * 1.5 + 10 * 1.5 + adaptive + 3 * 0.1)
    assert sum(cost.parts["metric"].values()) == pytest.approx(cost.total_seconds)
    assert cost.counts["result_rows"] == 10 * 2 + 10 * 2 + 10 + 3


def test_a_randomized_defence_multiplies_the_adaptive_target_by_the_eot_draws(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config, planned, units = plan_without_data(parse_config({**SMALL, "certifiers": [], "eot_samples": 4}))
    profile = hand_profile()
    plain = estimate_cost(config, planned, units, profile).parts["mode"]["adaptive"]
    profile["defences"]["jpeg"]["q50"]["randomized"] = True
    eot = estimate_cost(config, planned, units, profile).parts["mode"]["adaptive"]
    per_image_target = 1 * (0.5 + 3.0) + 2 * (0.5 + 1.0)
    assert eot - plain == pytest.approx(10 * 3 * per_image_target)


def test_a_profile_missing_a_component_is_refused_naming_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config, planned, units = plan_without_data(parse_config(SMALL))
    profile = hand_profile()
    del profile["attacks"]["fgsm"]
    with pytest.raises(P.ProfileError, match=r"attacks/fgsm\[medium\].*--measure"):
        estimate_cost(config, planned, units, profile)


# ---------------------------------------------------------------------------------------- profiles as files
def test_profile_json_round_trip(tmp_path):
    profile = hand_profile()
    path = save_profile(profile, tmp_path / "sub" / "gpu.json")
    assert load_profile(path) == profile
    assert json.loads(path.read_text())["device"]["name"] == "nvidia-a100-sxm4-80gb"


def test_a_bad_profile_file_is_refused_with_the_fix(tmp_path):
    with pytest.raises(P.ProfileError, match="--measure"):
        load_profile(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(P.ProfileError, match="not readable JSON"):
        load_profile(tmp_path / "bad.json")


def _args(config: Path, **extra: Any) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    estimate_command.add_arguments(parser)
    options = [str(config)]
    for key, value in extra.items():
        options.append("--" + key.replace("_", "-"))
        if value is not True:
            options.append(str(value))
    return parser.parse_args(options)


def _no_measuring(monkeypatch):
    import iqa_bench.cost.measure as measure_module

    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("the estimate measured although a complete profile was given")

    monkeypatch.setattr(measure_module, "measure", refuse)


def test_a_profile_from_another_device_is_used_as_given(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _no_measuring(monkeypatch)
    config = tmp_path / "small.yaml"
    config.write_text(json.dumps({**SMALL, "device": "cuda"}))  # JSON is YAML; a CUDA config on this CPU machine
    profile = save_profile(hand_profile(), tmp_path / "a100.json")
    assert estimate_command.main(_args(config, profile=profile, json=True)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["cost"]["device"]["name"] == "nvidia-a100-sxm4-80gb"
    planned_config, planned, units = plan_without_data(parse_config(SMALL))
    expected = estimate_cost(planned_config, planned, units, hand_profile()).total_seconds
    assert out["cost"]["total_device_seconds"] == pytest.approx(expected)
    assert out["grid"]["units"] == {"clean": 3, "non-adaptive": 3, "adaptive": 3, "certify": 1}

    assert estimate_command.main(_args(config, profile=profile)) == 0
    text = capsys.readouterr().out
    assert "device-hours on cuda (nvidia-a100-sxm4-80gb)" in text and "25,000 GPU-h" in text


def test_run_dry_run_arguments_reach_the_estimate_with_the_cached_profile(tmp_path, monkeypatch, capsys):
    """``run --dry-run`` passes the run parser's namespace (no estimate options): the cached profile is used."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IQA_BENCH_PROFILE_DIR", str(tmp_path / "profiles"))
    _no_measuring(monkeypatch)
    save_profile(hand_profile("cpu", "here"), P.default_profile_path("cpu"))
    config = tmp_path / "small.yaml"
    config.write_text(json.dumps({**SMALL, "device": "cuda"}))
    from iqa_bench.commands import run as run_command

    parser = argparse.ArgumentParser()
    run_command.add_arguments(parser)
    assert run_command.main(parser.parse_args([str(config), "--dry-run"])) == 0
    text = capsys.readouterr().out
    assert "device-hours on cpu (here)" in text and "projected from CPU figures" in text


def test_run_dry_run_without_a_profile_prints_the_counts_and_measures_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IQA_BENCH_PROFILE_DIR", str(tmp_path / "profiles"))
    _no_measuring(monkeypatch)
    config = tmp_path / "small.yaml"
    config.write_text(json.dumps(SMALL))
    from iqa_bench.cli import main

    assert main(["run", str(config), "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["units"] == {"clean": 3, "non-adaptive": 3, "adaptive": 3, "certify": 1}
    assert "is not measured yet" in captured.err and "iqa-bench estimate" in captured.err
    assert not (tmp_path / "profiles").exists()


def test_paper_estimate_without_datasets_or_cuda(tmp_path, monkeypatch, capsys):
    """The paper config (device: cuda, data/ absent) on this CPU machine, with a complete profile."""
    monkeypatch.chdir(tmp_path)
    _no_measuring(monkeypatch)
    config = expand_presets(load_config(PAPER))
    profile = hand_profile("cpu", "here")
    point = {"height": 384, "width": 512, "batch": 1, "forward": 0.01, "backward": 0.03}
    for name, wanted in P.needed(config).items():
        for component, preset in wanted:
            if name == "metrics":
                profile["metrics"][component] = {"points": [point]}
            elif name == "defences":
                profile["defences"].setdefault(component, {})[preset] = {"points": [point]}
            elif name == "attacks":
                profile["attacks"].setdefault(component, {})[preset] = dict(profile["attacks"]["fgsm"]["medium"])
            else:
                profile["certifiers"].setdefault(component, {})[preset] = dict(profile["certifiers"]["rs"]["fast"])
    path = save_profile(profile, tmp_path / "p.json")
    assert estimate_command.main(_args(PAPER, profile=path, json=True)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["grid"]["attacked_images"] == 93_555_000
    assert set(out["cost"]["device_hours"]["mode"]) >= {"clean", "non-adaptive", "adaptive", "certify"}
    assert out["cost"]["paper_gpu_hours"] == 25_000
    assert out["cost"]["total_device_hours"] > 0


# ---------------------------------------------------------------------------------------- measuring
def tiny(**overrides: Any) -> Any:
    """An expanded config small enough to measure in seconds: the demo, FGSM weak, flip."""
    raw = {
        "name": "tiny",
        "datasets": ["demo"],
        "metrics": ["demo-cnniqa"],
        "attacks": [{"name": "fgsm", "presets": ["weak"]}],
        "defences": [{"name": "flip"}],
        "batch_size": 2,
    }
    return expand_presets(parse_config({**raw, **overrides}))


def test_measuring_a_small_config_fills_a_complete_profile(tmp_path, monkeypatch):
    from iqa_bench.cost.measure import measure

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = tiny(certifiers=[{"name": "ms", "presets": ["fast"]}])
    profile = measure(config, [(32, 48)])
    assert P.missing(profile, config, [(32, 48)]) == []
    entry = profile["attacks"]["fgsm"]["weak"]
    assert entry["grad_evals"] == 1 and entry["proxy"] is None  # FGSM: one gradient of the target
    assert profile["certifiers"]["ms"]["fast"]["evals"] == pytest.approx(256, rel=0.1)  # n = 256 samples
    assert profile["metrics"]["demo-cnniqa"]["points"][0]["backward"] > 0
    path = save_profile(profile, tmp_path / "here.json")
    assert load_profile(path) == json.loads(json.dumps(profile))


def test_a_precision_switch_is_costed_from_its_own_profile_entry(tmp_path, monkeypatch):
    """Lower precision is measured, not assumed: the estimate wants the metric's entry tagged with
    the switches and uses its figures."""
    monkeypatch.chdir(tmp_path)
    raw = {**SMALL, "certifiers": [], "precision": {"autocast": "bf16", "channels_last": True}}
    config, planned, units = plan_without_data(parse_config(raw))
    assert P.metric_key(config, "demo-cnniqa") == "demo-cnniqa#bf16+channels_last"
    profile = hand_profile()
    with pytest.raises(P.ProfileError, match=r"metrics/demo-cnniqa#bf16\+channels_last"):
        estimate_cost(config, planned, units, profile)
    full = estimate_cost(*plan_without_data(parse_config({**SMALL, "certifiers": []}))[:3], hand_profile())
    fast_entry = json.loads(json.dumps(profile["metrics"]["demo-cnniqa"]))
    fast_entry["points"][0].update(forward=0.5, backward=1.5)  # a metric twice as fast
    profile["metrics"]["demo-cnniqa#bf16+channels_last"] = fast_entry
    fast = estimate_cost(config, planned, units, profile)
    assert fast.total_seconds < full.total_seconds


def test_measure_size_parses_height_by_width_and_refuses_nonsense():
    assert estimate_command._parse_size("192x256") == (192, 256)
    with pytest.raises(SystemExit, match="HEIGHTxWIDTH"):
        estimate_command._parse_size("large")
    with pytest.raises(SystemExit, match="at least 16"):
        estimate_command._parse_size("8x8")


def test_measuring_at_one_size_scales_to_the_datasets_and_names_the_assumption(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = tmp_path / "tiny.yaml"
    config.write_text(
        "name: tiny\ndatasets: [{name: demo, kind: demo, limit: 4}]\nmetrics: [demo-cnniqa]\n"
        "attacks: [{name: fgsm, presets: [weak]}]\ndefences: [flip]\nmode: non-adaptive\nbatch_size: 2\n"
    )
    args = _args(config, json=True, measure=True, measure_size="32x48", profile_out=str(tmp_path / "p.json"))
    assert estimate_command.main(args) == 0
    out = json.loads(capsys.readouterr().out)
    profile = load_profile(tmp_path / "p.json")
    assert [(p["height"], p["width"]) for p in profile["metrics"]["demo-cnniqa"]["points"]] == [(32, 48)]
    assert any("measured at 32x48 only" in a for a in out["cost"]["assumptions"])
    assert out["cost"]["total_device_hours"] > 0


def test_learned_measures_are_priced_per_attacked_row(tmp_path, monkeypatch):
    """``measures: [lpips]`` adds LPIPS's forward to every attacked row (undefended and per defence
    preset for non-adaptive units, one row per adaptive image); clean rows have no x' to measure."""
    monkeypatch.chdir(tmp_path)
    small = {**SMALL, "certifiers": []}
    config, planned, units = plan_without_data(parse_config(small))
    profile = hand_profile()
    plain = estimate_cost(config, planned, units, profile)
    config, planned, units = plan_without_data(parse_config({**small, "measures": ["lpips"]}))
    with pytest.raises(P.ProfileError, match=r"measures/lpips.*--measure"):
        estimate_cost(config, planned, units, profile)
    profile["measures"]["lpips"] = {"points": [_point(forward=0.25)], "build": 2.0}
    priced = estimate_cost(config, planned, units, profile)
    assert priced.parts["mode"]["non-adaptive"] - plain.parts["mode"]["non-adaptive"] == pytest.approx(10 * 2 * 0.25)
    assert priced.parts["mode"]["adaptive"] - plain.parts["mode"]["adaptive"] == pytest.approx(10 * 0.25)
    assert priced.parts["mode"]["clean"] == pytest.approx(plain.parts["mode"]["clean"])
    assert priced.total_seconds - plain.total_seconds == pytest.approx(10 * 3 * 0.25 + 2.0)  # + building it once


def test_measuring_lpips_fills_its_profile_entry_offline(tmp_path, monkeypatch):
    from iqa_bench.cost.measure import measure

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("IQA_OFFLINE", "1")
    config = tiny(measures=["lpips"])
    profile = measure(config, [(32, 48)])
    assert P.missing(profile, config, [(32, 48)]) == []
    assert profile["measures"]["lpips"]["points"][0]["forward"] > 0


def test_a_failing_component_is_left_out_and_each_measured_one_is_checkpointed(tmp_path, monkeypatch):
    """Measuring the paper grid takes hours: one component that cannot be measured (here an attack
    that raises) is reported and left out, every other one is measured, and the profile is saved
    after each, so an interrupted measurement resumes instead of starting again."""
    from iqa_bench.cost import measure as measure_module

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = tiny(attacks=[{"name": "fgsm", "presets": ["weak", "strong"]}])
    real = measure_module.Profiler.measure_attack

    def flaky(self, name, preset, params):
        if preset == "strong":
            raise RuntimeError("out of memory")
        return real(self, name, preset, params)

    monkeypatch.setattr(measure_module.Profiler, "measure_attack", flaky)
    said, saved = [], []
    profile = measure_module.measure(
        config, [(32, 48)], say=said.append, checkpoint=lambda p: saved.append(json.loads(json.dumps(p)))
    )
    assert P.missing(profile, config, [(32, 48)]) == ["attacks/fgsm[strong]"]
    assert any("could not measure attack fgsm[strong]: RuntimeError: out of memory" in line for line in said)
    assert len(saved) == 4  # runner, metric, flip, fgsm[weak]
    assert "weak" in saved[-1]["attacks"]["fgsm"] and saved[0]["runner"] and not saved[0]["metrics"]
    monkeypatch.setattr(measure_module.Profiler, "measure_attack", real)
    resumed = measure_module.measure(config, [(32, 48)], saved[-1], checkpoint=saved.append)
    assert P.missing(resumed, config, [(32, 48)]) == [] and len(saved) == 5  # only the missing one was measured


def test_zhang_with_dists_is_measured_offline_on_random_backbones(tmp_path, monkeypatch):
    """Zhang et al.'s DISTS variant builds DISTS on first use: the profiler gives it a stand-in, so it is
    measured itself (not through the I-FGSM proxy) and nothing tries to download VGG16."""
    from iqa_bench.cost.measure import measure

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("IQA_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))  # no cached VGG16 to fall back on
    profile = measure(tiny(attacks=[{"name": "zhang-dists", "presets": ["weak"]}]), [(32, 48)])
    entry = profile["attacks"]["zhang-dists"]["weak"]
    assert entry["proxy"] is None and entry["grad_evals"] > 0
    assert not (tmp_path / "empty-torch-home").exists()
