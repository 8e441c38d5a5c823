"""Fine-tune the demo metric with adversarial training and with NT; compare robustness to the original.

    python packages/iqa-train/examples/robustness_demo.py [--out DIR] [--epochs N] [--device auto]

Needs iqa-metrics (``demo-cnniqa`` with its shipped demo weights), iqa-attacks (APGD for AT,
I-FGSM for the evaluation) and scikit-image (the photos). The data: crops of photos that ship
inside scikit-image, distorted by Gaussian blur, Gaussian noise and JPEG at four levels, labelled
with the demo's synthetic opinion score ``100 * SSIM(reference, distorted)``; validation uses
references never seen in training. Reported on the validation images, for the original metric,
AT and NT: SROCC with the labels (clean), SROCC and mean |score change| under I-FGSM (default
preset). Writes ``results.md`` and ``results.json`` in ``--out``. DEMO numbers: a small metric on
synthetic labels, not research conclusions.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

import iqa_core
from iqa_core import measures
from iqa_train import IQAItem, TrainSettings, train_adversarial, train_nt
from iqa_train.evaluation import correlations
from iqa_train.images import save_image

#: Fine-tuning uses the photos the demo metric was trained on; validation its held-out photos.
TRAIN_PHOTOS = ("stereo_motorcycle", "immunohistochemistry", "camera", "brick", "grass", "gravel")
VAL_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
PHOTOS = TRAIN_PHOTOS + VAL_PHOTOS
SIZE = 128


def _photo(name: str) -> torch.Tensor:
    from skimage import data

    array = getattr(data, name)()
    if isinstance(array, tuple):  # stereo_motorcycle: (left, right, disparity)
        array = array[0]
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    image = torch.from_numpy(np.ascontiguousarray(array[..., :3])).permute(2, 0, 1).float() / 255
    side = min(image.shape[1:])
    top, left = (image.shape[1] - side) // 2, (image.shape[2] - side) // 2
    square = image[:, top : top + side, left : left + side][None]
    return F.interpolate(square, size=(SIZE, SIZE), mode="area")[0].clamp(0, 1)


def _distort(image: torch.Tensor, kind: str, level: int, generator: torch.Generator) -> torch.Tensor:
    if kind == "blur":
        sigma = 0.6 * level
        k = int(2 * round(3 * sigma) + 1)
        x = torch.arange(k, dtype=torch.float32) - k // 2
        g = torch.exp(-(x**2) / (2 * sigma**2))
        g = g / g.sum()
        padded = F.pad(image[None], (k // 2,) * 4, mode="reflect")
        out = F.conv2d(padded, g.view(1, 1, 1, k).expand(3, 1, 1, k), groups=3)
        return F.conv2d(out, g.view(1, 1, k, 1).expand(3, 1, k, 1), groups=3)[0].clamp(0, 1)
    if kind == "noise":
        return (image + 0.03 * level * torch.randn(image.shape, generator=generator)).clamp(0, 1)
    buffer = io.BytesIO()
    array = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(array).save(buffer, format="JPEG", quality=int(60 - 13 * level))
    buffer.seek(0)
    return torch.from_numpy(np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)


def make_dataset(root: Path) -> tuple[list[IQAItem], list[IQAItem]]:
    generator = torch.Generator().manual_seed(0)
    train, val = [], []
    for photo in PHOTOS:
        reference = _photo(photo)
        for kind in ("blur", "noise", "jpeg"):
            for level in range(1, 5):
                distorted = _distort(reference, kind, level, generator)
                score = 100 * float(measures.ssim(reference[None], distorted[None]))
                path = root / f"{photo}_{kind}{level}.png"
                save_image(distorted, path)
                (val if photo in VAL_PHOTOS else train).append(IQAItem(path.name, score, path))
        path = root / f"{photo}_ref.png"
        save_image(reference, path)
        (val if photo in VAL_PHOTOS else train).append(IQAItem(path.name, 100.0, path))
    return train, val


def evaluate(metric: torch.nn.Module, items: list[IQAItem], attack: object, device: torch.device) -> dict[str, float]:
    metric = metric.to(device).eval()
    images = torch.stack([item.load() for item in items]).to(device)
    mos = [item.mos for item in items]
    with torch.no_grad():
        clean = metric(images).float().cpu().numpy()
    generator = torch.Generator(device=device).manual_seed(0)
    adversarial = attack(metric, images, generator=generator)  # type: ignore[operator]
    with torch.no_grad():
        attacked = metric(adversarial).float().cpu().numpy()
    return {
        "srocc_clean": correlations(clean, mos)["srocc"],
        "srocc_attacked": correlations(attacked, mos)["srocc"],
        "score_change": float(np.mean(np.abs(attacked - clean))),
        "score_change_rel": float(np.mean(np.abs(attacked - clean)) / metric.bounds.diam),  # type: ignore[attr-defined]
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="robustness-demo")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    try:
        original = iqa_core.create("metric", "demo-cnniqa")
    except (LookupError, FileNotFoundError, ValueError) as error:
        print(f"the demo metric is not available ({error}); nothing to compare", file=sys.stderr)
        return 1
    out = Path(args.out)
    train, val = make_dataset(out / "data")
    device = iqa_core.resolve_device(None if args.device == "auto" else args.device)
    ifgsm = iqa_core.create("attack", "ifgsm")
    settings = TrainSettings(epochs=args.epochs, batch_size=8, lr=1e-4, device=args.device, progress=False)
    results = {"original": evaluate(original, val, ifgsm, device)}
    at_model = copy.deepcopy(original)
    train_adversarial(at_model, train, val, out / "at", settings=settings, eps=[4], eval_attack=None, resume=False)
    results["adversarial training"] = evaluate(at_model, val, ifgsm, device)
    nt_model = copy.deepcopy(original)
    train_nt(nt_model, train, val, out / "nt", settings=settings, resume=False)
    results["NT"] = evaluate(nt_model, val, ifgsm, device)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "# Demo: adversarial training and NT on the demo metric (DEMO numbers, not research conclusions)",
        "",
        f"{len(train)} training / {len(val)} validation images (held-out photos), {args.epochs} epochs, "
        "I-FGSM (default preset) on the validation images.",
        "",
        "| model | SROCC clean | SROCC under I-FGSM | mean abs score change | relative change |",
        "|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['srocc_clean']:.3f} | {r['srocc_attacked']:.3f} | {r['score_change']:.2f} | "
            f"{r['score_change_rel']:.3f} |"
        )
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
