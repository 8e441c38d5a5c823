"""Before/after timings of the profiled hot spots (issue 16), as ratios measured in one run.

    .venv/bin/python tools/perf/hotspots.py [--threads 1] [--repeats 3] [--quick] [--device cpu]

The previous implementations are inlined below as baselines; each row times the baseline and the
current code on the same input, alternately, and keeps the fastest of ``--repeats`` runs of each.
Every row also checks that both give identical outputs. Writes ``docs/perf-hotspots.json`` and
prints a Markdown table.

- median blur: ``median_filter`` vs ``torch.median`` over unfolded windows, 8x3x384x512, every
  preset kernel, without gradients (purification) and with the input gradient (adaptive attacks).
- JPEG: ``jpeg_roundtrip`` (torchvision's batched codec) vs the Pillow loop, 8x3x384x512 natural
  image crops, every preset quality.
- APGD: wall time over the metric's own forward+backward time for the same number of gradient
  calls (1 = no overhead), current and previous loop, with a cheap convolutional metric on
  8x3x384x512 so that the loop's own work is visible.

``--threads 1`` is the default: on a shared 2-core machine, 2 intra-op threads made the many
small element-wise ops of the comparison network up to 10x slower (spinning threads under load).
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from iqa_attacks import APGD
from iqa_attacks.apgd import checkpoints, halve_at_checkpoint
from iqa_attacks.base import per_image, project_linf
from iqa_core import Bounds
from iqa_purify.jpeg import JPEG, jpeg_roundtrip
from iqa_purify.median_blur import MedianBlur, median_filter

ROOT = Path(__file__).resolve().parents[2]


# ---- baselines: the implementations before issue 16 ------------------------------------------


def old_median(images: Tensor, k: int, rows_per_chunk: int = 64) -> Tensor:
    r = k // 2
    padded = F.pad(images, (r, r, r, r), mode="reflect")
    rows = []
    for top in range(0, images.shape[-2], rows_per_chunk):
        band = padded[..., top : min(images.shape[-2], top + rows_per_chunk) + 2 * r, :]
        rows.append(band.unfold(-2, k, 1).unfold(-2, k, 1).flatten(-2).median(dim=-1).values)
    return torch.cat(rows, dim=-2)


def old_jpeg(images: Tensor, quality: int) -> Tensor:
    as_uint8 = (images.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    decoded = []
    for array in as_uint8:
        buffer = io.BytesIO()
        Image.fromarray(array, mode="RGB").save(buffer, format="JPEG", quality=quality, subsampling=2)
        buffer.seek(0)
        with Image.open(buffer) as img:
            decoded.append(np.asarray(img.convert("RGB")))
    return torch.from_numpy(np.stack(decoded)).permute(0, 3, 1, 2).float().div_(255).to(images.device)


def old_apgd(attack: APGD, metric: nn.Module, images: Tensor) -> Tensor:
    n = images.shape[0]
    x = images.clone()
    loss, grad = attack.loss_and_grad(metric, x)
    x_best, loss_best, grad_best = x.clone(), loss.clone(), grad.clone()
    eta = torch.full((n,), 2 * attack.eps, device=x.device, dtype=x.dtype)
    x_prev = x
    increases = torch.zeros(n, device=x.device)
    marks = checkpoints(attack.n_iter)
    last_mark = 0
    halved_last = torch.ones(n, dtype=torch.bool, device=x.device)
    best_at_mark = loss_best.clone()
    for k in range(attack.n_iter):
        z = project_linf(x + per_image(eta, x) * grad.sign(), images, attack.eps)
        if k == 0:
            x_new = z
        else:
            a = attack.momentum
            x_new = project_linf(x + a * (z - x) + (1 - a) * (x - x_prev), images, attack.eps)
        loss_new, grad_new = attack.loss_and_grad(metric, x_new)
        increases += (loss_new > loss).float()
        improved = loss_new > loss_best
        x_best = torch.where(per_image(improved, x), x_new, x_best)
        grad_best = torch.where(per_image(improved, x), grad_new, grad_best)
        loss_best = torch.where(improved, loss_new, loss_best)
        x_prev, x, loss, grad = x, x_new, loss_new, grad_new
        step = k + 1
        if step in marks and step < attack.n_iter:
            halve = halve_at_checkpoint(
                increases, step - last_mark, attack.rho, halved_last=halved_last, best_last=best_at_mark,
                best_now=loss_best,
            )  # fmt: skip
            eta = torch.where(halve, eta / 2, eta)
            x = torch.where(per_image(halve, x), x_best, x)
            grad = torch.where(per_image(halve, x), grad_best, grad)
            increases.zero_()
            last_mark, halved_last, best_at_mark = step, halve, loss_best.clone()
    return x_best


# ---- timing ----------------------------------------------------------------------------------


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_of(repeats: int, device: torch.device, *fns: Callable[[], Any]) -> tuple[list[float], list[Any]]:
    """Fastest wall time of each function over ``repeats`` alternating rounds, and its last output.

    One untimed call of each first: imports (torchvision), built networks and allocator warm-up
    are one-off costs, not per-batch ones.
    """
    times = [float("inf")] * len(fns)
    outputs: list[Any] = [fn() for fn in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            sync(device)
            start = time.perf_counter()
            outputs[i] = fn()
            sync(device)
            times[i] = min(times[i], time.perf_counter() - start)
    return times, outputs


def natural_batch(n: int, h: int, w: int, device: torch.device) -> Tensor:
    """``n`` 8-bit crops of skimage's colour sample images (seeded noise where skimage is missing)."""
    try:
        from skimage import data

        sources = [getattr(data, name)()[..., :3] for name in ("astronaut", "chelsea", "coffee", "rocket")]
    except ImportError:
        sources = [np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)]
    crops = []
    for i in range(n):
        src = sources[i % len(sources)]
        src = np.pad(src, ((0, max(0, h - src.shape[0])), (0, max(0, w - src.shape[1])), (0, 0)), mode="reflect")
        top, left = (7 * i) % (src.shape[0] - h + 1), (11 * i) % (src.shape[1] - w + 1)
        crops.append(src[top : top + h, left : left + w])
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div(255).to(device)


