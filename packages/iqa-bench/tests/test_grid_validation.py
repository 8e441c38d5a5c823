"""The whole grid is validated before anything runs; score files with duplicates or bad MOS are refused."""

from __future__ import annotations

import pytest
import yaml

from iqa_bench.cli import main
from iqa_bench.config import ConfigError, parse_config
from iqa_bench.datasets import DatasetLayoutError, folder
from iqa_bench.validation import grid_problems


def _raw(tmp_path, image_folder, **overrides):
    raw = {
        "name": "v",
        "datasets": [{"name": "toy", "kind": "folder", "root": str(image_folder), "csv": "mos.csv"}],
        "metrics": ["toy-metric"],
        "attacks": [{"name": "toy-sign", "presets": ["weak"]}],
        "defences": [{"name": "toy-blur", "presets": ["k3"]}],
        "device": "cpu",
        "store": str(tmp_path / "run" / "results.sqlite"),
    }
    raw.update(overrides)
    return raw


@pytest.mark.parametrize("section", ["metrics", "attacks", "defences"])
def test_a_component_listed_twice_is_refused(tmp_path, image_folder, section):
    raw = _raw(tmp_path, image_folder)
    entry = raw[section][0]
    raw[section] = [entry, entry]
    with pytest.raises(ConfigError, match=rf"{section}\[1\]: .* is listed twice"):
        parse_config(raw)


def test_a_preset_listed_twice_is_refused(tmp_path, image_folder):
    with pytest.raises(ConfigError, match="presets listed more than once"):
        parse_config(_raw(tmp_path, image_folder, attacks=[{"name": "toy-sign", "presets": ["weak", "weak"]}]))


def test_every_grid_problem_is_listed_at_once(tmp_path, image_folder, toy_plugins):
    config = parse_config(
        _raw(
            tmp_path,
            image_folder,
            metrics=["toy-metric", "no-such-metric"],
            attacks=[{"name": "toy-sign", "presets": ["weak", "brutal"], "params": {"eps": "big", "steps": 3}}],
            defences=[{"name": "toy-blur", "presets": ["k3"], "params": {"kernel_size": 2.5}}],
        )
    )
    problems = grid_problems(config)
    text = "\n".join(problems)
    assert "metrics[1] (no-such-metric)" in text
    assert "has no preset 'brutal'; its presets: weak, medium, strong" in text
    assert "params.eps: expected a number, got 'big'" in text
    assert "params.steps: no such parameter; its parameters: eps" in text
    assert len(problems) >= 4


def test_a_valid_grid_has_no_problems(tmp_path, image_folder, toy_plugins):
    assert grid_problems(parse_config(_raw(tmp_path, image_folder))) == []


def test_dry_run_and_run_exit_2_with_one_message(tmp_path, image_folder, toy_plugins, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_raw(tmp_path, image_folder, attacks=[{"name": "toy-sign", "presets": ["x"]}])))
    for extra in (["--dry-run"], []):
        assert main(["run", str(path), "--no-progress", *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("iqa-bench: error: the configuration has 1 problem(s)") and "no preset 'x'" in err
        assert "Traceback" not in err


def test_score_file_duplicates_and_bad_mos_are_refused_with_line_numbers(tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    (root / "mos.csv").write_text("name,mos\na.png,3.5\nb.png,nan\na.png,4\nc.png,\nd.png,inf\n")
    with pytest.raises(DatasetLayoutError) as info:
        folder(root, "mos.csv")
    message = str(info.value)
    assert "4 bad line(s)" in message
    assert "line 3: mos of 'b.png' is 'nan'" in message
    assert "line 4: image 'a.png' again (first on line 2)" in message
    assert "line 5: mos of 'c.png' is ''" in message and "line 6" in message


def test_dry_run_of_a_cuda_config_needs_no_gpu_and_a_real_run_says_why_not(tmp_path, image_folder, toy_plugins, capsys):
    import torch

    path = tmp_path / "cuda.yaml"
    path.write_text(yaml.safe_dump(_raw(tmp_path, image_folder, device="cuda")))
    assert main(["run", str(path), "--dry-run"]) == 0
    assert '"result_rows"' in capsys.readouterr().out
    if not torch.cuda.is_available():
        assert main(["run", str(path), "--no-progress"]) == 2
        assert "CUDA is not available; use device='cpu' or 'auto'" in capsys.readouterr().err
