import json

import numpy as np
import pytest
from PIL import Image

from iqa_certify.cli import main
from iqa_core import registry
from iqa_core.testing import ToyDenoiser, ToyMetric, toy_images


@pytest.fixture
def folder(tmp_path):
    for i, image in enumerate(toy_images(3, (16, 16), seed=2)):
        array = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        Image.fromarray(array).save(tmp_path / f"img{i}.png")
    (tmp_path / "mos.csv").write_text("image,mos\nimg0.png,1.0\nimg1.png,2.5\nimg2.png,2.0\n")
    return tmp_path


@pytest.fixture
def toy_components():
    registry.register("metric", "certify-cli-toy", ToyMetric, replace=True)
    registry.register("denoiser", "certify-cli-blur", ToyDenoiser, replace=True)
    yield
    registry.unregister("metric", "certify-cli-toy")
    registry.unregister("denoiser", "certify-cli-blur")


@pytest.mark.parametrize(("certifier", "extra"), [("rs", []), ("dms", ["--denoiser", "certify-cli-blur"])])
def test_certify_folder(folder, toy_components, certifier, extra, capsys):
    out = folder / "certs.json"
    code = main(
        ["certify", "--certifier", certifier, "--metric", "certify-cli-toy", "--images", str(folder),
         "--preset", "fast", "--param", "n=100", "--mos", str(folder / "mos.csv"), "--out", str(out), *extra]
    )  # fmt: skip
    assert code == 0
    payload = json.loads(out.read_text())
    assert sorted(payload["images"]) == ["img0.png", "img1.png", "img2.png"]
    assert payload["summary"]["images"] == 3 and payload["summary"]["srocc"] is not None
    assert all(c["n"] == 100 for c in payload["images"].values())
    assert "img2.png" in capsys.readouterr().out


def test_list_and_errors(folder, toy_components, capsys):
    assert main(["list"]) == 0
    assert "densepure" in capsys.readouterr().out
    base = ["certify", "--certifier", "rs", "--metric", "certify-cli-toy"]
    assert main([*base, "--images", str(folder / "none")]) == 2
    assert "is not a folder of images" in capsys.readouterr().err
    assert main([*base, "--images", str(folder), "--param", "n"]) == 2
    assert "--param expects NAME=VALUE" in capsys.readouterr().err
    assert main([*base, "--images", str(folder), "--preset", "nope"]) == 2
    assert "no preset 'nope'" in capsys.readouterr().err


def test_a_corrupt_file_is_a_failed_entry_and_16_bit_images_are_not_saturated(folder, toy_components, capsys):
    (folder / "broken.png").write_bytes(b"not a png")
    Image.fromarray(np.full((16, 16), 20000, dtype=np.uint16)).save(folder / "deep.png")
    out = folder / "certs.json"
    code = main(
        ["certify", "--certifier", "rs", "--metric", "certify-cli-toy", "--images", str(folder),
         "--preset", "fast", "--param", "n=50", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    payload = json.loads(out.read_text())
    assert "broken.png" in payload["failed"] and "cannot decode" in payload["failed"]["broken.png"]
    assert sorted(payload["images"]) == ["deep.png", "img0.png", "img1.png", "img2.png"]
    assert "broken.png: failed" in capsys.readouterr().out
    from iqa_certify.cli import load_folder

    loaded, _ = load_folder(folder)
    deep = dict(loaded)["deep.png"]
    assert abs(float(deep.mean()) - 20000 / 65535) < 1e-6  # was 1.0 (saturated by an 8-bit conversion)
