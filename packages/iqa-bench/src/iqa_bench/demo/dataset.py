"""The offline demo dataset: graded distortions of shipped photos with a synthetic opinion score.

Label ("MOS") of an image ``d`` made from the reference ``r`` (both on 8-bit levels)::

    mos = 100 * SSIM(r, d)

with ``SSIM`` = :func:`iqa_core.measures.ssim` (Wang et al. 2004: 11x11 Gaussian window,
sigma 1.5, K1 0.01, K2 0.03, no padding, computed on each RGB channel and averaged over the
channels and positions). A reference scores 100; the scale is roughly 0-100, higher is better.
It is a stand-in for human opinion, good enough to check that pipelines run and that a metric
ranks distortions sensibly; it is not a perceptual study.
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .distortions import DISTORTIONS, LEVELS, distort
from .references import DEFAULT_SIZE, DEMO_REFERENCES, REFERENCES, check_size, load_reference, quantise

#: Distortions of the default demo dataset: the structural ones, which a patch-based NR metric can
#: see. All of :data:`DISTORTIONS` are available; the photometric ones (contrast, saturation,
#: brighten, darken) are nearly invisible to the demo metric, which normalises local contrast.
DEFAULT_DISTORTIONS: tuple[str, ...] = ("gaussian_blur", "white_noise", "jpeg", "pixelate")
#: Levels of the default demo dataset.
DEFAULT_LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)
#: Column names of the CSV written by :func:`write_demo_folder`.
CSV_COLUMNS: tuple[str, ...] = ("image", "reference", "distortion", "level", "mos")
CSV_NAME = "mos.csv"
#: ``distortion`` and ``level`` of a reference record.
NO_DISTORTION, NO_LEVEL = "none", 0


@dataclass(frozen=True, eq=False)
class DemoRecord:
    """One demo image: ``image`` is ``(3, H, W)`` float32 in [0, 1] on 8-bit levels."""

    name: str
    image: Tensor
    mos: float
    reference: str
    distortion: str
    level: int


def synthetic_mos(reference: Tensor, distorted: Tensor) -> Tensor:
    """``100 * SSIM(reference, distorted)`` per image, ``(N, 3, H, W)`` pairs -> ``(N,)`` (see module doc)."""
    from iqa_core import measures

    return 100 * measures.ssim(reference, distorted)


def record_seed(seed: int, reference: str, distortion: str, level: int) -> int:
    """Seed of one record's generator: stable across runs and independent of which records are asked for."""
    return zlib.crc32(f"{seed}:{reference}:{distortion}:{level}".encode())


def distort_reference(
    reference: Tensor, name: str, distortions: Sequence[str], levels: Sequence[int], *, seed: int = 0
) -> list[DemoRecord]:
    """Records of every ``(distortion, level)`` of one ``(3, H, W)`` reference on 8-bit levels.

    The building block of :func:`demo_dataset`, public so that training code can distort
    references of its own (augmented crops); ``name`` names the records and seeds the noise.
    """
    keys = [(distortion, int(level)) for distortion in distortions for level in levels]
    if not keys:
        return []
    batch = reference.unsqueeze(0)
    distorted = torch.cat(
        [
            quantise(distort(batch, d, lv, generator=torch.Generator().manual_seed(record_seed(seed, name, d, lv))))
            for d, lv in keys
        ]
    )
    # one batched SSIM call per reference: per-image calls are several times slower on CPU
    scores = synthetic_mos(batch.expand_as(distorted), distorted).tolist()
    return [
        DemoRecord(f"{name}_{d}_{lv}", image, float(mos), name, d, lv)
        for (d, lv), image, mos in zip(keys, distorted, scores, strict=True)
    ]


def _check_names(given: Sequence[str], known: Sequence[str], what: str) -> tuple[str, ...]:
    if isinstance(given, str):
        given = (given,)
    unknown = [name for name in given if name not in known]
    if unknown:
        raise ValueError(f"unknown demo {what} {unknown}; choose from {', '.join(known)}")
    return tuple(given)


