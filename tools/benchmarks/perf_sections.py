"""Sections of ``docs/performance.md`` rendered from the figures other scripts wrote (``docs/perf-*.json``).

Each renderer reads one JSON file and returns Markdown lines; a file that is absent gives one line
naming the command that writes it, so the page never shows a figure nobody measured.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

PAPER_GPU_HOURS = 25_000


def _load(out_dir: Path, name: str) -> dict[str, Any] | list[Any] | None:
    path = out_dir / name
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _missing(name: str, command: str) -> list[str]:
    return [f"`{name}`: not measured yet; run `{command}`."]


def cli_section(out_dir: Path) -> list[str]:
    data = _load(out_dir, "perf-cli.json")
    lines = ["", "## Command-line start-up (`python tools/benchmarks/cli_startup.py`, in `nox -s perf`)", ""]
    if not isinstance(data, dict):
        return lines + _missing("perf-cli.json", "python tools/benchmarks/cli_startup.py")
    lines += [
        f"Best of {data['repeats']} fresh processes; a bare `python -c pass` takes {data['python_startup_s']:.2f} s.",
        "",
        "| command | seconds | target | imports torch |",
        "|---|---|---|---|",
    ]
    for row in data["commands"]:
        lines.append(
            f"| `{row['command']}` | {row['best_s']:.2f} | < {row['target_s']:.0f} | "
            f"{'yes' if row['imports_torch'] else 'no'} |"
        )
    return lines


def hotspots_section(out_dir: Path) -> list[str]:
    data = _load(out_dir, "perf-hotspots.json")
    lines = ["", "## Hot spots, before and after (`python tools/perf/hotspots.py`)", ""]
    if not isinstance(data, dict):
        return lines + _missing("perf-hotspots.json", "python tools/perf/hotspots.py")
    lines += [
        f"New time over old time on the same input, fastest of {data['repeats']} "
        f"({data['threads']} thread{'s' if data['threads'] != 1 else ''}); outputs compared for identity.",
        "",
        "| operation | case | new / old | identical output |",
        "|---|---|---|---|",
    ]
    for row in data["rows"]:
        extra = ""
        if "new_over_pure_fwd_bwd" in row:
            extra = (
                f" (loop over the metric's pure forward+backward: {row['old_over_pure_fwd_bwd']:.2f} -> "
                f"{row['new_over_pure_fwd_bwd']:.2f})"
            )
        lines.append(
            f"| {row['op']} | {row['case']}{extra} | {row['new_over_old']:.3f} | "
            f"{'yes' if row['identical_output'] else 'NO'} |"
        )
    return lines


def runner_section(out_dir: Path) -> list[str]:
    data = _load(out_dir, "perf-runner.json")
    lines = ["", "## Runner work (`python tools/perf/runner_speedups.py`)", ""]
    if not isinstance(data, dict):
        return lines + _missing("perf-runner.json", "python tools/perf/runner_speedups.py")
    m = data["measures"]
    lines += [
        "| change | CPU-time speed-up |",
        "|---|---|",
        f"| PSNR/SSIM/MSE/Linf batched instead of per image ({m['images']} images {m['size']}) "
        f"| {m['speedup_cpu']:.1f}x |",
    ]
    for limit, row in sorted(data.get("demo_limit", {}).items(), key=lambda kv: int(kv[0])):
        lines.append(f"| demo dataset built only up to `limit: {limit}` | {row['speedup_cpu']:.1f}x |")
    shared = data.get("shared_work")
    if shared:
        lines.append(f"| shared work between units | {json.dumps(shared)} |")
    return lines


def ray_section(out_dir: Path) -> list[str]:
    data = _load(out_dir, "perf-ray.json")
    lines = ["", "## Ray executor (`python tools/perf/ray_overhead.py`)", ""]
    if not isinstance(data, dict):
        return lines + _missing("perf-ray.json", "python tools/perf/ray_overhead.py")
    grid = data["grid"]
    lines += [
        f"{grid['config']}, {grid['images']} images, {grid['units']} units, {data['workers']} local workers on "
        f"{data['cpu_count']} CPUs; target <= {data['target_overhead']}.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| Ray wall / local executor wall | {data['overhead']:.2f} |",
        f"| the same without waiting for the first worker | {data['overhead_warm']:.2f} |",
        f"| start-up: ray.init / waiting for workers (s) | {data['startup_seconds']['ray_init']:.1f} / "
        f"{data['startup_seconds']['workers_wait']:.1f} |",
    ]
    return lines


def cost_model_section(out_dir: Path) -> list[str]:
    data = _load(out_dir, "perf-cost-model.json")
    lines = ["", "## Cost model validation (`python tools/perf/validate_cost_model.py`)", ""]
    if not isinstance(data, dict):
        return lines + _missing("perf-cost-model.json", "python tools/perf/validate_cost_model.py")
    load = data["load_average_1min"]
    lines += [
        f"`iqa-bench estimate {data['config']} --measure --clock {data['clock']}` on this machine, then "
        f"`iqa-bench run` of the same grid ({data['threads']} thread; compared with {data['compared_with']}).",
        "",
        "| figure | value |",
        "|---|---|",
        f"| predicted | {data['predicted_seconds']:.1f} s |",
        f"| measured | {data['measured_process_cpu_seconds']:.1f} s CPU ({data['measured_grid_seconds']:.1f} s wall) |",
        f"| relative error | {100 * data['relative_error']:+.1f} % (tolerance {100 * data['tolerance']:.0f} %) |",
        f"| profiling time | {data['profiling_seconds']:.1f} s |",
        f"| load average (1 min) before / between / after | {load['before']:.1f} / {load['between']:.1f} / "
        f"{load['after']:.1f} |",
    ]
    return lines


def precision_section(out_dir: Path) -> list[str]:
    data = _load(out_dir, "perf-precision.json")
    lines = ["", "## Precision switches (`python tools/perf/precision.py`; config `precision:`)", ""]
    if not isinstance(data, dict):
        return lines + _missing("perf-precision.json", "python tools/perf/precision.py")
    switches = [k for k in next((r for r in data["metrics"] if "error" not in r), {}) if isinstance(k, str)]
    switches = [
        k for k in switches if k not in ("metric", "diam", "fp32_forward_backward_s", "images", "size", "measured_at")
    ]
    merged = bool(data.get("merged"))
    inputs = (
        "images of each row's size (rows measured in separate runs: see the images column)"
        if merged
        else f"{data['images']} images {data['size'][0]}x{data['size'][1]}"
    )
    lines += [
        f"{data['device']}, {data['threads']} thread, {inputs}, "
        f"{data['weights']}. Each cell: score deviation from float32 as a fraction of the bound diameter "
        "(0.01 = one D point) / cosine of the input gradients / forward+backward speed-up.",
        "",
        "| metric | " + ("images | " if merged else "") + " | ".join(switches) + " |",
        "|---|" + ("---|" if merged else "") + "---|" * len(switches),
    ]
    for row in data["metrics"]:
        shown = f"{row['metric']} | " + (f"{row['images']} x {row['size'][0]}x{row['size'][1]} | " if merged else "")
        if "error" in row:
            lines.append(f"| {shown}not measured: {row['error'][:120]} |" + " |" * (len(switches) - 1))
            continue
        cells = [
            f"{row[s]['max_dev_rel_diam']:.4f} / {row[s]['grad_cosine']:.3f} / {row[s]['speed']:.2f}x" for s in switches
        ]
        lines.append(f"| {shown}" + " | ".join(cells) + " |")
    low = [
        row["metric"]
        for row in data["metrics"]
        if "error" not in row and any(row[s]["grad_cosine"] < 0.9 for s in switches if isinstance(row.get(s), dict))
    ]
    lines += [
        "",
        "With random weights a network's scores vary little from image to image, so the score deviations of the "
        "random-weight rows understate what trained weights would show; the gradient cosine is the telling figure "
        "for attacks"
        + (f" (below 0.9: {', '.join(low)}; keep their attacks in float32)" if low else "")
        + ". Below 1x is slower than float32: a CPU without native bf16 emulates it.",
    ]
    if data.get("partial"):
        lines += [
            "",
            f"Partial run: {len(data['metrics'])} metrics measured before the run was stopped; the others, the "
            "demo-dataset SROCC and `torch.compile` are not measured yet.",
        ]
    srocc = data.get("demo_srocc_vs_mos") or {}
    if srocc:
        listed = ", ".join(f"{k} {v:.4f}" for k, v in srocc.items())
        lines += ["", f"Demo metric on the demo dataset, SROCC against MOS: {listed}."]
    compiled = data.get("compile")
    if compiled:
        lines += [
            "",
            f"`torch.compile` (inductor) on {compiled['metric']}: first call "
            f"{compiled['first_call_s_including_compile']:.0f} s (compilation), then "
            f"{compiled['speed_after_compile']:.2f}x the eager forward+backward speed; "
            f"largest score difference {compiled['max_abs_dev']:.1e}.",
        ]
    return lines


def sufficient_section(out_dir: Path) -> list[str]:
    data = _load(out_dir, "perf-sufficient.json")
    title = (
        "## Statistically sufficient evaluation (`python tools/perf/sufficient_evaluation.py`; config `sufficient:`)"
    )
    lines = ["", title, ""]
    if not isinstance(data, dict):
        return lines + _missing("perf-sufficient.json", "python tools/perf/sufficient_evaluation.py")
    images, wall = data["attacked_images"], data["wall_seconds"]
    table = data["defences_table_order"]
    lines += [
        f"{data['config']} (chunks of {data['chunk_size']}), `sufficient: {json.dumps(data['sufficient'])}` against "
        "every image of every cell.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| attacked images | {images['sufficient']} of {images['full']} "
        f"({100 * data['images_saved_fraction']:.1f} % saved) |",
        f"| wall time, sufficient / fixed count | {data['time_ratio_sufficient_over_full']:.3f} "
        f"({wall['sufficient']:.0f} s / {wall['full']:.0f} s) |",
        f"| cells whose defence order (mean D) is unchanged | {data['cells_with_same_defence_order']} |",
        f"| defences table order unchanged | {'yes' if table['same'] else 'no'} |",
        f"| largest change of a cell's mean D (D points) | "
        f"{max(c['max_mean_d_difference'] for c in data['cells']):.2f} |",
    ]
    return lines


def paper_section(out_dir: Path) -> list[str]:
    data = _load(out_dir, "perf-paper-estimate.json")
    title = f"## The paper grid, projected (`iqa-bench estimate configs/paper.yaml`), against {PAPER_GPU_HOURS:,} GPU-h"
    lines = ["", title, ""]
    if not isinstance(data, dict):
        return lines + _missing(
            "perf-paper-estimate.json",
            "iqa-bench estimate configs/paper.yaml --measure --clock cpu --measure-size 192x256 --json",
        )
    cost, grid = data["cost"], data["grid"]
    lines += [
        f"Profile: {cost['device'].get('name', cost['device'].get('type'))} ({cost['device'].get('type')}, "
        f"{cost['device'].get('threads')} thread, {cost['device'].get('clock', 'wall')} clock). "
        f"Grid: {grid['attacked_images']:,} attacked images, {grid.get('result_rows', 0):,} result rows.",
        "",
        "| part | device-hours |",
        "|---|---|",
    ]
    for mode, hours in sorted(cost["device_hours"]["mode"].items(), key=lambda kv: -kv[1]):
        lines.append(f"| {mode} | {hours:,.0f} |")
    lines.append(f"| **total** | **{cost['total_device_hours']:,.0f}** |")
    if data.get("changes"):
        lines += ["", "| change | grid device-hours before | after | after / before |", "|---|---|---|---|"]
        for change in data["changes"]:
            before, after = change["before_hours"], change["after_hours"]
            note = f" ({change['note']})" if change.get("note") else ""
            lines.append(f"| {change['change']}{note} | {before:,.0f} | {after:,.0f} | {after / before:.3f} |")
    if data.get("largest"):
        lines += ["", "Largest parts of the configured grid (device-hours):", ""]
        for dim, parts in data["largest"].items():
            lines.append(f"- {dim}: " + ", ".join(f"{name} {hours:,.0f}" for name, hours in parts))
    if data.get("scopes"):
        lines += ["", "| scope (adaptive mode narrowed; the rest as configured) | device-hours | largest defences |"]
        lines.append("|---|---|---|")
        for scope in data["scopes"]:
            top = ", ".join(f"{name} {hours:,.0f}" for name, hours in scope.get("largest_defences", [])[:3])
            lines.append(f"| {scope['scope']} | {scope['hours']:,.0f} | {top} |")
    if cost.get("proxies"):
        lines += ["", "Priced through a stand-in (weights or backbones absent on the profiling machine):", ""]
        lines += [f"- {name}: {why}" for name, why in sorted(cost["proxies"].items())]
    for note in data.get("projection", []):
        lines += ["", note]
    lines += ["", "Assumptions of the estimate:", ""] + [f"- {a}" for a in cost.get("assumptions", [])]
    return lines


SECTIONS: tuple[Callable[[Path], list[str]], ...] = (
    paper_section,
    cost_model_section,
    sufficient_section,
    precision_section,
    hotspots_section,
    runner_section,
    ray_section,
    cli_section,
)
"""In page order, after the page's own headline table."""


def render_sections(out_dir: Path) -> list[str]:
    lines: list[str] = []
    for section in SECTIONS:
        lines += section(out_dir)
    return lines
