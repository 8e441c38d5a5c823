"""What each precision switch does to each benchmark metric: score deviation, gradient agreement, speed.

    .venv/bin/python tools/perf/precision.py [--threads 1] [--size 384 512] [--images 4] [--skip-compile]

For the nine benchmark metrics (random weights, built offline as the GPU tests build them) and the
demo metric, on seeded images of the benchmark size, compares float32 with each switch of
``iqa_core.precision`` (bf16 autocast on the CPU, fp16 on CUDA; channels-last):

* ``max_dev_rel_diam``: largest |f_switch(x) - f_fp32(x)| over the images, as a fraction of the
  metric's bound diameter (the unit of D: 0.01 = one D point);
* ``grad_cosine``: cosine between the input gradients (what a gradient attack follows);
* ``speed``: float32 forward+backward time over the switch's (> 1 = faster), best of ``--repeats``.

On the demo dataset (real images, the trained demo metric) it also reports the SROCC of each
switch's scores against MOS next to float32's. ``torch.compile`` (inductor) is timed on the demo
metric only: compile time and the steady-state speed ratio. Writes ``docs/perf-precision.json``
and prints a Markdown table. CPU bf16 figures say nothing about a GPU's fp16 speed; the GPU check
(``tools/gpu_check.sh``) measures the autocast deviation on CUDA.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from scipy import stats

from iqa_core import create
from iqa_core.precision import with_precision
from iqa_core.testing import toy_images

ROOT = Path(__file__).resolve().parents[2]
PORTED = ("linearity", "koncept512", "spaq", "fpr")
PYIQA_NINE = ("metaiqa", "paq2piq", "maniqa", "clipiqa+", "topiq-nr")


def best_of(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def forward_backward(metric: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    xi = x.clone().requires_grad_(True)
    scores = metric(xi).float().flatten()
    scores.sum().backward()
    assert xi.grad is not None
    return scores.detach(), xi.grad.detach().flatten()


def timed_forward_backward(metric: Any, x: torch.Tensor, repeats: int) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Scores, input gradient and the best time of ``repeats`` calls (the first call is one of them)."""
    t0 = time.perf_counter()
    scores, grad = forward_backward(metric, x)
    first = time.perf_counter() - t0
    rest = best_of(lambda: forward_backward(metric, x), repeats - 1) if repeats > 1 else first
    return scores, grad, min(first, rest)


def compare(name: str, metric: Any, x: torch.Tensor, switches: dict[str, dict[str, Any]], repeats: int) -> dict:
    diam = float(metric.bounds.diam)
    forward_backward(metric, x)  # warm-up (lazy initialisation, allocator)
    base_scores, base_grad, base_time = timed_forward_backward(metric, x, repeats)
    row: dict[str, Any] = {"metric": name, "diam": diam, "fp32_forward_backward_s": round(base_time, 4)}
    for label, switch in switches.items():
        wrapped = with_precision(metric, switch)
        scores, grad, seconds = timed_forward_backward(wrapped, x, repeats)
        cosine = float(torch.nn.functional.cosine_similarity(grad, base_grad, dim=0))
        row[label] = {
            "max_dev_rel_diam": float((scores - base_scores).abs().max()) / diam,
            "grad_cosine": cosine,
            "speed": base_time / seconds,
        }
        if switch.get("channels_last"):
            metric.to(memory_format=torch.contiguous_format)  # undo for the next switch
    return row


def build(name: str, backbones: Path) -> Any:
    from iqa_metrics.offline import stand_in_options

    if name == "demo-cnniqa":
        return create("metric", name).eval()
    params = {"pretrained": False} if name in PORTED else stand_in_options(name, backbones)
    return create("metric", name, **params).eval()


def demo_srocc(switches: dict[str, dict[str, Any]]) -> dict[str, float]:
    from iqa_bench.demo.dataset import demo_dataset

    records = demo_dataset()
    x = torch.stack([r.image for r in records])
    mos = [r.mos for r in records]
    out = {}
    metric = create("metric", "demo-cnniqa").eval()
    with torch.no_grad():
        out["fp32"] = float(stats.spearmanr(metric(x).flatten().numpy(), mos)[0])
        for label, switch in switches.items():
            scores = with_precision(create("metric", "demo-cnniqa").eval(), switch)(x).flatten().numpy()
            out[label] = float(stats.spearmanr(scores, mos)[0])
    return out


