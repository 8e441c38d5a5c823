"""Train the offline demo metric (CNNIQA on synthetic distortions) and measure its bounds.

    python tools/train_demo_metric.py            # writes the package data of iqa-metrics
    python tools/train_demo_metric.py --dry-run  # train and evaluate, write nothing

Data: views of the TRAIN sources of ``iqa_bench.demo`` (scikit-image photos, none shared with
the held-out demo references): the fixed TRAIN references plus ``--views`` random views per
source (random crop of 30-100 % of the side, flip, channel permutation for colour sources, a
random colour tint for half of the grayscale ones), each clean and under the demo dataset's
distortions (blur, white noise, JPEG, pixelate; see ``--distortions``) at levels 1-5, at the
default demo size. Target: the synthetic opinion score
``SSIM(reference, distorted)`` (the demo dataset's MOS / 100) per image, and the local SSIM of
each 32x32 patch (the mean of the SSIM map over the patch) as an auxiliary per-patch target.

Training, all on CPU with fixed seeds:

1. the convolution starts as a fixed 7x7 DCT basis on luma (48 filters) plus two chroma
   filters; with it frozen, the max/min-pooled features of every patch are computed once and
   the fully connected head is fitted on them (cheap, so it sees every patch many times);
2. then every layer is fine-tuned end to end on random patches of random images.

Loss: L1 of the image score (mean of its patch scores) + ``--patch-loss`` x L1 of each patch
score against its local SSIM. Outputs (in ``--out``, default the package data of iqa-metrics):
``demo_cnniqa.pt`` (float32 state_dict of ``CNNIQA(**ARCHITECTURE)``) and ``demo_cnniqa.json``
with the bounds (upper = max score over the clean references; lower = min over those images
JPEG-compressed at quality 10 and over uniform random-noise images), the held-out SROCC / PLCC
against the synthetic score on the DEMO references' distortions, and the settings.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import stats
from torch import Tensor

from iqa_bench.demo import (
    DEFAULT_DISTORTIONS,
    DEFAULT_SIZE,
    DEMO_REFERENCES,
    DISTORTIONS,
    LEVELS,
    REFERENCES,
    TRAIN_REFERENCES,
    load_reference,
)
from iqa_bench.demo.dataset import distort_reference
from iqa_bench.demo.references import GRAYSCALE_SOURCES, load_source, quantise
from iqa_metrics.cnniqa import CNNIQA, centre_crop_to_patches, to_patches
from iqa_metrics.demo import ARCHITECTURE, INFO_FILE, SCORE_SCALE, WEIGHTS_FILE

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "packages" / "iqa-metrics" / "src" / "iqa_metrics" / "data"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the weights and the JSON")
    parser.add_argument("--dry-run", action="store_true", help="train and evaluate but write nothing")
    parser.add_argument("--views", type=int, default=16, help="random views per training source")
    parser.add_argument("--head-steps", type=int, default=2000, help="steps of phase 1 (frozen DCT features)")
    parser.add_argument("--head-batch", type=int, default=64, help="images per phase-1 step")
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--tune-steps", type=int, default=400, help="steps of phase 2 (end to end)")
    parser.add_argument("--tune-batch", type=int, default=48, help="images per phase-2 step")
    parser.add_argument("--tune-patches", type=int, default=6, help="random patches per image in phase 2")
    parser.add_argument("--tune-lr", type=float, default=3e-4)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--patch-loss", type=float, default=1.0, help="weight of the per-patch local-SSIM loss")
    parser.add_argument("--patches-per-image", type=int, default=8, help="random patches per image in phase 1")
    parser.add_argument(
        "--distortions",
        default=",".join(DEFAULT_DISTORTIONS),
        help="distortions to train on, comma separated (default: the demo dataset's structural ones)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads for training")
    parser.add_argument("--cache", type=Path, default=None, help="reuse/save the generated training data here")
    return parser.parse_args()


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Data generation runs many small ops: one thread avoids OpenMP overhead (large on a busy CPU)."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ---------------------------------------------------------------- training data


def random_view(source: str, size: tuple[int, int], generator: torch.Generator) -> Tensor:
    """A random crop (30-100 % of the largest crop of the target aspect), flipped and recoloured."""
    array = torch.from_numpy(np.array(load_source(source), copy=True)).permute(2, 0, 1).float() / 255
    height, width = array.shape[1:]
    scale = float(torch.empty(1).uniform_(0.3, 1.0, generator=generator))
    crop_h = max(32, int(min(height, width * size[0] / size[1]) * scale))
    crop_w = max(32, int(crop_h * size[1] / size[0]))
    top = int(torch.randint(0, height - crop_h + 1, (1,), generator=generator))
    left = int(torch.randint(0, width - crop_w + 1, (1,), generator=generator))
    view = array[:, top : top + crop_h, left : left + crop_w].unsqueeze(0)
    view = F.interpolate(view, size=size, mode="bilinear", antialias=True, align_corners=False)[0]
    if float(torch.rand(1, generator=generator)) < 0.5:
        view = view.flip(-1)
    if source in GRAYSCALE_SOURCES:
        dark = 0.25 * torch.rand(3, 1, 1, generator=generator)
        bright = 1 - 0.25 * torch.rand(3, 1, 1, generator=generator)
        if float(torch.rand(1, generator=generator)) < 0.5:
            view = dark + (bright - dark) * view
    else:
        view = view[torch.randperm(3, generator=generator)]
    return quantise(view)


def _gaussian(size: int = 11, sigma: float = 1.5) -> Tensor:
    coords = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    kernel = torch.exp(-(coords**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def local_ssim(references: Tensor, images: Tensor) -> Tensor:
    """``(N, P)``: mean of the SSIM map (same constants as ``iqa_core.measures.ssim``) over each patch.

    The map is computed on the whole image with reflect padding, so every patch gets a value.
    """
    g = _gaussian()
    c = references.shape[1]
    kh, kw = g.view(1, 1, -1, 1).repeat(c, 1, 1, 1), g.view(1, 1, 1, -1).repeat(c, 1, 1, 1)

    def blur(x: Tensor) -> Tensor:
        x = F.pad(x, (5, 5, 5, 5), mode="reflect")
        return F.conv2d(F.conv2d(x, kh, groups=c), kw, groups=c)

    c1, c2 = 0.01**2, 0.03**2
    mu_x, mu_y = blur(references), blur(images)
    sxx = blur(references * references) - mu_x**2
    syy = blur(images * images) - mu_y**2
    sxy = blur(references * images) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    cells = F.avg_pool2d(centre_crop_to_patches(ssim_map.mean(1, keepdim=True)), 32)
    return cells.flatten(1)


def training_views(views: int, seed: int) -> list[tuple[str, str, Tensor]]:
    """(name, source, reference) of the fixed TRAIN references and the random views."""
    out = [(name, REFERENCES[name].source, load_reference(name, DEFAULT_SIZE)) for name in TRAIN_REFERENCES]
    generator = torch.Generator().manual_seed(seed)
    for source in sorted({REFERENCES[name].source for name in TRAIN_REFERENCES}):
        for index in range(views):
            out.append((f"{source}_view{index}", source, random_view(source, DEFAULT_SIZE, generator)))
    return out


def build_training_data(net: CNNIQA, views: int, seed: int, distortions: list[str]) -> dict[str, Tensor]:
    """Prepared patches ``(n, P, 3, 32, 32)``, image labels ``(n,)`` and patch labels ``(n, P)``."""
    patches, labels, local, kinds = [], [], [], []
    for name, source, reference in training_views(views, seed):
        plain_gray = source in GRAYSCALE_SOURCES and bool((reference[0] == reference[1]).all())
        # desaturating a plain grayscale picture changes nothing: it would only repeat the reference
        kinds_here = [d for d in distortions if not (plain_gray and d == "saturation_decrease")]
        records = distort_reference(reference, name, kinds_here, LEVELS, seed=seed)
        images = torch.stack([reference] + [r.image for r in records])
        with torch.no_grad():
            patches.append(to_patches(net.prepare(images)))
            local.append(local_ssim(reference.expand_as(images), images))
        labels.append(torch.tensor([SCORE_SCALE] + [r.mos for r in records]) / SCORE_SCALE)
        kinds.append(torch.tensor([-1] + [list(DISTORTIONS).index(r.distortion) for r in records]))
    return {
        "patches": torch.cat(patches),
        "labels": torch.cat(labels),
        "local": torch.cat(local),
        "distortion": torch.cat(kinds),  # index into DISTORTIONS, -1 for a clean view
    }


def select_distortions(data: dict[str, Tensor], names: list[str]) -> dict[str, Tensor]:
    """Keep the clean views and the images of the named distortions."""
    wanted = torch.tensor([-1] + [list(DISTORTIONS).index(name) for name in names])
    keep = torch.isin(data["distortion"], wanted)
    return {key: value[keep] for key, value in data.items()}


# ---------------------------------------------------------------- model


def dct_filters(kernels: int = 50, size: int = 7) -> Tensor:
    """``(kernels, 3, size, size)``: 2-D DCT-II basis on luma (low frequencies first) + 2 chroma means."""
    n = torch.arange(size, dtype=torch.float32)
    basis = torch.stack([torch.cos(math.pi * (n + 0.5) * u / size) for u in range(size)])
    basis = basis / basis.norm(dim=1, keepdim=True)
    order = sorted(((u, v) for u in range(size) for v in range(size)), key=lambda uv: (uv[0] + uv[1], uv))
    luma = torch.full((3, 1, 1), 1 / 3)
    filters = [luma * torch.outer(basis[u], basis[v]) for u, v in order[: kernels - 2]]
    mean = torch.outer(basis[0], basis[0])
    filters.append(torch.tensor([1.0, -1.0, 0.0]).view(3, 1, 1) * mean / 2)  # red - green
    filters.append(torch.tensor([0.5, 0.5, -1.0]).view(3, 1, 1) * mean / 2)  # yellow - blue
    return torch.stack(filters)


def head(net: CNNIQA, pooled: Tensor) -> Tensor:
    """The fully connected part of CNNIQA on pooled features ``(..., 100)`` -> ``(...)``."""
    hidden = net.dropout(F.relu(net.fc1(pooled)))
    hidden = net.dropout(F.relu(net.fc2(hidden)))
    return net.fc3(hidden).squeeze(-1)


@torch.no_grad()
def pooled_features(net: CNNIQA, patches: Tensor, chunk: int = 4096) -> Tensor:
    flat = patches.flatten(0, 1)
    out = []
    for start in range(0, len(flat), chunk):
        features = net.conv(flat[start : start + chunk]).flatten(2)
        out.append(torch.cat([features.max(dim=2).values, features.min(dim=2).values], dim=1))
    return torch.cat(out).view(*patches.shape[:2], -1)


def loss_of(scores: Tensor, labels: Tensor, local: Tensor, patch_loss: float) -> Tensor:
    loss = F.l1_loss(scores.mean(1), labels)
    return loss + patch_loss * F.l1_loss(scores, local) if patch_loss > 0 else loss


def pick_patches(generator: torch.Generator, count: int, total: int, rows: int) -> Tensor:
    return torch.rand((rows, total), generator=generator).argsort(dim=1)[:, :count]


def fit_head(net: CNNIQA, data: dict[str, Tensor], args: argparse.Namespace, generator: torch.Generator) -> None:
    net.conv.requires_grad_(False)
    features = pooled_features(net, data["patches"])
    n, total = features.shape[:2]
    params = [p for p in net.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=args.head_lr, weight_decay=args.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, args.head_lr, total_steps=args.head_steps, pct_start=0.1)
    net.train()
    for step in range(1, args.head_steps + 1):
        index = torch.randint(n, (args.head_batch,), generator=generator)
        chosen = pick_patches(generator, min(args.patches_per_image, total), total, args.head_batch)
        x = torch.gather(features[index], 1, chosen[..., None].expand(-1, -1, features.shape[-1]))
        loss = loss_of(
            head(net, x), data["labels"][index], torch.gather(data["local"][index], 1, chosen), args.patch_loss
        )
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 500 == 0 or step == args.head_steps:
            print(f"  head step {step}/{args.head_steps}  loss {loss.item():.4f}", flush=True)
    net.conv.requires_grad_(True)


def fine_tune(net: CNNIQA, data: dict[str, Tensor], args: argparse.Namespace, generator: torch.Generator) -> None:
    if args.tune_steps <= 0:
        return
    n, total = data["patches"].shape[:2]
    optimiser = torch.optim.AdamW(net.parameters(), lr=args.tune_lr, weight_decay=args.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, args.tune_lr, total_steps=args.tune_steps, pct_start=0.1)
    net.train()
    count = min(args.tune_patches, total)
    for step in range(1, args.tune_steps + 1):
        index = torch.randint(n, (args.tune_batch,), generator=generator)
        chosen = pick_patches(generator, count, total, args.tune_batch)
        x = torch.gather(data["patches"][index], 1, chosen[..., None, None, None].expand(-1, -1, 3, 32, 32))
        flip = torch.rand(chosen.shape, generator=generator) < 0.5
        x = torch.where(flip[..., None, None, None], x.flip(-1), x)
        scores = net.score_patches(x.flatten(0, 1)).view(args.tune_batch, count)
        loss = loss_of(scores, data["labels"][index], torch.gather(data["local"][index], 1, chosen), args.patch_loss)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 100 == 0 or step == args.tune_steps:
            print(f"  tune step {step}/{args.tune_steps}  loss {loss.item():.4f}", flush=True)


# ---------------------------------------------------------------- evaluation


@torch.no_grad()
def scores_of(net: CNNIQA, images: Tensor, batch: int = 64) -> Tensor:
    net.eval()
    return torch.cat([SCORE_SCALE * net(images[i : i + batch]) for i in range(0, len(images), batch)])


def _correlations(predicted: np.ndarray, mos: np.ndarray) -> tuple[float, float]:
    return round(float(stats.spearmanr(predicted, mos)[0]), 4), round(float(stats.pearsonr(predicted, mos)[0]), 4)


def evaluate(net: CNNIQA, seed: int) -> dict[str, object]:
    """SROCC / PLCC against the synthetic score on the held-out (DEMO) references' distortions."""
    records = []
    for name in DEMO_REFERENCES:
        records += distort_reference(load_reference(name, DEFAULT_SIZE), name, list(DISTORTIONS), LEVELS, seed=seed)
    predicted = scores_of(net, torch.stack([r.image for r in records])).numpy()
    mos = np.array([r.mos for r in records])
    kinds = np.array([r.distortion for r in records])
    default = np.isin(kinds, DEFAULT_DISTORTIONS)
    srocc, plcc = _correlations(predicted[default], mos[default])
    all_srocc, all_plcc = _correlations(predicted, mos)
    per_distortion = {name: _correlations(predicted[kinds == name], mos[kinds == name])[0] for name in DISTORTIONS}
    return {
        "heldout_srocc": srocc,
        "heldout_plcc": plcc,
        "heldout": {
            "what": "heldout_srocc/plcc: the default demo dataset (DEMO references x DEFAULT_DISTORTIONS x "
            "levels 1-5); all_distortions_*: every demo distortion (adds contrast, saturation, brighten, "
            "darken, which the metric was not trained on and barely sees after local contrast normalisation)",
            "references": list(DEMO_REFERENCES),
            "distortions": list(DEFAULT_DISTORTIONS),
            "levels": list(LEVELS),
            "size": list(DEFAULT_SIZE),
            "images": int(default.sum()),
            "mean_abs_error": round(float(np.abs(predicted[default] - mos[default]).mean()), 2),
            "all_distortions_srocc": all_srocc,
            "all_distortions_plcc": all_plcc,
            "all_distortions_images": len(records),
            "srocc_per_distortion": per_distortion,
        },
    }


