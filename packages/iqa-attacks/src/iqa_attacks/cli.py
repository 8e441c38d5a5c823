"""``iqa-attacks`` command line: ``calibrate ATTACK``, ``bench --metric M`` and ``download NAME`` (weights)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iqa_core.weights import add_download_command

if TYPE_CHECKING:  # torch is imported by the handlers, so that ``--help`` starts fast
    from torch import Tensor

    from iqa_core.weights import WeightSpec


def weight_specs() -> dict[str, WeightSpec]:
    """The checkpoints attacks of this package load, by name (imports them)."""
    from .cadv import SIGGRAPH17

    return {SIGGRAPH17.name: SIGGRAPH17}


def load_folder(folder: str | Path, limit: int | None = None) -> list[Tensor]:
    """Images of a folder (sorted by name) as ``(1, 3, H, W)`` tensors in [0, 1] (iqa-core's loader).

    Files that cannot be decoded are skipped with a warning naming each one.
    """
    from iqa_core.images import load_folder as read_folder

    loaded, failed = read_folder(folder, limit)
    for path, error in failed:
        print(f"iqa-attacks: skipping {path}: {error}", file=sys.stderr)
    if not loaded:
        raise SystemExit(f"--images {folder}: no readable image")
    return [image[None] for _, image in loaded]


def group_by_size(images: list[Tensor]) -> list[Tensor]:
    import torch

    groups: dict[tuple[int, ...], list[Tensor]] = {}
    for image in images:
        groups.setdefault(tuple(image.shape[-2:]), []).append(image)
    return [torch.cat(g) for g in groups.values()]


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _pairs(items: Sequence[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"{what} expects NAME=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iqa-attacks", description="Adversarial attacks on NR-IQA metrics.")
    sub = parser.add_subparsers(dest="command", required=True)
    cal = sub.add_parser("calibrate", help="fit the weak/medium/strong presets of an attack (benchmark A.3.4)")
    cal.add_argument("attack", help="registry name of the attack, e.g. ifgsm")
    cal.add_argument("--metric", required=True, help="registry name of the metric")
    cal.add_argument("--images", required=True, help="folder of calibration images (the benchmark uses 50)")
    cal.add_argument("--limit", type=int, default=50, help="use the first N images (default 50)")
    cal.add_argument("--parameter", help="strength parameter to vary (default: the attack's own)")
    cal.add_argument("--values", help="comma-separated parameter values (default: 10 over the attack's range)")
    cal.add_argument(
        "--measure", choices=["linf", "psnr", "ssim", "l0"], help="restriction measure (default: the attack's)"
    )
    cal.add_argument("--targets", help="three comma-separated targets, weak,medium,strong")
    cal.add_argument(
        "--fixed", action="append", default=[], metavar="NAME=VALUE", help="parameter held fixed (JSON value)"
    )
    cal.add_argument(
        "--joint",
        action="append",
        default=[],
        metavar="NAME=LOW:HIGH",
        help="several strength parameters moved together (repeat); replaces --parameter",
    )
    cal.add_argument("--device", default="cpu", help="cpu, cuda, ... (default cpu)")
    cal.add_argument("--seed", type=int, default=0, help="seed of the attacks' random draws (default 0)")
    cal.add_argument("--out", help="preset file to write (JSON; default: ATTACK-METRIC-presets.json)")
    bench = sub.add_parser("bench", help="overhead of white-box attacks and queries/s of black-box ones")
    bench.add_argument("--metric", required=True, help="registry name of the metric")
    bench.add_argument(
        "--metric-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="constructor option of the metric, repeatable; VALUE is JSON or a string (e.g. pretrained=false)",
    )
    bench.add_argument("--attacks", help="comma-separated attack names (default: every installed attack)")
    bench.add_argument("--preset", default=None, help="preset of every attack (default: each one's default)")
    bench.add_argument("--images", help="folder of images (default: random smooth images)")
    bench.add_argument("--size", type=int, default=128, help="side of the generated images (default 128)")
    bench.add_argument("--batch", type=int, default=8, help="batch size (default 8)")
    bench.add_argument(
        "--repeats", type=int, default=3, help="timed runs of each white-box attack after a warm-up (median; default 3)"
    )
    bench.add_argument("--device", default="cpu", help="cpu, cuda, ... (default cpu)")
    bench.add_argument("--out", help="write the results as JSON")
    add_download_command(sub, weight_specs, prog="iqa-attacks")
    return parser


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``["pretrained=false", "net=alex"]`` -> ``{"pretrained": False, "net": "alex"}`` (JSON values, else strings)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: --metric-option needs KEY=VALUE, got {pair!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def run_bench(args: argparse.Namespace) -> list[dict[str, Any]]:
    import torch

    from iqa_core import available, create
    from iqa_core.testing import toy_images

    from .benchmark import bench_attack

    metric = create("metric", args.metric, **parse_options(args.metric_option))
    if isinstance(metric, torch.nn.Module):
        metric = metric.to(args.device).eval()
    if args.images:
        images = group_by_size(load_folder(args.images, args.batch))[0]
    else:
        images = toy_images(args.batch, (args.size, args.size))
    images = images.to(args.device)
    names = args.attacks.split(",") if args.attacks else available("attack")
    results = []
    for name in names:
        attack = create("attack", name, preset=args.preset)
        if hasattr(attack, "fit"):
            attack.fit(metric, images, generator=torch.Generator().manual_seed(0))
        result = bench_attack(attack, metric, images, repeats=args.repeats).to_dict()
        results.append(result)
        ratio = f"overhead {result['overhead']:.3f}" if result["overhead"] is not None else ""
        qps = f"{result['queries_per_s']:.1f} queries/s" if result["queries_per_s"] is not None else ""
        print(f"{name:>14}: {result['wall_s']:.3f} s  {ratio}{qps}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    return results


def run_calibrate(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from iqa_core import create, registry

    from .calibrate import calibrate, calibrate_joint
    from .calibration_spec import CalibrationSpec

    factory = registry.factory("attack", args.attack)
    metric = create("metric", args.metric)
    if isinstance(metric, torch.nn.Module):
        metric = metric.to(args.device).eval()
    batches = [b.to(args.device) for b in group_by_size(load_folder(args.images, args.limit))]
    fixed = {k: _value(v) for k, v in _pairs(args.fixed, "--fixed").items()}
    targets = [float(t) for t in args.targets.split(",")] if args.targets else None
    if args.joint:
        ranges = {}
        for key, span in _pairs(args.joint, "--joint").items():
            low, _, high = span.partition(":")
            ranges[key] = (float(low), float(high))
        own = getattr(factory, "calibration", None)
        measure = args.measure or (own.measure if own is not None else None)
        if measure is None:
            raise SystemExit("--joint needs --measure for an attack without a calibration spec")
        result = calibrate_joint(
            factory, metric, batches, ranges, measure=measure, targets=targets, fixed=fixed, seed=args.seed
        )
    else:
        spec = getattr(factory, "calibration", None)
        if (args.parameter or spec is None) and not (args.parameter and args.values and args.measure):
            raise SystemExit("give --parameter, --values and --measure for an attack without a calibration spec")
        if args.parameter:
            spec = CalibrationSpec(
                args.parameter,
                0.0,
                1.0,
                args.measure or (spec.measure if spec else "linf"),
                fixed=dict(spec.fixed) if spec and spec.parameter == args.parameter else {},
                budget_param=spec.budget_param if spec else None,
            )
        values = [float(v) for v in args.values.split(",")] if args.values else None
        result = calibrate(
            factory, metric, batches, spec=spec, values=values, targets=targets, fixed=fixed, seed=args.seed
        )
    out = Path(args.out) if args.out else Path(f"{args.attack}-{args.metric}-presets.json")
    result.save(out)
    print(f"wrote {out}")
    for strength, preset in result.presets.items():
        print(f"{strength:>7}: {json.dumps(preset)}")
    return result.to_dict()


def _run(args: argparse.Namespace) -> int:
    if args.command == "calibrate":
        run_calibrate(args)
    elif args.command == "bench":
        run_bench(args)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors print one line (exit 2), ``--debug`` shows the traceback."""
    from iqa_core.errors import run_cli

    parser = build_parser()
    parser.set_defaults(handler=_run)
    return run_cli(parser, argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
