"""IQA datasets as ``(image, MOS)`` pairs: official layouts, splits, patch sampling.

Readers list :class:`IQAItem` s (name, MOS, path) without decoding anything:

* :func:`koniq10k` - ``koniq10k_scores_and_distributions.csv`` (``image_name``, ``MOS``) and the
  images in ``512x384/`` (the benchmark's size) or ``1024x768/``;
* :func:`kadid10k` - ``dmos.csv`` (``dist_img``, ``ref_img``, ``dmos``) and ``images/``;
* :func:`livec` - LIVE In the Wild Challenge: ``Data/AllImages_release.mat`` and
  ``Data/AllMOS_release.mat`` (read with :func:`scipy.io.loadmat`), images in ``Images/``; the
  seven training images of the release (``Images/trainingImages/``) are left out unless asked
  for, as the reference code of HyperIQA and DBCNN does (``[7:1169]``);
* :func:`folder` - any folder with a CSV of image names and MOS (default columns ``name``, ``mos``).

:func:`make_split` draws a deterministic train/val split from a seed; :func:`write_split` /
:func:`read_split` keep it as two text files (one name per line) so that a run, its resume and a
later evaluation use the same images. :class:`PatchDataset` decodes lazily and samples one random
``patch_size`` crop per image and epoch from a generator seeded by ``(seed, epoch, index)``: the
sampling does not depend on any global random state, which makes resumed runs exact.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from .images import load_image


class DatasetLayoutError(FileNotFoundError):
    """The dataset folder does not have the expected layout."""


@dataclass(frozen=True)
class IQAItem:
    """One image of an IQA dataset: ``name`` is unique within the dataset."""

    name: str
    mos: float
    path: Path

    def load(self) -> Tensor:
        return load_image(self.path)


def _read_csv(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    if not path.is_file():
        raise DatasetLayoutError(f"score file {path} not found")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        missing = [column for column in required if column not in header]
        if missing:
            raise DatasetLayoutError(f"{path} lacks the columns {missing}; its header is {header}")
        rows = list(reader)
    if not rows:
        raise DatasetLayoutError(f"{path} has a header but no rows")
    return rows


def _float(value: str, where: str) -> float:
    try:
        return float(value)
    except ValueError as error:
        raise DatasetLayoutError(f"{where}: MOS {value!r} is not a number") from error


def _first_dir(root: Path, candidates: Sequence[str], what: str) -> Path:
    for name in candidates:
        if (root / name).is_dir():
            return root / name
    raise DatasetLayoutError(f"{what} not found under {root}; looked for {', '.join(candidates)}")


def _check_files(items: list[IQAItem], what: str) -> list[IQAItem]:
    missing = [item.path for item in items if not item.path.is_file()]
    if missing:
        shown = ", ".join(str(p) for p in missing[:3])
        raise DatasetLayoutError(f"{what}: {len(missing)} of {len(items)} listed images are missing ({shown} ...)")
    return items


def koniq10k(root: str | Path, *, resolution: str | None = None) -> list[IQAItem]:
    """KonIQ-10k in its official layout (MOS on the 1-5 scale of the CSV's ``MOS`` column).

    ``resolution``: ``"512x384"`` or ``"1024x768"``; by default the first present, in that order.
    """
    root = Path(root)
    rows = _read_csv(root / "koniq10k_scores_and_distributions.csv", ["image_name", "MOS"])
    folders = [resolution] if resolution else ["512x384", "1024x768"]
    images = _first_dir(root, folders, "KonIQ-10k image folder")
    items = [IQAItem(r["image_name"], _float(r["MOS"], r["image_name"]), images / r["image_name"]) for r in rows]
    return _check_files(items, f"KonIQ-10k at {root}")


def kadid10k(root: str | Path) -> list[IQAItem]:
    """KADID-10k in its official layout: ``dmos.csv`` and ``images/`` (the ``dmos`` column: higher is better)."""
    root = Path(root)
    rows = _read_csv(root / "dmos.csv", ["dist_img", "ref_img", "dmos"])
    images = _first_dir(root, ["images"], "KADID-10k image folder")
    items = [IQAItem(r["dist_img"], _float(r["dmos"], r["dist_img"]), images / r["dist_img"]) for r in rows]
    return _check_files(items, f"KADID-10k at {root}")


def _mat_strings(value: Any) -> list[str]:
    """The strings of a MATLAB cell array as scipy.io.loadmat returns it (nested object arrays)."""
    out: list[str] = []
    for element in np.asarray(value, dtype=object).ravel():
        while isinstance(element, np.ndarray):
            if element.size != 1:
                if element.dtype.kind == "U":
                    element = "".join(element.ravel().tolist())
                    break
                raise DatasetLayoutError(f"unexpected MATLAB cell element of shape {element.shape}")
            element = element.ravel()[0]
        out.append(str(element).strip())
    return out


def _load_mat(path: Path, key: str) -> Any:
    import scipy.io

    if not path.is_file():
        raise DatasetLayoutError(f"{path} not found (LIVE Challenge layout: Data/{path.name})")
    content = scipy.io.loadmat(str(path))
    if key not in content:
        found = sorted(k for k in content if not k.startswith("__"))
        raise DatasetLayoutError(f"{path} has no variable {key!r}; found {found}")
    return content[key]


def livec(root: str | Path, *, include_training_images: bool = False) -> list[IQAItem]:
    """LIVE In the Wild Image Quality Challenge (``ChallengeDB_release``), MOS 0-100.

    Names come from ``Data/AllImages_release.mat`` (``AllImages_release``), scores from
    ``Data/AllMOS_release.mat`` (``AllMOS_release``), in the same order. An image is looked up in
    ``Images/`` and then in ``Images/trainingImages/``; the latter (the release's seven training
    images) are dropped unless ``include_training_images``.
    """
    root = Path(root)
    names = _mat_strings(_load_mat(root / "Data" / "AllImages_release.mat", "AllImages_release"))
    mos = np.asarray(_load_mat(root / "Data" / "AllMOS_release.mat", "AllMOS_release"), dtype=np.float64).ravel()
    if len(names) != len(mos):
        raise DatasetLayoutError(f"LIVE Challenge at {root}: {len(names)} image names but {len(mos)} scores")
    images = _first_dir(root, ["Images"], "LIVE Challenge image folder")
    items = []
    for name, score in zip(names, mos, strict=True):
        if (images / name).is_file():
            items.append(IQAItem(name, float(score), images / name))
        elif (images / "trainingImages" / name).is_file():
            if include_training_images:
                items.append(IQAItem(name, float(score), images / "trainingImages" / name))
        else:
            items.append(IQAItem(name, float(score), images / name))
    return _check_files(items, f"LIVE Challenge at {root}")


def folder(
    root: str | Path, csv_file: str | Path = "scores.csv", *, name_column: str = "name", mos_column: str = "mos"
) -> list[IQAItem]:
    """Any folder with a CSV of image names (relative to ``root``) and MOS values."""
    root = Path(root)
    csv_path = Path(csv_file) if Path(csv_file).is_absolute() else root / csv_file
    rows = _read_csv(csv_path, [name_column, mos_column])
    items = [IQAItem(r[name_column], _float(r[mos_column], r[name_column]), root / r[name_column]) for r in rows]
    return _check_files(items, f"folder dataset {root} ({csv_path.name})")


READERS = {"koniq10k": koniq10k, "kadid10k": kadid10k, "livec": livec, "folder": folder}


def read_dataset(kind: str, root: str | Path, **options: Any) -> list[IQAItem]:
    """``READERS[kind](root, **options)`` with an error naming the known layouts."""
    if kind not in READERS:
        raise ValueError(f"unknown dataset layout {kind!r}; use one of {', '.join(READERS)}")
    items: list[IQAItem] = READERS[kind](root, **options)
    names = [item.name for item in items]
    if len(set(names)) != len(names):
        raise DatasetLayoutError(f"dataset at {root} lists some image names more than once")
    return items


# ---------------------------------------------------------------------------------- splits
def make_split(names: Sequence[str], val_fraction: float = 0.2, seed: int = 0) -> tuple[list[str], list[str]]:
    """Deterministic train/val split: sort the names, permute with ``seed``, the last ``val_fraction`` is val.

    Sorting first makes the split independent of the CSV's row order.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    ordered = sorted(set(names))
    if len(ordered) < 2:
        raise ValueError(f"a train/val split needs at least 2 images, got {len(ordered)}")
    perm = torch.randperm(len(ordered), generator=torch.Generator().manual_seed(int(seed))).tolist()
    n_val = min(max(1, round(val_fraction * len(ordered))), len(ordered) - 1)
    shuffled = [ordered[i] for i in perm]
    return sorted(shuffled[n_val:]), sorted(shuffled[:n_val])


def write_split(path: str | Path, names: Sequence[str]) -> Path:
    """One name per line (UTF-8)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{name}\n" for name in names), encoding="utf-8")
    return path


def read_split(path: str | Path) -> list[str]:
    """Names of a split file (blank lines and ``#`` comments ignored)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"split file {path} not found")
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def select(items: Sequence[IQAItem], names: Sequence[str], what: str = "split") -> list[IQAItem]:
    """The items named in ``names``, in that order; unknown names raise."""
    by_name = {item.name: item for item in items}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        raise ValueError(f"{what} names {len(unknown)} images that the dataset lacks: {unknown[:3]} ...")
    return [by_name[name] for name in names]


def split_dataset(
    items: Sequence[IQAItem],
    split_dir: str | Path,
    *,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> tuple[list[IQAItem], list[IQAItem]]:
    """Read ``train.txt`` / ``val.txt`` from ``split_dir``, or draw the split and write them there."""
    split_dir = Path(split_dir)
    train_file, val_file = split_dir / "train.txt", split_dir / "val.txt"
    if train_file.is_file() and val_file.is_file():
        train_names, val_names = read_split(train_file), read_split(val_file)
    else:
        train_names, val_names = make_split([item.name for item in items], val_fraction, seed)
        write_split(train_file, train_names)
        write_split(val_file, val_names)
    overlap = set(train_names) & set(val_names)
    if overlap:
        raise ValueError(f"split files in {split_dir} share {len(overlap)} images, e.g. {sorted(overlap)[:3]}")
    return select(items, train_names, str(train_file)), select(items, val_names, str(val_file))


# ---------------------------------------------------------------------------------- sampling
def derived_seed(*parts: int | str) -> int:
    """A 63-bit seed from any parts (stable across processes and Python versions)."""
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def crop(image: Tensor, size: int, generator: torch.Generator | None) -> Tensor:
    """A ``size`` x ``size`` crop: random from ``generator``, centred when it is None.

    Images smaller than ``size`` are upscaled (bilinear, aspect kept) so that the crop fits.
    """
    _, h, w = image.shape
    if min(h, w) < size:
        scale = size / min(h, w)
        new = (max(size, round(h * scale)), max(size, round(w * scale)))
        image = torch.nn.functional.interpolate(image[None], size=new, mode="bilinear", align_corners=False)[0]
        image = image.clamp(0, 1)
        _, h, w = image.shape
    if generator is None:
        top, left = (h - size) // 2, (w - size) // 2
    else:
        top = int(torch.randint(0, h - size + 1, (1,), generator=generator))
        left = int(torch.randint(0, w - size + 1, (1,), generator=generator))
    return image[:, top : top + size, left : left + size]


class PatchDataset(Dataset):
    """``(image, mos)`` pairs; one random ``patch_size`` crop per image and epoch (or the centre crop).

    ``random=True`` draws the crop from a generator seeded by ``(seed, epoch, index)``: call
    :meth:`set_epoch` before each epoch. ``patch_size=None`` returns whole images. ``cache=True``
    keeps decoded images in memory (small datasets, repeated epochs).
    """

    def __init__(
        self,
        items: Sequence[IQAItem],
        *,
        patch_size: int | None = None,
        random: bool = True,
        seed: int = 0,
        cache: bool = False,
    ) -> None:
        if not items:
            raise ValueError("PatchDataset needs at least one image")
        if patch_size is not None and patch_size < 1:
            raise ValueError(f"patch_size must be >= 1 or None, got {patch_size}")
        self.items = list(items)
        self.patch_size = patch_size
        self.random = random
        self.seed = seed
        self.epoch = 0
        self.cache = cache
        self._cache: dict[int, Tensor] = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.items)

    def image(self, index: int) -> Tensor:
        if index in self._cache:
            return self._cache[index]
        image = self.items[index].load()
        if self.cache:
            self._cache[index] = image
        return image

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        image = self.image(index)
        if self.patch_size is not None:
            generator = None
            if self.random:
                generator = torch.Generator().manual_seed(derived_seed("patch", self.seed, self.epoch, index))
            image = crop(image, self.patch_size, generator)
        return image.contiguous(), torch.tensor(self.items[index].mos, dtype=torch.float32)


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The shuffled order of ``n`` samples in ``epoch`` (depends only on ``seed`` and ``epoch``)."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(derived_seed("order", seed, epoch))).tolist()


def mos_range(items: Sequence[IQAItem]) -> tuple[float, float]:
    """``(min, max)`` of the MOS of ``items``."""
    values = [item.mos for item in items]
    return float(min(values)), float(max(values))