def jpeg_quality(images: Tensor, quality: int) -> Tensor:
    out = []
    for array in (images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy():
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            out.append(torch.from_numpy(np.asarray(decoded.convert("RGB")).copy()))
    return torch.stack(out).permute(0, 3, 1, 2).float() / 255


def measure_bounds(net: CNNIQA, seed: int, noise_images: int = 16) -> dict[str, object]:
    """The benchmark's bounds procedure on the demo's clean references (all of them, default size)."""
    clean = torch.stack([load_reference(name, DEFAULT_SIZE) for name in REFERENCES])
    noise = torch.rand((noise_images, 3, *DEFAULT_SIZE), generator=torch.Generator().manual_seed(seed))
    clean_scores = scores_of(net, clean)
    jpeg_scores = scores_of(net, jpeg_quality(clean, 10))
    noise_scores = scores_of(net, noise)
    return {
        "lower": round(float(torch.cat([jpeg_scores, noise_scores]).min()), 3),
        "upper": round(float(clean_scores.max()), 3),
        "procedure": (
            f"upper = max score over the {len(clean)} clean demo references (iqa_bench.demo.REFERENCES, "
            f"{DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]}); lower = min over those images JPEG-compressed at "
            f"quality 10 and {noise_images} uniform random-noise images"
        ),
        "min_clean": round(float(clean_scores.min()), 3),
        "min_jpeg10": round(float(jpeg_scores.min()), 3),
        "min_noise": round(float(noise_scores.min()), 3),
    }


# ---------------------------------------------------------------- main


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    torch.manual_seed(args.seed)
    net = CNNIQA(**ARCHITECTURE)
    with torch.no_grad():
        net.conv.weight.copy_(dct_filters(net.conv.out_channels, net.conv.kernel_size[0]))
        net.conv.bias.zero_()
    train_distortions = [name for name in args.distortions.split(",") if name]
    if args.cache is not None and args.cache.is_file():  # development: reuse generated data
        data = select_distortions(torch.load(args.cache, weights_only=True), train_distortions)
    else:
        with torch_threads(1):
            data = build_training_data(net, args.views, args.seed, train_distortions)
        if args.cache is not None:
            torch.save(data, args.cache)
    data_seconds = time.perf_counter() - start
    print(f"training data: {len(data['labels'])} images, {data_seconds:.0f} s", flush=True)

    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(args.seed)
    fit_head(net, data, args, generator)
    print(f"phase 1 done at {time.perf_counter() - start:.0f} s", flush=True)
    fine_tune(net, data, args, generator)
    train_seconds = time.perf_counter() - start
    print(f"phase 2 done at {train_seconds:.0f} s", flush=True)
    net.eval()

    with torch_threads(1):
        report = evaluate(net, args.seed)
    bounds = measure_bounds(net, args.seed)
    settings = {
        "architecture": dict(ARCHITECTURE),
        "references": list(TRAIN_REFERENCES),
        "random_views_per_source": args.views,
        "distortions": train_distortions,
        "levels": list(LEVELS),
        "size": list(DEFAULT_SIZE),
        "images": len(data["labels"]),
        "conv_init": "7x7 DCT-II basis on luma (48) + red-green and yellow-blue means",
        "phase1": {
            "what": "conv frozen, head on cached pooled features",
            "steps": args.head_steps,
            "batch_images": args.head_batch,
            "patches_per_image": args.patches_per_image,
            "lr": args.head_lr,
        },
        "phase2": {
            "what": "end to end",
            "steps": args.tune_steps,
            "batch_images": args.tune_batch,
            "patches_per_image": args.tune_patches,
            "lr": args.tune_lr,
            "augmentation": "horizontal flip",
        },
        "optimiser": "AdamW, one-cycle schedule (10% warm-up)",
        "weight_decay": args.weight_decay,
        "loss": f"L1(image score) + {args.patch_loss} * L1(patch score vs patch local SSIM)",
        "seed": args.seed,
        "threads": args.threads,
        "data_seconds": round(data_seconds, 1),
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.perf_counter() - start, 1),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    info = {
        "metric": "demo-cnniqa",
        "note": "DEMO metric trained on synthetic distortions; not for research conclusions",
        "score": "predicted 100 * SSIM(reference, distorted) (the demo dataset's synthetic MOS)",
        "bounds": bounds,
        **report,
        "train": settings,
    }
    print(json.dumps({k: info[k] for k in ("bounds", "heldout_srocc", "heldout_plcc", "heldout")}, indent=2))
    print(f"total {settings['total_seconds']:.0f} s")
    if args.dry_run:
        return
    args.out.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().float().contiguous() for key, value in net.state_dict().items()}
    torch.save(state, args.out / WEIGHTS_FILE)
    (args.out / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    print(f"wrote {args.out / WEIGHTS_FILE} and {args.out / INFO_FILE}")


if __name__ == "__main__":
    main()
