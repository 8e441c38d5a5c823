"""Speed and memory figures, as ratios measured in one run on one machine (``nox -s perf``).

Writes ``docs/performance.md`` and ``docs/performance.json``. Every figure says the command that
measured it. Absolute seconds are printed for context only; compare ratios.

* Scorer: batched vs per-image throughput on the demo metric.
* Metrics: forward and forward+backward images/s of the nine benchmark metrics and the demo metric.
* Renders the attack (``iqa-attacks bench``) and certification JSONs the nox session wrote first.
* Defence throughput: images per second of each installed cheap defence at its default preset.
* Bench orchestration overhead: ``iqa-bench run`` over a plain script doing the same component calls
  (``tools/perf/orchestration_overhead.py`` writes ``docs/perf-overhead.json``; rendered here), and the
  old figure, a run's wall time over the component compute time it recorded.
* Peak memory of a bench run at 100 vs 1000 images (streamed chunks: should stay flat).
* Renders the figures of ``tools/perf/*.py`` and the paper-grid projection (``perf_sections.py``);
  ``--render-only`` re-renders the page from the stored JSONs without measuring.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perf_sections import render_sections

ROOT = Path(__file__).resolve().parents[2]
COMMAND = "uv run --locked nox -s perf"


def log(message: str) -> None:
    print(f"[perf] {message}", file=sys.stderr, flush=True)


def staged(what: str, fn: Any, *args: Any) -> Any:
    """Run one stage with a progress line (so a killed run shows where) and free memory after it."""
    log(f"{what} ...")
    result = fn(*args)
    gc.collect()
    return result


def _timed(fn, repeat: int = 3) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def scorer_figures(device: str) -> dict[str, Any]:
    from iqa_core import Scorer, create
    from iqa_core.testing import toy_images

    metric = create("metric", "demo-cnniqa").to(device)
    images = toy_images(64, (128, 160))  # the demo dataset's size
    batched = _timed(lambda: Scorer(device, batch_size=32).score(metric, images))
    single = _timed(lambda: Scorer(device, batch_size=1).score(metric, images))  # the Scorer's own per-image loop
    return {"images": 64, "size": "128x160", "batched_s": batched, "per_image_s": single, "speedup": single / batched}


def defence_figures(device: str, size: tuple[int, int] = (384, 512), batch: int = 8) -> dict[str, Any]:
    """Images/s of each defence that runs offline, batched, and batched over a per-image loop."""
    from iqa_core import available, create
    from iqa_core.testing import toy_images

    x = toy_images(batch, size).to(device)
    out = {}
    for name in available("defence"):
        try:
            defence = create("defence", name)
            if isinstance(defence, torch.nn.Module):
                defence.to(device)
            generator = torch.Generator(device=device).manual_seed(0)
            with torch.inference_mode():
                batched = _timed(lambda d=defence, g=generator: d(x, generator=g), repeat=2)
                looped = _timed(
                    lambda d=defence, g=generator: [d(x[i : i + 1], generator=g) for i in range(batch)], repeat=2
                )
        except Exception as error:  # noqa: BLE001 - neural defences without weights offline are reported
            out[name] = {"error": f"{type(error).__name__}: {str(error)[:120]}"}
            continue
        out[name] = {"images_per_s": batch / batched, "batched_over_loop": looped / batched}
    return out


#: The ports of iqa-metrics build with random weights and no download.
PORTED_METRICS: dict[str, dict[str, Any]] = {
    "demo-cnniqa": {},
    "linearity": {"pretrained": False},
    "koncept512": {"pretrained": False},
    "spaq": {"pretrained": False},
    "fpr": {"pretrained": False},
}


def _metric_speed(metric: Any, x: torch.Tensor) -> dict[str, float]:
    """Images/s of one forward pass and of one input-gradient pass (the same timing as
    ``iqa-attacks bench``); one warm-up and one timed run each: the slow ports take a minute a pass."""
    from iqa_attacks.benchmark import forward_backward_time

    with torch.inference_mode():
        forward = _timed(lambda: metric(x), repeat=1)
    backward = forward_backward_time(metric, x, repeats=1)
    return {"forward_images_per_s": len(x) / forward, "forward_backward_images_per_s": len(x) / backward}


def metric_figures(device: str, size: tuple[int, int] = (384, 512), batch: int = 8) -> dict[str, Any]:
    """Forward and forward+backward images/s at 384x512, batch 8, for the nine benchmark metrics and the
    demo metric, all with random weights (speed does not depend on the weight values): the ports
    directly, pyiqa's five with random backbones placed by ``iqa_metrics.offline`` (MANIQA with 1 crop
    per image instead of pyiqa's 20)."""
    from iqa_core import create
    from iqa_core.testing import toy_images
    from iqa_metrics.offline import STAND_IN_OPTIONS, offline_backbones, stand_in_options

    x = toy_images(batch, size).to(device)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="iqa-perf-backbones-") as tmp, offline_backbones(tmp):
        for name in [*PORTED_METRICS, *STAND_IN_OPTIONS]:
            try:
                params = PORTED_METRICS[name] if name in PORTED_METRICS else stand_in_options(name, tmp)
                metric = create("metric", name, **params).to(device)
                out[name] = _metric_speed(metric, x)
                del metric
            except Exception as error:  # noqa: BLE001 - reported, the other metrics go on
                out[name] = {"error": f"{type(error).__name__}: {str(error)[:120]}"}
            log(f"metric {name}: {out[name]}")
            gc.collect()
    return out


