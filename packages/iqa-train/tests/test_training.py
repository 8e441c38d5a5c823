"""The training loop: losses decrease, resume after an interrupt equals an uninterrupted run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import TinyIQA

from iqa_core.testing import ToySignAttack
from iqa_train import TrainSettings, folder, split_dataset, train_adversarial, train_nt
from iqa_train.checkpoint import load


def _settings(epochs: int, **kw) -> TrainSettings:
    base = {"epochs": epochs, "batch_size": 2, "lr": 3e-3, "progress": False, "seed": 3}
    base.update(kw)
    return TrainSettings(**base)


def _data(root: Path, out: Path):
    items = folder(root, "scores.csv")
    return split_dataset(items, out, val_fraction=0.25, seed=0)


def test_nt_loss_decreases(folder_dataset, tmp_path):
    train, val = _data(folder_dataset, tmp_path / "run")
    result = train_nt(TinyIQA(), train, val, tmp_path / "run", settings=_settings(6), lam=1e-4, patch_size=32)
    losses = [row["iqa_loss"] for row in result.log]
    assert losses[-1] < 0.7 * losses[0]
    assert all("val_srocc" in row and "grad_l1_rms" in row for row in result.log)
    assert result.best is not None and result.best.is_file()


def test_adversarial_loss_decreases_and_logs_attacked_metrics(folder_dataset, tmp_path):
    train, val = _data(folder_dataset, tmp_path / "run")
    attacks = [ToySignAttack(eps=2 / 255)]
    result = train_adversarial(
        TinyIQA(), train, val, tmp_path / "run", settings=_settings(6), attacks=attacks, patch_size=32
    )
    losses = [row["train_loss"] for row in result.log]
    assert losses[-1] < 0.7 * losses[0]
    last = result.log[-1]
    for key in ("val_srocc", "val_plcc", "val_adv_srocc", "val_adv_plcc", "val_score_change", "distance"):
        assert key in last
    assert last["val_score_change"] > 0
    lines = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == list(range(1, 7))


class _Kill(RuntimeError):
    pass


def _kill_after(epoch_to_die: int):
    def hook(epoch: int, row: dict) -> None:
        if epoch + 1 == epoch_to_die:
            raise _Kill(f"killed after epoch {epoch + 1}")

    return hook


@pytest.mark.parametrize("method", ["adv", "nt"])
def test_resume_after_interrupt_is_bit_identical(folder_dataset, tmp_path, method):
    def run(out: Path, epochs: int, hook=None):
        train, val = _data(folder_dataset, out)
        model = TinyIQA(dropout=0.2)
        settings = _settings(epochs, optimizer="adam")
        if method == "adv":
            return train_adversarial(
                model,
                train,
                val,
                out,
                settings=settings,
                attacks=[ToySignAttack(eps=2 / 255), ToySignAttack(eps=8 / 255)],
                patch_size=24,
                on_epoch_end=hook,
            )
        return train_nt(model, train, val, out, settings=settings, lam=1e-3, patch_size=24, on_epoch_end=hook)

    straight = run(tmp_path / "straight", 4)
    with pytest.raises(_Kill):
        run(tmp_path / "killed", 4, _kill_after(2))
    assert load(tmp_path / "killed" / "checkpoint.pt")["epoch"] == 1
    resumed = run(tmp_path / "killed", 4)
    assert resumed.resumed_from == 2
    a = load(straight.checkpoint)
    b = load(resumed.checkpoint)
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert [r["train_loss"] for r in a["log"]] == [r["train_loss"] for r in b["log"]]
    assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys()
    for index, state in a["optimizer"]["state"].items():
        assert torch.equal(state["exp_avg"], b["optimizer"]["state"][index]["exp_avg"])


def test_checkpoint_contents(folder_dataset, tmp_path):
    train, val = _data(folder_dataset, tmp_path / "run")
    result = train_nt(TinyIQA(), train, val, tmp_path / "run", settings=_settings(1), lam=0.0, patch_size=32)
    state = load(result.checkpoint)
    assert {"model", "optimizer", "scaler", "epoch", "log", "rng", "settings", "best_value"} <= set(state)
    assert {"torch", "numpy", "python"} <= set(state["rng"])
    best = load(tmp_path / "run" / "best.pt")
    assert set(best) == set(TinyIQA().state_dict())


def test_export_submodule_writes_plain_state_dict(folder_dataset, tmp_path):
    train, val = _data(folder_dataset, tmp_path / "run")
    train_nt(
        TinyIQA(), train, val, tmp_path / "run", settings=_settings(1), lam=0.0, patch_size=32, export_submodule="net"
    )
    best = load(tmp_path / "run" / "best.pt")
    assert set(best) == set(TinyIQA().net.state_dict())
    info = json.loads((tmp_path / "run" / "best.json").read_text())
    assert info["submodule"] == "net" and info["monitor"] == "val_srocc"
