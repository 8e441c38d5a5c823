import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("IQA_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))

from _browser import browser, shots  # noqa: F401 - the page tests' shared fixtures


@pytest.fixture
def toy_plugins():
    from _toy_plugins import register_toys

    register_toys()


@pytest.fixture
def image_folder(tmp_path):
    """A folder dataset of 10 small PNGs (one corrupt, one very bright) with a name,mos CSV."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    folder.mkdir()
    lines = ["name,mos"]
    for i in range(10):
        name = f"img{i:02d}.png"
        if i == 3:
            (folder / name).write_bytes(b"not a png")
        else:
            base = np.full((24, 32, 3), 250 if i == 7 else 40 + 15 * i, dtype=np.uint8)
            noise = rng.integers(0, 20, size=base.shape, dtype=np.uint8)
            Image.fromarray(np.clip(base.astype(int) + noise, 0, 255).astype(np.uint8)).save(folder / name)
        lines.append(f"{name},{10 + 3 * i}")
    (folder / "mos.csv").write_text("\n".join(lines) + "\n")
    return folder
