"""FCN-filter training: the split, the best-by-SSIM checkpoint in iqa-purify's fcn-filter format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_images
from PIL import Image

from iqa_core.testing import ToyMetric, ToySignAttack
from iqa_train import FCNNet, TrainSettings, generate_attacked, read_pairs, train_fcn
from iqa_train.checkpoint import load
from iqa_train.datasets import read_split


def _pairs(root: Path, n: int = 10):
    arrays, _ = make_images(n, size=24, seed=3)
    for i, array in enumerate(arrays):
        (root / "clean").mkdir(parents=True, exist_ok=True)
        (root / "attacked").mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(root / "clean" / f"p{i}.png")
        shifted = np.clip(array.astype(np.int16) + np.array([30, -20, 10]), 0, 255).astype(np.uint8)  # colour cast
        Image.fromarray(shifted).save(root / "attacked" / f"p{i}.png")
    return read_pairs(root / "clean", root / "attacked")


def test_fcn_training_saves_best_in_fcn_filter_format(tmp_path):
    pairs = _pairs(tmp_path)
    settings = TrainSettings(epochs=4, batch_size=4, lr=1e-3, progress=False, monitor="val_ssim")
    result = train_fcn(pairs, tmp_path / "run", settings=settings)
    assert len(read_split(tmp_path / "run" / "val.txt")) == 2  # 80/20
    assert len(read_split(tmp_path / "run" / "train.txt")) == 8
    losses = [row["train_loss"] for row in result.log]
    assert losses[-1] < losses[0]
    best = load(tmp_path / "run" / "best.pt")
    # iqa_purify.fcn.FCNFilter reads checkpoint["model"] and takes hidden from conv2.weight
    assert set(best) == {"model", "epoch", "val_ssim"}
    assert set(best["model"]) == {f"conv{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias")}
    assert best["model"]["conv2.weight"].shape == (16, 64, 3, 3)
    assert best["val_ssim"] == pytest.approx(max(row["val_ssim"] for row in result.log))
    net = FCNNet(hidden=int(best["model"]["conv2.weight"].shape[0]))
    net.load_state_dict(best["model"])
    assert net(torch.rand(1, 3, 8, 8)).shape == (1, 3, 8, 8)


def test_generate_attacked_pairs_once(tmp_path):
    arrays, _ = make_images(3, size=32)
    (tmp_path / "clean").mkdir()
    for i, array in enumerate(arrays):
        Image.fromarray(array).save(tmp_path / "clean" / f"c{i}.jpg")
    pairs = generate_attacked(tmp_path / "clean", tmp_path / "adv", ToyMetric(), ToySignAttack(), progress=False)
    assert [p.name for p in pairs] == ["c0", "c1", "c2"]
    stamp = (tmp_path / "adv" / "c0.png").stat().st_mtime_ns
    generate_attacked(tmp_path / "clean", tmp_path / "adv", ToyMetric(), ToySignAttack(), progress=False)
    assert (tmp_path / "adv" / "c0.png").stat().st_mtime_ns == stamp


def test_read_pairs_needs_every_clean_original(tmp_path):
    _pairs(tmp_path, 3)
    (tmp_path / "clean" / "p1.png").unlink()
    with pytest.raises(FileNotFoundError, match="no clean original"):
        read_pairs(tmp_path / "clean", tmp_path / "attacked")