def compile_figures(x: torch.Tensor, repeats: int) -> dict[str, Any]:
    metric = create("metric", "demo-cnniqa").eval()
    eager = best_of(lambda: forward_backward(metric, x), repeats)
    compiled = with_precision(create("metric", "demo-cnniqa").eval(), {"compile": True})
    t0 = time.perf_counter()
    scores, _ = forward_backward(compiled, x)
    first = time.perf_counter() - t0
    steady = best_of(lambda: forward_backward(compiled, x), repeats)
    exact, _ = forward_backward(metric, x)
    return {
        "metric": "demo-cnniqa",
        "first_call_s_including_compile": round(first, 2),
        "speed_after_compile": eager / steady,
        "max_abs_dev": float((scores - exact).abs().max()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--size", type=int, nargs=2, default=(384, 512))
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2, help="timed calls per switch (the best is kept)")
    parser.add_argument("--metrics", nargs="*", default=["demo-cnniqa", *PORTED, *PYIQA_NINE])
    parser.add_argument("--skip-compile", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "docs" / "perf-precision.json"))
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the rows of --out for metrics not measured now (each row records its own images, size, time)",
    )
    args = parser.parse_args()
    kept: list[dict[str, Any]] = []
    if args.merge and Path(args.out).is_file():
        previous = json.loads(Path(args.out).read_text(encoding="utf-8"))
        for row in previous.get("metrics", []):
            if row["metric"] not in args.metrics:
                row.setdefault("images", previous.get("images"))
                row.setdefault("size", previous.get("size"))
                row.setdefault("measured_at", previous.get("measured_at"))
                kept.append(row)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    low = "fp16" if torch.cuda.is_available() else "bf16"
    switches = {low: {"autocast": low}, "channels_last": {"channels_last": True}}
    x = toy_images(args.images, tuple(args.size), seed=11)
    rows: list[dict[str, Any]] = list(kept)
    from iqa_metrics.offline import offline_backbones

    backbones = Path(os.environ.get("TMPDIR", "/tmp")) / "iqa-precision-backbones"
    with offline_backbones(backbones):
        for name in args.metrics:
            print(f"{name} ...", flush=True)
            stamp = {
                "images": len(x),
                "size": list(args.size),
                "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            try:
                rows.append({**compare(name, build(name, backbones), x, switches, args.repeats), **stamp})
            except Exception as error:  # noqa: BLE001 - one metric failing must not lose the others
                rows.append({"metric": name, "error": f"{type(error).__name__}: {error}"[:300], **stamp})
            write(args, rows, x, switches, partial=True)  # a long run interrupted keeps what it measured
    result = write(args, rows, x, switches, partial=False)
    print(f"| metric | {' | '.join(f'{s}: dev / cos / speed' for s in switches)} |")
    for row in rows:
        if "error" in row:
            print(f"| {row['metric']} | {row['error']} |")
            continue
        cells = [
            f"{row[s]['max_dev_rel_diam']:.4f} / {row[s]['grad_cosine']:.3f} / {row[s]['speed']:.2f}x" for s in switches
        ]
        print(f"| {row['metric']} | {' | '.join(cells)} |")
    print(f"wrote {args.out} ({len(result['metrics'])} metrics)")
    return 0


def write(
    args: argparse.Namespace, rows: list[dict[str, Any]], x: torch.Tensor, switches: dict[str, Any], *, partial: bool
) -> dict[str, Any]:
    result = {
        "what": "precision switches per metric: deviation from float32 (fraction of diam), input-gradient cosine, "
        "forward+backward speed ratio (fp32 time / switch time; > 1 = faster)",
        "command": "python tools/perf/precision.py",
        "device": "cuda" if torch.cuda.is_available() else f"cpu ({platform.machine()}, {os.cpu_count()} CPUs)",
        "threads": args.threads,
        "images": len(x),
        "size": list(args.size),
        "merged": bool(args.merge),
        "weights": "random (the nine benchmark metrics, built offline); demo-cnniqa: its trained weights",
        "metrics": rows,
        "partial": partial,
        "demo_srocc_vs_mos": None if partial else demo_srocc(switches),
        "compile": None
        if partial or args.skip_compile
        else compile_figures(toy_images(8, (128, 160), seed=3), args.repeats),
        "torch": torch.__version__,
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_average_1min": os.getloadavg()[0],
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    raise SystemExit(main())
