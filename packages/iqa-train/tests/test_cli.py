"""``iqa-train adv|nt|fcn CONFIG`` end to end on a tiny folder dataset, and config validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from test_fcn import _pairs

from iqa_train.checkpoint import load
from iqa_train.cli import main
from iqa_train.config import ConfigError, parse_config


def _write(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def _iqa_config(data: Path) -> dict:
    return {
        "out_dir": "run",
        "metric": {"name": "tiny-iqa"},
        "data": {"layout": "folder", "root": str(data), "csv": "scores.csv", "patch_size": 32, "val_fraction": 0.25},
        "train": {"epochs": 2, "batch_size": 2, "lr": 3e-3, "progress": False},
    }


def test_cli_adv_end_to_end_and_resume(tmp_path, folder_dataset, toy_attack_registered, capsys):
    config = _iqa_config(folder_dataset)
    config["adv"] = {"attack": {"name": "toy-sign"}, "eps": [2, 4], "measure": "ssim"}
    path = _write(tmp_path / "adv.yaml", config)
    assert main(["adv", str(path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["epochs"] == 2 and "val_adv_srocc" in summary["last_epoch"]
    assert (tmp_path / "run" / "best.pt").is_file()
    assert main(["adv", str(path), "--epochs", "3"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["resumed_from_epoch"] == 2 and summary["epochs"] == 3


def test_cli_nt_end_to_end(tmp_path, folder_dataset, toy_attack_registered, capsys):
    config = _iqa_config(folder_dataset)
    config["nt"] = {"lambda": 0.0005, "mode": "finite-difference"}
    config["eval_attack"] = {"name": "toy-sign", "preset": "weak"}
    config["export_submodule"] = "net"
    path = _write(tmp_path / "nt.yaml", config)
    assert main(["nt", str(path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert "val_score_change" in summary["last_epoch"]
    assert set(load(tmp_path / "run" / "best.pt")) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert (tmp_path / "run" / "train.txt").is_file()


def test_cli_fcn_end_to_end(tmp_path, capsys):
    _pairs(tmp_path / "pairs", 5)
    config = {
        "out_dir": "fcn",
        "train": {"epochs": 2, "batch_size": 2, "progress": False},
        "fcn": {"clean": "pairs/clean", "attacked": "pairs/attacked"},
    }
    assert main(["fcn", str(_write(tmp_path / "fcn.yaml", config))]) == 0
    assert set(load(tmp_path / "fcn" / "best.pt")) == {"model", "epoch", "val_ssim"}


def test_cli_reports_missing_plugin_and_bad_config(tmp_path, folder_dataset, capsys):
    config = _iqa_config(folder_dataset)
    config["metric"] = {"name": "linearity-not-installed"}
    assert main(["nt", str(_write(tmp_path / "a.yaml", config))]) == 2
    assert "iqa-metrics" in capsys.readouterr().err
    config = _iqa_config(folder_dataset)
    config["train"]["epoch"] = 3
    assert main(["nt", str(_write(tmp_path / "b.yaml", config))]) == 2
    assert "did you mean 'epochs'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c.pop("out_dir"), "out_dir: required"),
        (lambda c: c["data"].update(layout="tid"), "data.layout"),
        (lambda c: c["train"].update(lr=-1), "train.lr"),
        (lambda c: c["train"].update(loss="huber"), "train.loss"),
        (lambda c: c["data"].update(resolution="512x384"), "not an option of the folder layout"),
        (lambda c: c.update(adv={"eps": [0]}), "adv.eps"),
        (lambda c: c.update(nt={}), "unknown key 'nt'"),
        (lambda c: c.update(metric=3), "metric"),
    ],
)
def test_config_validation(folder_dataset, mutate, message):
    config = _iqa_config(folder_dataset)
    mutate(config)
    with pytest.raises(ConfigError, match=message):
        parse_config(config, "adv")


def test_fcn_config_needs_one_source():
    with pytest.raises(ConfigError, match="exactly one"):
        parse_config({"out_dir": "x", "fcn": {"clean": "c"}}, "fcn")
    parsed = parse_config(
        {"out_dir": "x", "fcn": {"clean": "c", "generate": {"metric": "demo-cnniqa", "attack": "advcf"}}}, "fcn", "/b"
    )
    assert parsed.method["clean"] == Path("/b/c") and parsed.train["epochs"] == 200 and parsed.train["lr"] == 1e-3


def test_cli_sub_commands_are_the_config_commands() -> None:
    """The CLI names its sub-commands without importing iqa_train.config (torch): the lists must agree."""
    from iqa_train import cli, config

    assert cli.COMMANDS == config.COMMANDS
