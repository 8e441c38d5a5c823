"""``iqa-metrics`` command line: ``download`` (prefetch weights) and ``bounds`` (bounds procedure).

``iqa-metrics download NAME...``
    Ported metrics (linearity, koncept512, spaq, fpr): fetched through :mod:`iqa_core.weights` when a
    sha256 is known; otherwise (no published hash) ``--from FILE`` checks the file's key layout,
    copies it into the weights cache and records its sha256 beside it (every later use is checked
    against that record), and without ``--from`` the URL to fetch it from is printed.
    pyiqa metrics: built once with downloads allowed, which fills pyiqa's / torch.hub's caches.
``iqa-metrics bounds NAME --images DIR [--output FILE] [--param KEY=VALUE ...]``
    The benchmark's bounds procedure on the images of DIR (see :mod:`iqa_metrics.bounds`).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from iqa_core.errors import UserError, run_cli
from iqa_core.weights import copy_into_cache, fetch, offline, sha256_of

from .specs import OFFICIAL_WEIGHTS, OfficialWeights


def _port_class(name: str) -> Any:
    if name == "linearity":
        from .linearity import LinearityNet

        return LinearityNet
    if name == "koncept512":
        from .koncept import KonCept512Net

        return KonCept512Net
    if name == "spaq":
        from .spaq import SPAQNet

        return SPAQNet
    from .fpr import FPRNet

    return FPRNet


def check_official_file(official: OfficialWeights, path: str | Path) -> None:
    """Raise ``ValueError`` unless ``path`` is a checkpoint with the official key layout of ``official``."""
    import torch

    from ._checkpoint import check_layout, extract_state_dict, layout_of, read_checkpoint

    checkpoint = read_checkpoint(path)
    if official.metric == "linearity":
        if not isinstance(checkpoint, dict) or "model" not in checkpoint:
            raise ValueError(f"{path} is not a LinearityIQA checkpoint ({{'model': ..., 'k': ..., 'b': ...}})")
        checkpoint = checkpoint["model"]
    state = extract_state_dict(checkpoint, path)
    with torch.device("meta"):
        expected = layout_of(_port_class(official.metric)())
    check_layout(state, expected, what=str(path))


def download_port(official: OfficialWeights, source: str | None) -> Path:
    """``--from FILE``: check the key layout, copy into the cache and record its sha256 (trust on first use)."""
    if source is not None:
        try:
            check_official_file(official, source)
        except ValueError as error:
            raise UserError(str(error)) from error
        target = copy_into_cache(official.spec(), source)
        print(
            f"{official.metric}: recorded sha256 {sha256_of(target)} in {target.name}.sha256; "
            "every later use is checked against it",
            file=sys.stderr,
        )
        return target
    if official.verified:
        return fetch(official.spec())
    raise UserError(
        f"{official.metric}: {official.filename} has no published sha256, so it is not downloaded automatically: "
        f"download it from {official.url} (source: {official.source}), then run `iqa-metrics download "
        f"{official.metric} --from PATH/{official.filename}` to check its key layout and copy it to "
        f"{official.cache_path}"
    )


def download_pyiqa(name: str) -> None:
    if offline():
        raise UserError(
            f"{name}: downloads are disabled (IQA_OFFLINE/HF_HUB_OFFLINE); run this on a machine with internet"
        )
    from .pyiqa_adapter import PyiqaMetric

    PyiqaMetric(name)


def _parse_params(items: Sequence[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--param expects KEY=VALUE, got {item!r}")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return params


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iqa-metrics", description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    dl = sub.add_parser("download", help="prefetch weights for offline machines")
    dl.add_argument(
        "names", nargs="+", metavar="NAME", help="metric names: ported (linearity, koncept512, spaq, fpr) or pyiqa"
    )
    dl.add_argument("--from", dest="source", help="a local copy of the official file (ported metrics, one NAME)")
    bd = sub.add_parser("bounds", help="measure a metric's bounds (benchmark procedure)")
    bd.add_argument("name", metavar="NAME", help="registry name of the metric")
    bd.add_argument("--images", required=True, help="folder of high-quality images")
    bd.add_argument("--output", help="write the report as JSON here")
    bd.add_argument("--jpeg-quality", type=int, default=10, help="JPEG quality of the compressed copies (default 10)")
    bd.add_argument("--seed", type=int, default=0, help="seed of the uniform-noise images (default 0)")
    bd.add_argument("--device", default=None, help="cpu, cuda, ... (default: the metric's)")
    bd.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="metric constructor argument")
    parser.set_defaults(handler=_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors print one line (exit 2), ``--debug`` shows the traceback."""
    return run_cli(build_parser(), argv)


def _run(args: argparse.Namespace) -> int:
    if args.command == "download":
        if args.source is not None and len(args.names) != 1:
            raise UserError("--from takes exactly one NAME")
        from .pyiqa_adapter import resolve_name

        for name in args.names:
            key = name.strip().lower()
            if key in OFFICIAL_WEIGHTS:
                path = download_port(OFFICIAL_WEIGHTS[key], args.source)
                print(f"{key}: {path}")
                continue
            try:
                pyiqa_name = resolve_name(name)
            except ValueError as error:
                raise UserError(f"{name}: {error}") from None
            download_pyiqa(pyiqa_name)
            print(f"{pyiqa_name}: cached by pyiqa")
        return 0

    from iqa_core.registry import create

    from .bounds import measure_bounds_in_folder

    metric = create("metric", args.name, **_parse_params(args.param))
    if args.device is not None and hasattr(metric, "to"):
        metric = metric.to(args.device)
    report = measure_bounds_in_folder(metric, args.images, jpeg_quality=args.jpeg_quality, seed=args.seed)
    print(
        f"{report.metric}: lower={report.lower:.4f} upper={report.upper:.4f} (diam {report.upper - report.lower:.4f})"
    )
    if args.output:
        Path(args.output).write_text(report.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