class CheapMetric(nn.Module):
    """A seeded two-layer conv net: cheap enough that APGD's own per-step work shows."""

    name = "cheap"
    higher_is_better = True
    differentiable = True
    bounds = Bounds(0.0, 1.0)

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2))

    def forward(self, x: Tensor) -> Tensor:
        return torch.sin(8 * self.net(x)).mean((1, 2, 3))


def forward_backward(metric: nn.Module, x: Tensor) -> None:
    x = x.detach().requires_grad_(True)
    torch.autograd.grad(metric(x).sum(), x)


# ---- the rows ----------------------------------------------------------------------------------


def median_rows(shape: tuple[int, ...], repeats: int, device: torch.device) -> list[dict[str, Any]]:
    x = natural_batch(shape[0], shape[2], shape[3], device)
    rows = []
    for k in sorted(p["kernel_size"] for p in MedianBlur.presets.values()):
        (old_t, new_t), (old_out, new_out) = best_of(
            repeats, device, lambda k=k: old_median(x, k), lambda k=k: median_filter(x, k)
        )
        rows.append(row("median blur", f"k={k}, no grad", shape, old_t, new_t, torch.equal(old_out, new_out)))
    return rows


def median_grad_rows(shape: tuple[int, ...], repeats: int, device: torch.device) -> list[dict[str, Any]]:
    rows = []
    upstream = torch.randint(-3, 4, shape, generator=torch.Generator().manual_seed(0)).float().to(device)
    for k in (3, 5):
        # distinct values (torch.rand repeats some at this size): without ties the gradients must be equal
        numel = int(np.prod(shape))
        order = torch.randperm(numel, generator=torch.Generator().manual_seed(k))
        cont = (order.float() / numel).view(shape).to(device)

        def grad_of(fn: Callable[[Tensor, int], Tensor], k: int = k, cont: Tensor = cont) -> Tensor:
            leaf = cont.clone().requires_grad_(True)
            (fn(leaf, k) * upstream).sum().backward()
            assert leaf.grad is not None
            return leaf.grad

        (old_t, new_t), (old_g, new_g) = best_of(
            repeats, device, lambda: grad_of(old_median), lambda: grad_of(median_filter)
        )
        rows.append(row("median blur", f"k={k}, forward+backward", shape, old_t, new_t, torch.equal(old_g, new_g)))
    return rows


