"""Train the offline demo metric (CNNIQA on synthetic distortions) and measure its bounds.

    python tools/train_demo_metric.py            # writes the package data of iqa-metrics
    python tools/train_demo_metric.py --dry-run  # train and evaluate, write nothing

Data: the TRAIN references of ``iqa_bench.demo`` (scikit-image photos, disjoint from the demo
dataset's references), every demo distortion at levels 1-5 plus the clean references, at two
image sizes. Target: the synthetic opinion score ``SSIM(reference, distorted)`` (the demo
dataset's MOS / 100). Each step takes a batch of images with all their 32x32 patches; the loss
is the L1 error of the image score (mean of the patch scores) plus ``--patch-loss`` times the
L1 error of each patch score against that patch's own SSIM (the paper trained patches on the
image label; local labels are a less noisy target for synthetic distortions).

Outputs (in ``--out``, default ``packages/iqa-metrics/src/iqa_metrics/data``):
``demo_cnniqa.pt`` (float32 state_dict of ``CNNIQA(**ARCHITECTURE)``) and ``demo_cnniqa.json``
with the bounds (upper = max score over the clean references; lower = min over those
references JPEG-compressed at quality 10 and over uniform random-noise images), held-out
SROCC / PLCC against the synthetic score on the DEMO references' distortions, and the settings.
CPU only, 2 threads, fixed seeds; a few minutes.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from scipy import stats

from iqa_bench.demo import (
    DEFAULT_SIZE,
    DEMO_REFERENCES,
    DISTORTIONS,
    LEVELS,
    REFERENCES,
    TRAIN_REFERENCES,
    demo_dataset,
    is_grayscale,
    load_reference,
    stack_images,
)
from iqa_core import measures
from iqa_metrics.cnniqa import CNNIQA, centre_crop_to_patches, to_patches
from iqa_metrics.demo import ARCHITECTURE, INFO_FILE, SCORE_SCALE, WEIGHTS_FILE

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "packages" / "iqa-metrics" / "src" / "iqa_metrics" / "data"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the weights and the JSON")
    parser.add_argument("--dry-run", action="store_true", help="train and evaluate but write nothing")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=16, help="images per step (all their patches)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--patch-loss", type=float, default=1.0, help="weight of the per-patch local-SSIM loss")
    parser.add_argument("--sizes", default="128x160,192x256", help="training image sizes HxW, comma separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    return parser.parse_args()


def parse_sizes(text: str) -> list[tuple[int, int]]:
    return [(int(h), int(w)) for h, w in (item.split("x") for item in text.split(","))]


def patch_ssim(references: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """``(N, P)`` SSIM of each 32x32 patch of ``images`` against the same patch of ``references``."""
    ref_patches = to_patches(centre_crop_to_patches(references))
    img_patches = to_patches(centre_crop_to_patches(images))
    n, p = ref_patches.shape[:2]
    return measures.ssim(ref_patches.flatten(0, 1), img_patches.flatten(0, 1)).view(n, p)


def build_group(size: tuple[int, int], net: CNNIQA, seed: int) -> dict[str, torch.Tensor]:
    """Prepared patches and labels of every training image at one size."""
    records = demo_dataset(TRAIN_REFERENCES, list(DISTORTIONS), LEVELS, size=size, include_references=True, seed=seed)
    # desaturating a grayscale picture changes nothing: those records would only repeat the reference
    records = [r for r in records if not (r.distortion == "saturation_decrease" and is_grayscale(r.reference))]
    images = stack_images(records)
    references = torch.stack([load_reference(r.reference, size) for r in records])
    with torch.no_grad():
        patches = to_patches(net.prepare(images))
        labels = torch.tensor([r.mos for r in records]) / SCORE_SCALE
        local = patch_ssim(references, images)
    return {"patches": patches, "labels": labels, "local": local}


def train(args: argparse.Namespace) -> tuple[CNNIQA, dict[str, object]]:
    torch.manual_seed(args.seed)
    net = CNNIQA(**ARCHITECTURE)
    start = time.perf_counter()
    groups = [build_group(size, net, args.seed) for size in parse_sizes(args.sizes)]
    counts = torch.tensor([float(len(g["labels"])) for g in groups])
    data_seconds = time.perf_counter() - start
    print(f"training data: {[len(g['labels']) for g in groups]} images, {data_seconds:.1f} s", flush=True)

    generator = torch.Generator().manual_seed(args.seed)
    optimiser = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=args.lr, total_steps=args.steps, pct_start=0.1)
    net.train()
    running = 0.0
    for step in range(1, args.steps + 1):
        group = groups[int(torch.multinomial(counts, 1, generator=generator))]
        index = torch.randint(len(group["labels"]), (args.batch,), generator=generator)
        patches = group["patches"][index]  # (B, P, 3, 32, 32)
        flip = torch.rand(patches.shape[:2], generator=generator) < 0.5
        patches = torch.where(flip[..., None, None, None], patches.flip(-1), patches)
        b, p = patches.shape[:2]
        scores = net.score_patches(patches.flatten(0, 1)).view(b, p)
        loss = F.l1_loss(scores.mean(1), group["labels"][index])
        if args.patch_loss > 0:
            loss = loss + args.patch_loss * F.l1_loss(scores, group["local"][index])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        running = 0.98 * running + 0.02 * float(loss) if step > 1 else float(loss)
        if step % 100 == 0 or step == args.steps:
            print(f"step {step}/{args.steps}  loss {running:.4f}  {time.perf_counter() - start:.0f} s", flush=True)
    net.eval()
    settings = {
        "architecture": dict(ARCHITECTURE),
        "references": list(TRAIN_REFERENCES),
        "distortions": list(DISTORTIONS),
        "levels": list(LEVELS),
        "sizes": [list(size) for size in parse_sizes(args.sizes)],
        "images": [len(g["labels"]) for g in groups],
        "steps": args.steps,
        "batch_images": args.batch,
        "optimiser": "AdamW",
        "lr": args.lr,
        "schedule": "one-cycle (10% warm-up)",
        "weight_decay": args.weight_decay,
        "loss": f"L1(image score) + {args.patch_loss} * L1(patch score vs patch SSIM)",
        "augmentation": "random horizontal flip per patch",
        "seed": args.seed,
        "threads": args.threads,
        "seconds": round(time.perf_counter() - start, 1),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    return net, settings


@torch.no_grad()
def scores_of(net: CNNIQA, images: torch.Tensor, batch: int = 64) -> torch.Tensor:
    return torch.cat([SCORE_SCALE * net(images[i : i + batch]) for i in range(0, len(images), batch)])


def evaluate(net: CNNIQA, seed: int) -> dict[str, object]:
    """SROCC / PLCC against the synthetic score on the held-out (DEMO) references' distortions."""
    records = demo_dataset(DEMO_REFERENCES, list(DISTORTIONS), LEVELS, size=DEFAULT_SIZE, seed=seed)
    predicted = scores_of(net, stack_images(records)).numpy()
    mos = np.array([r.mos for r in records])
    result: dict[str, object] = {
        "heldout_srocc": round(float(stats.spearmanr(predicted, mos)[0]), 4),
        "heldout_plcc": round(float(stats.pearsonr(predicted, mos)[0]), 4),
    }
    per_distortion = {}
    for name in DISTORTIONS:
        mask = np.array([r.distortion == name for r in records])
        per_distortion[name] = round(float(stats.spearmanr(predicted[mask], mos[mask])[0]), 4)
    result["heldout"] = {
        "references": list(DEMO_REFERENCES),
        "distortions": list(DISTORTIONS),
        "levels": list(LEVELS),
        "size": list(DEFAULT_SIZE),
        "images": len(records),
        "srocc_per_distortion": per_distortion,
        "mean_abs_error": round(float(np.abs(predicted - mos).mean()), 2),
    }
    return result