def demo_dataset(
    references: Sequence[str] | None = None,
    distortions: Sequence[str] | None = None,
    levels: Sequence[int] | None = None,
    *,
    size: tuple[int, int] = DEFAULT_SIZE,
    include_references: bool = False,
    seed: int = 0,
    output_dir: str | Path | None = None,
) -> list[DemoRecord]:
    """Build the demo dataset deterministically (same arguments, same bytes).

    Defaults: the 6 held-out :data:`DEMO_REFERENCES` x :data:`DEFAULT_DISTORTIONS` (4) x
    :data:`DEFAULT_LEVELS` (5) = 120 images of ``128 x 160`` (height x width), sized so that the
    CPU quickstart (two 10-step attacks, JPEG, scoring) stays under a minute. Records come in
    the order reference, then distortion, then level; with ``include_references`` each
    reference itself (distortion ``"none"``, level 0, mos 100) comes before its distortions.
    ``seed`` changes only the noise draws. With ``output_dir`` the records are also written
    there as PNG files plus ``mos.csv`` (see :func:`write_demo_folder`).
    """
    refs = _check_names(references if references is not None else DEMO_REFERENCES, list(REFERENCES), "references")
    dists = _check_names(
        distortions if distortions is not None else DEFAULT_DISTORTIONS, list(DISTORTIONS), "distortions"
    )
    lvls = tuple(int(level) for level in (levels if levels is not None else DEFAULT_LEVELS))
    if any(level not in LEVELS for level in lvls):
        raise ValueError(f"demo levels must be in {LEVELS} (1 = mildest), got {lvls}")
    size = check_size(size)

    records: list[DemoRecord] = []
    for ref_name in refs:
        reference = load_reference(ref_name, size)
        if include_references:
            records.append(DemoRecord(ref_name, reference, 100.0, ref_name, NO_DISTORTION, NO_LEVEL))
        records.extend(distort_reference(reference, ref_name, dists, lvls, seed=seed))
    if output_dir is not None:
        write_demo_folder(records, output_dir)
    return records


def _save_png(image: Tensor, path: Path) -> None:
    from PIL import Image

    array = (image.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    Image.fromarray(array, mode="RGB").save(path, format="PNG")


def _load_png(path: Path) -> Tensor:
    from PIL import Image

    with Image.open(path) as image:
        array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float() / 255


def write_demo_folder(records: Sequence[DemoRecord], folder: str | Path) -> Path:
    """Write ``<name>.png`` per record, ``<reference>.png`` per reference and ``mos.csv``.

    CSV columns: ``image`` (PNG file name, relative to the folder), ``reference`` (the
    reference's PNG file name), ``distortion`` (``"none"`` for a reference), ``level`` (0 for a
    reference), ``mos`` (the synthetic score, 6 decimals). Returns the CSV path.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written_refs: set[str] = set()
    rows = []
    for record in records:
        _save_png(record.image, folder / f"{record.name}.png")
        if record.reference not in written_refs:
            size = (int(record.image.shape[-2]), int(record.image.shape[-1]))
            _save_png(load_reference(record.reference, size), folder / f"{record.reference}.png")
            written_refs.add(record.reference)
        rows.append(
            (f"{record.name}.png", f"{record.reference}.png", record.distortion, record.level, f"{record.mos:.6f}")
        )
    csv_path = folder / CSV_NAME
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(rows)
    return csv_path


def read_demo_folder(folder: str | Path) -> list[DemoRecord]:
    """Read a folder written by :func:`write_demo_folder` back into records (same order)."""
    folder = Path(folder)
    csv_path = folder / CSV_NAME
    if not csv_path.is_file():
        raise FileNotFoundError(f"no {CSV_NAME} in {folder}; write one with demo_dataset(output_dir=...)")
    records = []
    with csv_path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            records.append(
                DemoRecord(
                    name=Path(row["image"]).stem,
                    image=_load_png(folder / row["image"]),
                    mos=float(row["mos"]),
                    reference=Path(row["reference"]).stem,
                    distortion=row["distortion"],
                    level=int(row["level"]),
                )
            )
    return records


def stack_images(records: Sequence[DemoRecord]) -> Tensor:
    """The records' images as one ``(N, 3, H, W)`` batch (all records must share a size)."""
    return torch.stack([record.image for record in records])