BENCH_SCRIPT = """
import json, resource, sys, time
sys.path.insert(0, {tools!r})
from iqa_core import registry
from iqa_core.testing import ToyMetric, ToySignAttack, ToyBlurDefence
registry.register("metric", "toy-metric", ToyMetric, replace=True)
registry.register("attack", "toy-sign", ToySignAttack, replace=True)
registry.register("defence", "toy-blur", ToyBlurDefence, replace=True)
from iqa_bench.config import parse_config
from iqa_bench.runner import Runner
from iqa_bench.store import ResultStore
config = parse_config(json.loads({config!r}))
with ResultStore(config.store_path) as store:
    summary = Runner(config, store, progress=False).run()
# VmHWM: this process's own peak resident memory (ru_maxrss would include what the fork inherited).
peak = int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")))
print(json.dumps({{"seconds": summary.seconds, "compute": summary.compute_seconds, "peak_kb": peak}}))
"""


def _image_folder(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    lines = ["name,mos"]
    for i in range(n):
        name = f"{i:05d}.png"
        Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(folder / name)
        lines.append(f"{name},{rng.random() * 100:.3f}")
    (folder / "mos.csv").write_text("\n".join(lines))


def bench_figures() -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (100, 1000):
            folder = Path(tmp) / f"d{n}"
            _image_folder(folder, n)
            config = {
                "datasets": [{"name": "d", "kind": "folder", "root": str(folder), "csv": "mos.csv"}],
                "metrics": ["toy-metric"],
                "attacks": [{"name": "toy-sign", "presets": ["strong"]}],
                "defences": [{"name": "toy-blur"}],
                "mode": "both",
                "device": "cpu",
                "chunk_size": 50,
                "store": str(Path(tmp) / f"s{n}.sqlite"),
            }
            script = BENCH_SCRIPT.format(tools=str(ROOT / "tools"), config=json.dumps(config))
            proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
            figures = json.loads(proc.stdout.strip().splitlines()[-1])
            out[str(n)] = {**figures, "overhead_ratio": figures["seconds"] / figures["compute"]}
    out["peak_memory_ratio_1000_vs_100"] = out["1000"]["peak_kb"] / out["100"]["peak_kb"]
    return out


def write(figures: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "performance.json").write_text(json.dumps(figures, indent=2))
    s, b = figures["scorer"], figures["bench"]
    lines = [
        "# Performance",
        "",
        f"Measured by `{COMMAND}` on {figures['machine']} ({figures['device']}), {figures['date']}.",
        "Ratios are measured within one run; absolute seconds are for context only.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| Scorer batched vs per-image speed-up (demo metric, {s['images']} images {s['size']}) "
        f"| {s['speedup']:.2f}x |",
        *overhead_rows(out_dir),
        f"| runner wall / its recorded compute (old figure: leaves out dataset loading and per-row measures), "
        f"100 images | {b['100']['overhead_ratio']:.3f} |",
        f"| runner wall / its recorded compute (old figure), 1000 images | {b['1000']['overhead_ratio']:.3f} |",
        f"| peak memory, 1000 vs 100 images | {b['peak_memory_ratio_1000_vs_100']:.3f} "
        f"({b['100']['peak_kb'] / 1024:.0f} MiB vs {b['1000']['peak_kb'] / 1024:.0f} MiB) |",
        *render_sections(out_dir),
        "",
        "## Defence throughput (8 images 384x512, default preset)",
        "",
        "| defence | images/s (batched) | batched speed-up over a per-image loop |",
        "|---|---|---|",
    ]
    for name, value in sorted(figures["defences"].items()):
        if "images_per_s" in value:
            lines.append(f"| {name} | {value['images_per_s']:.1f} | {value['batched_over_loop']:.2f}x |")
        else:
            lines.append(f"| {name} | not measured: {value['error']} | |")
    lines += [
        "",
        "## Metrics (384x512, batch 8; random weights; MANIQA with 1 crop per image, pyiqa default 20)",
        "",
        "| metric | forward img/s | forward+backward img/s |",
        "|---|---|---|",
    ]
    for name, value in figures["metrics"].items():
        if "error" in value:
            lines.append(f"| {name} | not measured: {value['error']} | |")
        else:
            lines.append(
                f"| {name} | {value['forward_images_per_s']:.2f} | {value['forward_backward_images_per_s']:.2f} |"
            )
    lines += attack_tables(out_dir) + certify_table(out_dir)
    (out_dir / "performance.md").write_text("\n".join(lines) + "\n")


def overhead_rows(out_dir: Path) -> list[str]:
    """The honest overhead (``tools/perf/orchestration_overhead.py`` -> ``perf-overhead.json``), when written."""
    path = out_dir / "perf-overhead.json"
    if not path.exists():
        return [
            "| orchestration overhead (`iqa-bench run` / plain script) | not measured: run "
            "`python tools/perf/orchestration_overhead.py` first |"
        ]
    data = json.loads(path.read_text())
    scope = f"{data['config']}" + (f", first {data['limit']} images" if data.get("limit") else "")
    scope += "" if data.get("certifiers", True) else ", without certifiers"
    return [
        f"| orchestration overhead: `iqa-bench run` wall / the same component calls in a plain script "
        f"({scope}; {data['date']}; target {data['target']}) | {data['overhead']:.3f} |"
    ]


ATTACK_FILES = {
    "perf-attacks.json": "demo metric (1-layer CNNIQA), 8 images 128x128",
    "perf-attacks-topiq.json": "TOPIQ-NR (ResNet-50, random weights), 4 images 128x128",
}


def attack_tables(out_dir: Path) -> list[str]:
    """Tables of the ``iqa-attacks bench`` JSONs the same nox session wrote before this script."""
    lines = [
        "",
        "## Attacks (`iqa-attacks bench`, same session)",
        "",
        "White-box: wall time / (gradient passes x the metric's pure forward+backward on the same batch),",
        "median of 3 runs after a warm-up, each ratio against a forward+backward timed right after it.",
        "Black-box: queries per second.",
    ]
    for file, what in ATTACK_FILES.items():
        path = out_dir / file
        if not path.exists():
            lines += ["", f"`{file}`: not written in this run."]
            continue
        lines += ["", f"### {what} (`docs/{file}`)", ""]
        lines += ["| attack | gradient passes | overhead | queries/s |", "|---|---|---|---|"]
        for row in json.loads(path.read_text()):
            overhead = f"{row['overhead']:.3f}" if row["overhead"] is not None else ""
            qps = f"{row['queries_per_s']:.0f}" if row["queries_per_s"] is not None else ""
            lines.append(f"| {row['attack']} | {row['gradient_passes']} | {overhead} | {qps} |")
    return lines


def certify_table(out_dir: Path) -> list[str]:
    path = out_dir / "perf-certify.json"
    if not path.exists():
        return ["", "`perf-certify.json`: not written in this run."]
    data = json.loads(path.read_text())
    lines = [
        "",
        "## Certification (`packages/iqa-certify/benchmarks/bench_overhead.py`, same session)",
        "",
        f"Certify time over (N0 + N) x the pure batched forward time, {data['image_size']}px images, "
        f"batch {data['batch_size']}, median of {data['rounds']} rounds.",
        "",
        "| certifier | samples / image | wall-time overhead | CPU-time overhead |",
        "|---|---|---|---|",
    ]
    for name, row in data["certifiers"].items():
        wall, cpu = row["overhead_ratio"], row["cpu_time_overhead_ratio"]
        lines.append(f"| {name} | {row['samples_per_image']} | {wall:.3f} | {cpu:.3f} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="measure nothing: render performance.md again from performance.json and the perf-*.json files",
    )
    args = parser.parse_args()
    if args.render_only:
        out = Path(args.out)
        write(json.loads((out / "performance.json").read_text()), out)
        print(f"rendered {out / 'performance.md'}")
        return 0
    os.environ.setdefault("IQA_OFFLINE", "1")
    figures = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU",
        "date": time.strftime("%Y-%m-%d"),
        "torch": torch.__version__,
        "scorer": staged("scorer", scorer_figures, args.device),
        "defences": staged("defences", defence_figures, args.device),
        "metrics": staged("metrics", metric_figures, args.device),
        "bench": staged("bench runs", bench_figures),
        "max_rss_kb_driver": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }
    write(figures, Path(args.out))
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
