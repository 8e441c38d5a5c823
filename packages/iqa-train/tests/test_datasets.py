"""Dataset layout readers on fixture trees, splits, patch sampling, image decoding."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from iqa_train import DatasetLayoutError, PatchDataset, folder, kadid10k, koniq10k, livec, make_split, split_dataset
from iqa_train.datasets import read_dataset, read_split
from iqa_train.images import load_image


def _png(path: Path, size=(12, 8), value=100) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)


def _csv(path: Path, header, rows) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def test_koniq10k(tmp_path):
    _csv(
        tmp_path / "koniq10k_scores_and_distributions.csv",
        ["image_name", "c1", "c2", "c3", "c4", "c5", "c_total", "MOS", "SD", "MOS_zscore"],
        [["a.jpg", 0, 1, 2, 3, 4, 10, 3.1, 0.5, 60.0], ["b.jpg", 0, 1, 2, 3, 4, 10, 2.2, 0.4, 40.0]],
    )
    _png(tmp_path / "1024x768" / "a.jpg")
    _png(tmp_path / "1024x768" / "b.jpg")
    items = koniq10k(tmp_path)
    assert [(i.name, i.mos) for i in items] == [("a.jpg", 3.1), ("b.jpg", 2.2)]
    assert items[0].path.parent.name == "1024x768"
    _png(tmp_path / "512x384" / "a.jpg")
    with pytest.raises(DatasetLayoutError, match="missing"):
        koniq10k(tmp_path)  # 512x384 is preferred and lacks b.jpg


def test_kadid10k(tmp_path):
    _csv(tmp_path / "dmos.csv", ["dist_img", "ref_img", "dmos", "var"], [["I01_01_01.png", "I01.png", 4.57, 0.5]])
    _png(tmp_path / "images" / "I01_01_01.png")
    items = kadid10k(tmp_path)
    assert items[0].mos == pytest.approx(4.57)
    (tmp_path / "dmos.csv").write_text("dist_img,ref_img\nx.png,y.png\n")
    with pytest.raises(DatasetLayoutError, match="dmos"):
        kadid10k(tmp_path)


def test_livec_official_mat_layout(tmp_path):
    names = ["t1.bmp", "t2.bmp", "10.JPG", "11.bmp"]
    cell = np.empty((len(names), 1), dtype=object)
    for i, name in enumerate(names):
        cell[i, 0] = np.array([name])
    (tmp_path / "Data").mkdir()
    scipy.io.savemat(tmp_path / "Data" / "AllImages_release.mat", {"AllImages_release": cell})
    scipy.io.savemat(
        tmp_path / "Data" / "AllMOS_release.mat", {"AllMOS_release": np.array([[50.0, 60.0, 70.5, 20.25]])}
    )
    for name in names[:2]:
        _png(tmp_path / "Images" / "trainingImages" / name)
    for name in names[2:]:
        _png(tmp_path / "Images" / name)
    items = livec(tmp_path)
    assert [(i.name, i.mos) for i in items] == [("10.JPG", 70.5), ("11.bmp", 20.25)]
    assert len(livec(tmp_path, include_training_images=True)) == 4
    assert read_dataset("livec", tmp_path)[0].name == "10.JPG"


def test_folder_csv_and_errors(tmp_path):
    _png(tmp_path / "x.png")
    _csv(tmp_path / "labels.csv", ["file", "score"], [["x.png", "0.5"]])
    items = folder(tmp_path, "labels.csv", name_column="file", mos_column="score")
    assert items[0].mos == 0.5
    with pytest.raises(DatasetLayoutError, match="lacks the columns"):
        folder(tmp_path, "labels.csv")
    _csv(tmp_path / "bad.csv", ["name", "mos"], [["x.png", "good"]])
    with pytest.raises(DatasetLayoutError, match="not a number"):
        folder(tmp_path, "bad.csv")
    with pytest.raises(ValueError, match="unknown dataset layout"):
        read_dataset("tid2013", tmp_path)


def test_split_is_deterministic_and_written(tmp_path, folder_dataset):
    names = [f"n{i}" for i in range(10)]
    a = make_split(names, 0.2, seed=1)
    assert a == make_split(list(reversed(names)), 0.2, seed=1)
    assert len(a[1]) == 2 and not set(a[0]) & set(a[1])
    assert a != make_split(names, 0.2, seed=2)
    items = folder(folder_dataset)
    train, val = split_dataset(items, tmp_path / "split", val_fraction=0.25, seed=0)
    assert [i.name for i in val] == read_split(tmp_path / "split" / "val.txt")
    (tmp_path / "split" / "val.txt").write_text(train[0].name + "\n")  # edited by hand: used as is
    with pytest.raises(ValueError, match="share"):
        split_dataset(items, tmp_path / "split")


def test_patch_sampling_is_seeded_by_epoch_and_index(folder_dataset):
    items = folder(folder_dataset)
    ds = PatchDataset(items, patch_size=16, seed=5)
    first, mos = ds[3]
    assert first.shape == (3, 16, 16) and mos.dtype == torch.float32
    assert torch.equal(first, ds[3][0])
    ds.set_epoch(1)
    assert not torch.equal(first, ds[3][0])
    centre = PatchDataset(items, patch_size=16, random=False)[3][0]
    full = items[3].load()
    assert torch.equal(centre, full[:, 12:28, 12:28])
    small = PatchDataset(items, patch_size=64, random=False)[0][0]
    assert small.shape == (3, 64, 64)


def test_load_image_applies_exif_rotation_and_rgb(tmp_path):
    array = np.zeros((10, 20, 3), np.uint8)
    array[:, :10] = 255
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    image.save(tmp_path / "r.jpg", exif=exif)
    loaded = load_image(tmp_path / "r.jpg")
    assert loaded.shape == (3, 20, 10)
    Image.fromarray(np.zeros((5, 6), np.uint8)).save(tmp_path / "g.png")
    assert load_image(tmp_path / "g.png").shape == (3, 5, 6)
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="cannot decode"):
        load_image(tmp_path / "broken.png")
