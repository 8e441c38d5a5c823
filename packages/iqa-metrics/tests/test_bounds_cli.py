"""Bounds procedure and the iqa-metrics command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from iqa_core import registry
from iqa_core.testing import ToyMetric, toy_images
from iqa_metrics.bounds import jpeg, load_image, measure_bounds, measure_bounds_in_folder
from iqa_metrics.cli import main
from iqa_metrics.fpr import FPRNet
from iqa_metrics.specs import OFFICIAL_WEIGHTS


def write_images(folder: Path, n: int = 3) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(toy_images(n, (48, 64), seed=3)):
        array = (img * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        Image.fromarray(array).save(folder / f"img{i}.png")


def test_jpeg_round_trip_degrades() -> None:
    x = toy_images(1, (48, 64))[0]
    low, high = jpeg(x, 10), jpeg(x, 95)
    assert low.shape == x.shape and low.dtype == x.dtype
    assert (low - x).abs().mean() > (high - x).abs().mean()


def test_bounds_procedure_on_the_toy_metric() -> None:
    metric = ToyMetric()
    clean = list(toy_images(3, (48, 64), seed=1))
    report = measure_bounds(metric, clean, seed=0)
    with torch.no_grad():
        clean_scores = [float(metric(c.unsqueeze(0))) for c in clean]
        jpeg_scores = [float(metric(jpeg(c, 10).unsqueeze(0))) for c in clean]
    assert report.upper == pytest.approx(max(clean_scores))
    assert report.lower == pytest.approx(min(jpeg_scores + report.noise_scores))
    assert report.jpeg_scores == pytest.approx(jpeg_scores)
    assert len(report.noise_scores) == 3
    assert measure_bounds(metric, clean, seed=0) == report  # reproducible noise
    assert report.bounds.diam == pytest.approx(report.upper - report.lower)


def test_lower_is_better_metric_swaps_roles() -> None:
    class Inverted(ToyMetric):
        name = "toy-inverted"
        higher_is_better = False

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            return -super().forward(images)

    report = measure_bounds(Inverted(), list(toy_images(2, (32, 32), seed=1)))
    assert report.lower == pytest.approx(min(report.clean_scores))
    assert report.upper == pytest.approx(max(report.jpeg_scores + report.noise_scores))


def test_folder_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_images(tmp_path / "hq")
    assert load_image(tmp_path / "hq" / "img0.png").shape == (3, 48, 64)
    report = measure_bounds_in_folder(ToyMetric(), tmp_path / "hq")
    assert report.images == ["img0.png", "img1.png", "img2.png"]
    registry.register("metric", "toy-metric", ToyMetric, replace=True)
    try:
        out = tmp_path / "bounds.json"
        assert main(["bounds", "toy-metric", "--images", str(tmp_path / "hq"), "--output", str(out)]) == 0
    finally:
        registry.unregister("metric", "toy-metric")
    saved = json.loads(out.read_text())
    assert saved["upper"] == pytest.approx(report.upper) and saved["lower"] == pytest.approx(report.lower)
    assert "toy-metric: lower=" in capsys.readouterr().out


def test_download_from_file_checks_layout_and_fills_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IQA_HOME", str(tmp_path / "home"))
    good = tmp_path / "model.pkl"
    torch.save({"state_dict": FPRNet().state_dict(), "epoch": 1}, good)
    assert main(["download", "fpr", "--from", str(good)]) == 0
    assert OFFICIAL_WEIGHTS["fpr"].cache_path.read_bytes() == good.read_bytes()
    bad = tmp_path / "bad.pkl"
    torch.save({"state_dict": {"x": torch.zeros(1)}}, bad)
    assert main(["download", "fpr", "--from", str(bad)]) == 2
    assert "official key layout" in capsys.readouterr().err


def test_download_without_hash_explains_where_to_get_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IQA_HOME", str(tmp_path))
    assert main(["download", "linearity"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("iqa-metrics: error: ") and "p1q2.pth" in err and "--from" in err and err.count("\n") == 1
    assert main(["download", "maniqa"]) == 2
    assert "downloads are disabled" in capsys.readouterr().err
    assert main(["download", "not-a-metric"]) == 2
    assert "no pyiqa" in capsys.readouterr().err
