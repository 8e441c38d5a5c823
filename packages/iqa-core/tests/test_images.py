"""The shared image loader: every mode Pillow reads ends as (3, H, W) float32 RGB in [0, 1], correctly scaled."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from iqa_core.images import ImageDecodeError, image_files, load_folder, load_image


def test_8bit_rgb_is_exact(tmp_path):
    array = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10
    Image.fromarray(array).save(tmp_path / "a.png")
    image = load_image(tmp_path / "a.png")
    assert image.shape == (3, 2, 3) and image.dtype == torch.float32
    torch.testing.assert_close(image, torch.from_numpy(array).permute(2, 0, 1).float() / 255)


def test_16bit_grayscale_is_scaled_not_saturated(tmp_path):
    array = np.array([[0, 16384, 32768, 65535]], dtype=np.uint16)
    Image.fromarray(array).save(tmp_path / "g16.png")
    image = load_image(tmp_path / "g16.png")
    expected = torch.tensor([0, 16384, 32768, 65535], dtype=torch.float32) / 65535
    for channel in image:
        torch.testing.assert_close(channel[0], expected)


def test_grayscale_palette_alpha_and_cmyk(tmp_path):
    Image.new("L", (4, 2), 128).save(tmp_path / "l.png")
    assert torch.allclose(load_image(tmp_path / "l.png"), torch.full((3, 2, 4), 128 / 255))
    Image.new("RGB", (4, 2), (255, 0, 0)).convert("P").save(tmp_path / "p.png")
    assert torch.allclose(load_image(tmp_path / "p.png")[:, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    Image.new("RGBA", (4, 2), (0, 0, 0, 0)).save(tmp_path / "t.png")  # transparent -> white background
    assert torch.allclose(load_image(tmp_path / "t.png"), torch.ones(3, 2, 4))
    Image.new("CMYK", (4, 2), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=100)
    red = load_image(tmp_path / "c.jpg")[:, 0, 0]
    assert red[0] > 0.9 and red[1] < 0.1 and red[2] < 0.1


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (6, 2), (10, 20, 30))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    image.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").shape == (3, 6, 2)


def test_a_bad_file_names_itself_and_a_folder_keeps_the_others(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    Image.new("RGB", (3, 3)).save(tmp_path / "good.png")
    with pytest.raises(ImageDecodeError, match=r"bad\.png"):
        load_image(tmp_path / "bad.png")
    loaded, failed = load_folder(tmp_path)
    assert [p.name for p, _ in loaded] == ["good.png"] and [p.name for p, _ in failed] == ["bad.png"]
    assert [p.name for p in image_files(tmp_path)] == ["bad.png", "good.png"]
    with pytest.raises(FileNotFoundError):
        load_image(tmp_path / "missing.png")
