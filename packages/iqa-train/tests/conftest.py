"""Shared fixtures: one CPU thread, a tiny trainable metric, a tiny folder dataset, a toy attack."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from iqa_core import Bounds, registry
from iqa_core.testing import ToySignAttack

torch.set_num_threads(1)


class TinyIQA(nn.Module):
    """A small smooth CNN metric (softplus, mean/std pooling), optional dropout: trainable in seconds."""

    name = "tiny-iqa"
    higher_is_better = True
    bounds = Bounds(0.0, 100.0)
    differentiable = True

    def __init__(self, dropout: float = 0.0, seed: int = 0) -> None:
        super().__init__()
        generator_state = torch.get_rng_state()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Softplus(), nn.Conv2d(8, 8, 3), nn.Softplus())
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(16, 1)
        torch.set_rng_state(generator_state)

    def forward(self, images: Tensor) -> Tensor:
        h = self.net(images)
        features = torch.cat([h.mean((2, 3)), h.flatten(2).std(2).add(1e-3).log()], 1)
        return 50.0 + 30.0 * self.head(self.drop(features)).flatten()


def make_images(n: int, size: int = 40, seed: int = 0) -> tuple[list[np.ndarray], list[float]]:
    """Smooth images plus graded noise; MOS falls with the noise level (learnable by TinyIQA)."""
    g = torch.Generator().manual_seed(seed)
    arrays, mos = [], []
    for i in range(n):
        low = torch.rand(1, 3, 5, 5, generator=g)
        base = F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)[0]
        level = (i % 4) / 3
        noisy = (base + 0.5 * level * torch.randn(base.shape, generator=g)).clamp(0, 1)
        arrays.append((noisy.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
        mos.append(round(80.0 - 60.0 * level, 3))
    return arrays, mos


def write_folder_dataset(root: Path, n: int = 16, size: int = 40, seed: int = 0) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    arrays, mos = make_images(n, size, seed)
    with open(root / "scores.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "mos"])
        for i, (array, score) in enumerate(zip(arrays, mos, strict=True)):
            Image.fromarray(array).save(root / f"img{i:02d}.png")
            writer.writerow([f"img{i:02d}.png", score])
    return root


@pytest.fixture
def folder_dataset(tmp_path: Path) -> Path:
    return write_folder_dataset(tmp_path / "data")


@pytest.fixture
def toy_attack_registered():
    registry.register("attack", "toy-sign", ToySignAttack, replace=True)
    registry.register("metric", "tiny-iqa", TinyIQA, replace=True)
    yield
    registry.unregister("attack", "toy-sign")
    registry.unregister("metric", "tiny-iqa")
