"""Overhead of the certifiers' Monte-Carlo sampling over the metric's own batched forward passes.

    overhead ratio = certify time per image / ((n0 + n) * pure batched forward time per image)

The pure forward time is the metric alone on ready-made batches (the same batch sizes the
sampler uses, ``n0 + n`` images in all) under ``torch.inference_mode``: no noise, no classes,
no bookkeeping. Forward-only and certify runs alternate for ``--rounds`` rounds and the median
of the per-round ratios is reported, so that load changes on a shared machine hit both alike.
The same ratio in process CPU time (``time.process_time``, with one thread: the work done,
insensitive to other processes on the machine) is reported beside the wall-clock one; on a
GPU only the wall-clock ratio is meaningful. A ratio near 1 means the
certifier costs little beyond the forward passes it cannot avoid (issue 6 targets < 1.10).

The metric is a small CNN (4 conv layers + pooling + linear head, random weights: only its cost
matters). Runs on the CPU by default with one thread so the figure is stable on a shared
machine; ``--device cuda`` measures on a GPU. Prints a table and writes a JSON file::

    python packages/iqa-certify/benchmarks/bench_overhead.py --out bench_overhead.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from iqa_certify import MS, RS
from iqa_core import Bounds


class SmallCNNMetric(nn.Module):
    """A CNN-shaped stand-in for an NR-IQA model: conv stack, global pooling, score in [0, 100]."""

    name = "bench-cnn"
    higher_is_better = True
    differentiable = True
    bounds = Bounds(0.0, 100.0)

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(2 * width, 1)

    def forward(self, images: Tensor) -> Tensor:
        return 100 * torch.sigmoid(self.head(self.features(images).flatten(1))).squeeze(1)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def chunk_sizes(total: int, batch_size: int) -> list[int]:
    """The batch sizes the certifier's sampler uses for ``total`` samples."""
    full, rest = divmod(total, batch_size)
    return [batch_size] * full + ([rest] if rest else [])


def forward_seconds(metric: nn.Module, batches: list[Tensor], device: torch.device) -> tuple[float, float]:
    """Wall and process-CPU time of the metric alone on ready-made batches (inference mode, nothing else)."""
    with torch.inference_mode():
        sync(device)
        start, cpu = time.perf_counter(), time.process_time()
        for batch in batches:
            metric(batch)
        sync(device)
    return time.perf_counter() - start, time.process_time() - cpu


def run(args: argparse.Namespace) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    metric = SmallCNNMetric(args.width).to(device).eval()
    image = torch.rand(1, 3, args.size, args.size, generator=torch.Generator().manual_seed(0))
    certifiers: dict[str, RS | MS] = {
        "rs": RS(n0=args.n0, n=args.n, batch_size=args.batch_size, device=device),
        "ms": MS(n=args.n, batch_size=args.batch_size, device=device),
    }
    results: dict[str, Any] = {
        "device": str(device),
        "threads": args.threads,
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "image_size": args.size,
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "certifiers": {},
    }
    g = torch.Generator(device=device).manual_seed(0)
    for name, certifier in certifiers.items():
        phases = [args.n0, args.n] if name == "rs" else [args.n]
        sizes = [b for total in phases for b in chunk_sizes(total, args.batch_size)]
        samples = sum(phases)
        batches = [torch.rand(b, 3, args.size, args.size, device=device, generator=g) for b in sizes]
        forward_seconds(metric, batches, device)  # warm-up
        certifier.certify(metric, image, generator=torch.Generator().manual_seed(1))
        forward_times, certify_times, ratios, cpu_ratios = [], [], [], []
        for r in range(args.rounds):  # alternate, so load changes on a shared machine hit both alike
            t_forward, cpu_forward = forward_seconds(metric, batches, device)
            cpu = time.process_time()
            (cert,) = certifier.certify(metric, image, generator=torch.Generator().manual_seed(r))
            cpu_certify = time.process_time() - cpu
            forward_times.append(t_forward)
            certify_times.append(cert.seconds)
            ratios.append(cert.seconds / t_forward)
            cpu_ratios.append(cpu_certify / cpu_forward)
        results["certifiers"][name] = {
            "samples_per_image": samples,
            "forward_ms_per_image": 1e3 * statistics.median(forward_times) / samples,
            "forward_seconds_for_the_samples": statistics.median(forward_times),
            "certify_seconds_per_image": statistics.median(certify_times),
            "overhead_ratio": statistics.median(ratios),
            "overhead_ratio_per_round": ratios,
            "cpu_time_overhead_ratio": statistics.median(cpu_ratios),
            "cpu_time_overhead_ratio_per_round": cpu_ratios,
        }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: stable on shared machines)")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--width", type=int, default=32, help="channels of the first conv layer")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--n0", type=int, default=100)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5, help="alternating forward/certify rounds (median ratio)")
    parser.add_argument("--out", type=Path, default=Path("bench_overhead.json"))
    args = parser.parse_args(argv)
    results = run(args)
    print(
        f"device {results['device']}, {results['threads']} thread(s), "
        f"{args.size}x{args.size} images, batch {args.batch_size}"
    )
    for name, row in results["certifiers"].items():
        print(
            f"{name:>4}: {row['samples_per_image']} samples, certify {row['certify_seconds_per_image']:.3f} s/image, "
            f"forward only {row['forward_seconds_for_the_samples']:.3f} s "
            f"-> overhead ratio {row['overhead_ratio']:.3f} "
            f"(process CPU time: {row['cpu_time_overhead_ratio']:.3f})"
        )
    args.out.write_text(json.dumps(results, indent=2))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
