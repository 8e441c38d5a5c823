"""Preset calibration (benchmark A.3.4) and the ``iqa-attacks calibrate`` command."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from iqa_attacks import FGSM, IFGSM, MIFGSM, CalibrationSpec, calibrate, calibrate_joint, load_presets
from iqa_attacks.calibrate import fit_line
from iqa_attacks.cli import main
from iqa_core import registry
from iqa_core.measures import linf
from iqa_core.testing import ToyMetric, toy_images


def test_fgsm_calibration_recovers_the_targets():
    result = calibrate(FGSM, ToyMetric(), toy_images(3, (32, 32)))
    assert result.parameter == "eps" and result.measure == "linf"
    assert len(result.values) == 10
    solved = [result.presets[s]["eps"] * 255 for s in ("weak", "medium", "strong")]
    assert np.allclose(solved, [2, 4, 8], atol=0.05)


def test_ifgsm_calibration_solves_the_step_size_and_sets_the_budget():
    metric, x = ToyMetric(), toy_images(3, (32, 32), seed=2)
    result = calibrate(IFGSM, metric, x)
    alphas = [result.presets[s]["alpha"] for s in ("weak", "medium", "strong")]
    assert alphas[0] < alphas[1] < alphas[2]
    assert [round(result.presets[s]["eps"] * 255, 6) for s in ("weak", "medium", "strong")] == [2, 4, 8]
    assert result.presets["medium"]["iterations"] == 10
    # the calibrated presets land near their targets
    for strength, target in zip(("weak", "medium", "strong"), (2, 4, 8), strict=True):
        adv = IFGSM(**result.presets[strength])(metric, x)
        assert abs(float(linf(x, adv).mean()) * 255 - target) < 0.6


def test_joint_calibration_moves_several_parameters_together():
    metric, x = ToyMetric(), toy_images(2, (32, 32), seed=1)
    result = calibrate_joint(
        MIFGSM,
        metric,
        x,
        {"alpha": (2e-4, 2e-3), "iterations": (2, 10)},
        measure="linf",
        fixed={"eps": 10 / 255},
        integer=("iterations",),
        count=6,
    )
    assert result.parameter == "t" and set(result.joint) == {"alpha", "iterations"}
    weak, strong = result.presets["weak"], result.presets["strong"]
    assert weak["alpha"] < strong["alpha"] and weak["iterations"] <= strong["iterations"]
    assert isinstance(strong["iterations"], int)


def test_explicit_spec_and_values_and_errors():
    spec = CalibrationSpec("eps", 1 / 255, 10 / 255, "linf", budget_param="eps")
    result = calibrate(FGSM, ToyMetric(), toy_images(2, (24, 24)), spec=spec, values=[1 / 255, 5 / 255, 9 / 255])
    assert result.values == [1 / 255, 5 / 255, 9 / 255]
    with pytest.raises(ValueError, match="does not change"):
        fit_line([1, 2, 3], [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="calibration spec"):
        calibrate(object, ToyMetric(), toy_images(1, (16, 16)))


def test_cli_calibrate_writes_a_preset_file(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for i, image in enumerate(toy_images(3, (24, 24), seed=4)):
        array = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        Image.fromarray(array).save(folder / f"{i}.png")
    out = tmp_path / "presets.json"
    registry.register("metric", "toy-calibration-metric", ToyMetric, replace=True)
    try:
        code = main(
            ["calibrate", "fgsm", "--metric", "toy-calibration-metric", "--images", str(folder), "--out", str(out)]
        )
    finally:
        registry.unregister("metric", "toy-calibration-metric")
    assert code == 0
    data = json.loads(out.read_text())
    assert data["attack"] == "fgsm" and data["metric"] == "toy-metric"
    presets = load_presets(out)
    assert list(presets) == ["weak", "medium", "strong"]
    assert abs(presets["strong"]["eps"] * 255 - 8) < 0.1
    # the presets build the attack through the registry
    attack = registry.create("attack", "ifgsm", **{"eps": presets["weak"]["eps"]})
    assert attack(ToyMetric(), toy_images(1, (16, 16)), generator=torch.Generator().manual_seed(0)).shape == (
        1,
        3,
        16,
        16,
    )


def test_cli_joint_mode(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for i, image in enumerate(toy_images(2, (20, 20), seed=6)):
        Image.fromarray((image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(folder / f"{i}.png")
    out = tmp_path / "joint.json"
    registry.register("metric", "toy-calibration-metric", ToyMetric, replace=True)
    try:
        main(
            [
                "calibrate", "ifgsm", "--metric", "toy-calibration-metric", "--images", str(folder),
                "--joint", "alpha=0.0002:0.002", "--joint", "iterations=2:10", "--fixed", "eps=0.0392",
                "--out", str(out),
            ]
        )  # fmt: skip
    finally:
        registry.unregister("metric", "toy-calibration-metric")
    data = json.loads(out.read_text())
    assert data["parameter"] == "t" and data["measure"] == "linf"
    assert data["presets"]["weak"]["eps"] == 0.0392


def test_bench_reports_overhead_and_queries_per_second(tmp_path):
    from iqa_attacks import Square
    from iqa_attacks.benchmark import bench_attack

    metric, x = ToyMetric(), toy_images(2, (32, 32))
    white = bench_attack(IFGSM(iterations=5), metric, x)
    assert white.gradient_passes == 5 and white.overhead is not None and white.overhead > 0
    black = bench_attack(Square(max_queries=30), metric, x)
    assert black.overhead is None and black.queries == 60 and black.queries_per_s > 0
    out = tmp_path / "bench.json"
    registry.register("metric", "toy-calibration-metric", ToyMetric, replace=True)
    try:
        main(["bench", "--metric", "toy-calibration-metric", "--attacks", "ifgsm", "--size", "32", "--out", str(out)])
    finally:
        registry.unregister("metric", "toy-calibration-metric")
    assert json.loads(out.read_text())[0]["attack"] == "ifgsm"


def test_bench_passes_metric_options_to_the_constructor(tmp_path):
    out = tmp_path / "bench.json"
    registry.register("metric", "toy-calibration-metric", ToyMetric, replace=True)
    try:
        main(["bench", "--metric", "toy-calibration-metric", "--metric-option", "scale=0.5", "--attacks", "fgsm",
              "--size", "32", "--batch", "2", "--repeats", "1", "--out", str(out)])  # fmt: skip
        with pytest.raises(SystemExit, match="KEY=VALUE"):
            main(["bench", "--metric", "toy-calibration-metric", "--metric-option", "scale", "--attacks", "fgsm"])
        code = main(["bench", "--metric", "toy-calibration-metric", "--metric-option", "nope=1", "--attacks", "fgsm"])
        assert code == 2  # one line naming the parameter, no traceback
    finally:
        registry.unregister("metric", "toy-calibration-metric")
    assert json.loads(out.read_text())[0]["gradient_passes"] == 1
