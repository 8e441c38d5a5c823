"""FCN-filter training (Gushchin et al., 2024, purification paper sec. 3.3).

The filter learns to recover the clean image from an attacked one: attacked/clean pairs, an
80/20 train/validation split, Adam with lr 1e-3, the MSE between ``FCN(x')`` and ``x``, 200 epochs,
and the checkpoint with the best mean SSIM between ``clamp(FCN(x'), 0, 1)`` and ``x`` on the
validation pairs is kept.

The network and the saved file follow iqa-purify's ``fcn-filter`` defence (the authors' code):
module names ``conv1`` (3->64), ``conv2`` (64->``hidden``), ``conv3`` (``hidden``->3), saved as
``{"model": state_dict, "epoch": int, "val_ssim": float}`` (the layout of the authors'
``fcn_mse.pth``), so ``create("defence", "fcn-filter", weights="best.pt")`` loads it unchanged.

Pairs come from two folders matched by file stem (:func:`read_pairs`), or are made once with a
registry metric and attack (:func:`generate_attacked`; PNG, skipped when already present, so a
resumed run reuses them). The paper used 200 NIPS 2017 images attacked by AdvCF on Linearity.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from iqa_core import measures

from . import checkpoint as ckpt
from .datasets import crop, derived_seed, split_dataset
from .images import IMAGE_SUFFIXES, load_image, save_image
from .trainer import Step, Trainer, TrainResult, TrainSettings


class FCNNet(nn.Module):
    """The FCN filter: conv 3x3 (3->64), LeakyReLU(0.2), conv (64->hidden), instance norm, LeakyReLU(0.2),
    conv (hidden->3), tanh. ``hidden = 16`` as in the released code (the benchmark's text says 32)."""

    def __init__(self, hidden: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1)
        self.conv2 = nn.Conv2d(64, hidden, 3, 1, 1)
        self.conv3 = nn.Conv2d(hidden, 3, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        e1 = self.conv1(x)
        e2 = F.instance_norm(self.conv2(F.leaky_relu(e1, 0.2)))
        return torch.tanh(self.conv3(F.leaky_relu(e2, 0.2)))


@dataclass(frozen=True)
class Pair:
    """An attacked image and its clean original."""

    name: str
    clean: Path
    attacked: Path


def _images(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} not found")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    by_stem: dict[str, Path] = {}
    for path in files:
        if path.stem in by_stem:
            raise ValueError(
                f"{folder} holds two images with the stem {path.stem!r}: {by_stem[path.stem].name}, {path.name}"
            )
        by_stem[path.stem] = path
    return by_stem


def read_pairs(clean_dir: str | Path, attacked_dir: str | Path) -> list[Pair]:
    """Pairs of ``attacked_dir/<stem>.*`` with ``clean_dir/<stem>.*`` (every attacked image needs its clean one)."""
    clean, attacked = _images(Path(clean_dir)), _images(Path(attacked_dir))
    if not attacked:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {attacked_dir}")
    orphans = sorted(set(attacked) - set(clean))
    if orphans:
        raise FileNotFoundError(f"{len(orphans)} attacked images have no clean original in {clean_dir}: {orphans[:3]}")
    return [Pair(stem, clean[stem], attacked[stem]) for stem in sorted(attacked)]


def generate_attacked(
    clean_dir: str | Path,
    out_dir: str | Path,
    metric: Any,
    attack: Any,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> list[Pair]:
    """Attack every image of ``clean_dir`` once (``attack(metric, x)``) and save PNGs in ``out_dir``.

    Images already in ``out_dir`` are kept (a rerun continues where it stopped).
    """
    device = torch.device(device)
    clean = _images(Path(clean_dir))
    if not clean:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {clean_dir}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if hasattr(metric, "to"):
        metric = metric.to(device)
    if hasattr(metric, "eval"):
        metric.eval()
    stems = sorted(clean)
    iterator: Any = stems
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(stems, desc="attacking", unit="image")
    for stem in iterator:
        target = out / f"{stem}.png"
        if target.is_file():
            continue
        image = load_image(clean[stem])[None].to(device)
        generator = torch.Generator(device=device)
        generator.manual_seed(derived_seed("fcn-attack", seed, stem))
        save_image(attack(metric, image, generator=generator)[0], target)
    return read_pairs(clean_dir, out)


class PairDataset(Dataset):
    """``(attacked, clean)`` with the same crop; random crops seeded by ``(seed, epoch, index)``."""

    def __init__(self, pairs: Sequence[Pair], *, patch_size: int | None = None, random: bool = True, seed: int = 0):
        if not pairs:
            raise ValueError("PairDataset needs at least one pair")
        self.pairs = list(pairs)
        self.patch_size = patch_size
        self.random = random
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        pair = self.pairs[index]
        attacked, clean = load_image(pair.attacked), load_image(pair.clean)
        if attacked.shape != clean.shape:
            raise ValueError(f"pair {pair.name!r}: attacked {tuple(attacked.shape)} vs clean {tuple(clean.shape)}")
        if self.patch_size is not None:
            both = torch.cat([attacked, clean])
            generator = None
            if self.random:
                generator = torch.Generator().manual_seed(derived_seed("fcn-patch", self.seed, self.epoch, index))
            both = crop(both, self.patch_size, generator)
            attacked, clean = both[:3], both[3:]
        return attacked.contiguous(), clean.contiguous()


def fcn_objective(model: nn.Module, images: Tensor, targets: Tensor, step: Step) -> tuple[Tensor, dict[str, float]]:
    """MSE between the filtered attacked images and the clean ones."""
    with step.autocast():
        restored = model(images)
    return F.mse_loss(restored.float(), targets.float()), {}


def validate_fcn(model: nn.Module, dataset: PairDataset, device: torch.device) -> dict[str, float]:
    """Mean SSIM and PSNR of ``clamp(FCN(x'), 0, 1)`` against ``x`` (and of ``x'`` itself, for reference)."""
    ssim, psnr, ssim_in = [], [], []
    with torch.no_grad():
        for index in range(len(dataset)):
            attacked, clean = (t[None].to(device) for t in dataset[index])
            restored = model(attacked).float().clamp(0, 1)
            ssim.append(float(measures.ssim(clean, restored)))
            psnr.append(float(measures.psnr(clean, restored)))
            ssim_in.append(float(measures.ssim(clean, attacked)))
    n = len(ssim)
    return {"val_ssim": sum(ssim) / n, "val_psnr": sum(psnr) / n, "val_ssim_attacked": sum(ssim_in) / n}


def export_fcn(model: nn.Module, path: Path, row: dict[str, Any]) -> None:
    """Save in the ``fcn_mse.pth`` layout that iqa-purify's ``fcn-filter`` loads."""
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    ckpt.atomic_save({"model": state, "epoch": int(row["epoch"]), "val_ssim": float(row["val_ssim"])}, path)


def train_fcn(
    pairs: Sequence[Pair],
    out_dir: str | Path,
    *,
    settings: TrainSettings | None = None,
    hidden: int = 16,
    patch_size: int | None = None,
    val_fraction: float = 0.2,
    resume: bool = True,
    on_epoch_end: Any = None,
) -> TrainResult:
    """Train an FCN filter on ``pairs`` (see the module docstring); the best model is ``out_dir/best.pt``.

    The split (``train.txt``, ``val.txt`` of pair names) is written to ``out_dir`` on the first run and
    reused afterwards.
    """
    settings = settings or TrainSettings(epochs=200, lr=1e-3, monitor="val_ssim", monitor_mode="max")
    if settings.monitor != "val_ssim":
        raise ValueError(f"the FCN filter keeps the best checkpoint by val_ssim, got monitor={settings.monitor!r}")
    out = Path(out_dir)
    by_name = {p.name: p for p in pairs}
    if len(by_name) != len(pairs):
        raise ValueError("pair names must be unique")
    from .datasets import IQAItem

    stand_ins = [IQAItem(p.name, 0.0, p.attacked) for p in pairs]
    train_items, val_items = split_dataset(stand_ins, out, val_fraction=val_fraction, seed=settings.seed)
    train_set = PairDataset([by_name[i.name] for i in train_items], patch_size=patch_size, seed=settings.seed)
    val_set = PairDataset([by_name[i.name] for i in val_items], patch_size=None, random=False)
    torch.manual_seed(settings.seed)
    model = FCNNet(hidden=hidden)
    trainer = Trainer(
        model,
        fcn_objective,
        train_set,
        settings,
        out,
        validate=lambda m: validate_fcn(m, val_set, trainer.device),
        export_best=export_fcn,
        on_epoch_end=on_epoch_end,
        description="fcn",
    )
    result = trainer.fit(resume=resume)
    (out / "best.json").write_text(
        json.dumps({"best_val_ssim": result.best_value, "pairs": len(pairs), "hidden": hidden}, indent=2) + "\n"
    )
    result.extra["model"] = model
    return result