def jpeg_rows(shape: tuple[int, ...], repeats: int, device: torch.device) -> list[dict[str, Any]]:
    x = natural_batch(shape[0], shape[2], shape[3], device)
    rows = []
    for q in sorted(p["quality"] for p in JPEG.presets.values()):
        (old_t, new_t), (old_out, new_out) = best_of(
            repeats, device, lambda q=q: old_jpeg(x, q), lambda q=q: jpeg_roundtrip(x, q)
        )
        rows.append(row("JPEG", f"quality={q}", shape, old_t, new_t, torch.equal(old_out, new_out)))
    return rows


def apgd_rows(shape: tuple[int, ...], repeats: int, device: torch.device, n_iter: int) -> list[dict[str, Any]]:
    x = natural_batch(shape[0], shape[2], shape[3], device)
    metric = CheapMetric().to(device).eval()
    attack = APGD(eps=4 / 255, n_iter=n_iter)

    def pure() -> None:
        for _ in range(n_iter + 1):  # APGD computes n_iter + 1 gradients (the start and every step)
            forward_backward(metric, x)

    (pure_t, old_t, new_t), (_, old_out, new_out) = best_of(
        repeats, device, pure, lambda: old_apgd(attack, metric, x), lambda: attack(metric, x)
    )
    same = torch.equal(old_out.clamp(0, 1), new_out)
    out = row("APGD", f"n_iter={n_iter}, cheap conv metric", shape, old_t, new_t, same)
    out["old_over_pure_fwd_bwd"] = round(old_t / pure_t, 3)
    out["new_over_pure_fwd_bwd"] = round(new_t / pure_t, 3)
    out["pure_fwd_bwd_s"] = round(pure_t, 4)
    return [out]


def row(op: str, case: str, shape: tuple[int, ...], old_t: float, new_t: float, same: bool) -> dict[str, Any]:
    return {
        "op": op,
        "case": case,
        "shape": list(shape),
        "old_s": round(old_t, 4),
        "new_s": round(new_t, 4),
        "new_over_old": round(new_t / old_t, 3),
        "identical_output": bool(same),
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| op | case | shape | before (s) | after (s) | after / before | identical |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = f"{r['new_over_old']:.3f}"
        if "new_over_pure_fwd_bwd" in r:
            ratio += f" (over fwd+bwd: {r['old_over_pure_fwd_bwd']:.2f} -> {r['new_over_pure_fwd_bwd']:.2f})"
        shape = "x".join(map(str, r["shape"]))
        lines.append(
            f"| {r['op']} | {r['case']} | {shape} | {r['old_s']:.3f} | {r['new_s']:.3f} | {ratio} | "
            f"{'yes' if r['identical_output'] else 'NO'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per row; the fastest counts (default 3)")
    parser.add_argument("--quick", action="store_true", help="2x3x128x192 batches (a smoke run, not the figures)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["median", "median-grad", "jpeg", "apgd"],
        help="re-measure these sections, keep the others' rows in --out",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "perf-hotspots.json")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.repeats < 1:
        parser.error("--threads and --repeats must be >= 1")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    shape = (2, 3, 128, 192) if args.quick else (8, 3, 384, 512)
    sections = {
        "median": lambda: median_rows(shape, args.repeats, device),
        "median-grad": lambda: median_grad_rows(shape, args.repeats, device),
        "jpeg": lambda: jpeg_rows(shape, args.repeats, device),
        "apgd": lambda: apgd_rows(shape, args.repeats, device, n_iter=10),
    }
    chosen = args.only or list(sections)
    command = "python tools/perf/hotspots.py " + " ".join(sys.argv[1:] if argv is None else argv)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    rows = []
    for name in chosen:
        for r in sections[name]():
            rows.append({**r, "section": name, "measured": stamp, "command": command})
    if args.only and args.out.exists():  # re-measured sections replace theirs, the others are kept
        kept = [r for r in json.loads(args.out.read_text())["rows"] if r.get("section") not in chosen]
        rows = kept + rows
    report = {
        "device": str(device),
        "cpu": platform.processor() or platform.machine(),
        "threads": args.threads,
        "repeats": args.repeats,
        "torch": torch.__version__,
        "rows": rows,
    }
    if not args.quick:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(markdown(rows))
    bad = [f"{r['op']} {r['case']}" for r in rows if not r["identical_output"]]
    print(f"(threads {args.threads}, fastest of {args.repeats} rounds after one warm-up call; {device})")
    if bad:
        print("outputs differ: " + ", ".join(bad), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
