"""The benchmark's bounds procedure (Antsiferova et al., ICML 2025, appendix A.3.2).

For a higher-is-better metric: ``upper`` = the largest score over a set of high-quality images
(DIV2K valid HR in the paper); ``lower`` = the smallest score over the same images JPEG-compressed
at quality 10 and over uniform random-noise images of the same sizes. For a lower-is-better metric
the roles swap: ``lower`` = the smallest score over the high-quality images, ``upper`` = the largest
over the degraded ones. Scores are computed one image at a time (any sizes) without gradients.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from iqa_core.types import Bounds

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class BoundsReport:
    """Measured bounds and the scores behind them."""

    metric: str
    higher_is_better: bool
    lower: float
    upper: float
    clean_scores: list[float]
    jpeg_scores: list[float]
    noise_scores: list[float]
    jpeg_quality: int
    images: list[str] = field(default_factory=list)

    @property
    def bounds(self) -> Bounds:
        return Bounds(self.lower, self.upper)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def jpeg(image: Tensor, quality: int) -> Tensor:
    """JPEG round trip of one ``(3, H, W)`` image in [0, 1] (8-bit, 4:2:0 as PIL writes it)."""
    from PIL import Image

    array = (image.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    decoded = torch.from_numpy(_rgb_array(Image.open(buffer))).permute(2, 0, 1)
    return decoded.to(image.dtype) / 255


def _rgb_array(img: Any) -> Any:
    import numpy as np

    return np.array(img.convert("RGB"), dtype=np.uint8, copy=True)


def load_image(path: str | Path) -> Tensor:
    """An image file as ``(3, H, W)`` float32 RGB in [0, 1]."""
    from PIL import Image

    with Image.open(path) as img:
        return torch.from_numpy(_rgb_array(img)).permute(2, 0, 1).float() / 255


def image_files(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return files


def _score(metric: Any, image: Tensor, device: torch.device) -> float:
    with torch.no_grad():
        return float(metric(image.unsqueeze(0).to(device)).reshape(-1)[0])


def measure_bounds(
    metric: Any,
    images: Iterable[Tensor],
    *,
    jpeg_quality: int = 10,
    noise_images: int | None = None,
    seed: int = 0,
    device: str | torch.device | None = None,
    names: Sequence[str] = (),
) -> BoundsReport:
    """Run the bounds procedure on ``images`` (each ``(3, H, W)`` in [0, 1], high quality).

    ``noise_images``: how many uniform-noise images (default: one per input, same size);
    ``seed`` makes them reproducible. ``device``: where to score (default: the metric's device).
    """
    if device is None:
        params = list(metric.parameters()) if hasattr(metric, "parameters") else []
        device = params[0].device if params else torch.device("cpu")
    device = torch.device(device)
    clean = [img if img.ndim == 3 else img.squeeze(0) for img in images]
    if not clean:
        raise ValueError("the bounds procedure needs at least one image")
    generator = torch.Generator().manual_seed(seed)
    count = len(clean) if noise_images is None else noise_images
    clean_scores = [_score(metric, img, device) for img in clean]
    jpeg_scores = [_score(metric, jpeg(img, jpeg_quality), device) for img in clean]
    noise_scores = [
        _score(metric, torch.rand(clean[i % len(clean)].shape, generator=generator), device) for i in range(count)
    ]
    degraded = jpeg_scores + noise_scores
    higher = bool(getattr(metric, "higher_is_better", True))
    if higher:
        lower, upper = min(degraded), max(clean_scores)
    else:
        lower, upper = min(clean_scores), max(degraded)
    if not upper > lower:
        raise ValueError(
            f"bounds procedure gave lower={lower:.4g} >= upper={upper:.4g}: the metric does not separate the "
            "high-quality images from their degraded versions; use more (or better) images"
        )
    return BoundsReport(
        metric=str(getattr(metric, "name", type(metric).__name__)),
        higher_is_better=higher,
        lower=lower,
        upper=upper,
        clean_scores=clean_scores,
        jpeg_scores=jpeg_scores,
        noise_scores=noise_scores,
        jpeg_quality=jpeg_quality,
        images=list(names),
    )


def measure_bounds_in_folder(metric: Any, folder: str | Path, **options: Any) -> BoundsReport:
    """:func:`measure_bounds` on every image file of ``folder``."""
    files = image_files(folder)
    return measure_bounds(metric, (load_image(f) for f in files), names=[f.name for f in files], **options)


__all__ = ["BoundsReport", "image_files", "jpeg", "load_image", "measure_bounds", "measure_bounds_in_folder"]