def jpeg_quality(images: torch.Tensor, quality: int) -> torch.Tensor:
    out = []
    for array in (images * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy():
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        out.append(torch.from_numpy(np.asarray(Image.open(buffer).convert("RGB")).copy()))
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
            "upper = max score over the clean demo references (all REFERENCES, default size); "
            f"lower = min over those images JPEG-compressed at quality 10 and {noise_images} uniform noise images"
        ),
        "min_clean": round(float(clean_scores.min()), 3),
        "min_jpeg10": round(float(jpeg_scores.min()), 3),
        "min_noise": round(float(noise_scores.min()), 3),
    }


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    net, settings = train(args)
    report = evaluate(net, args.seed)
    bounds = measure_bounds(net, args.seed)
    info = {
        "metric": "demo-cnniqa",
        "note": "DEMO metric trained on synthetic distortions; not for research conclusions",
        "score": "predicted 100 * SSIM(reference, distorted) (the demo dataset's synthetic MOS)",
        "bounds": bounds,
        **report,
        "train": settings,
    }
    print(json.dumps({k: info[k] for k in ("bounds", "heldout_srocc", "heldout_plcc", "heldout")}, indent=2))
    if args.dry_run:
        return
    args.out.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().float().contiguous() for key, value in net.state_dict().items()}
    torch.save(state, args.out / WEIGHTS_FILE)
    (args.out / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    print(f"wrote {args.out / WEIGHTS_FILE} and {args.out / INFO_FILE}")


if __name__ == "__main__":
    main()
