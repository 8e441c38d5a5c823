"""``iqa-certify`` command line.

    iqa-certify certify --certifier rs --metric demo-cnniqa --images DIR [--preset paper]
                        [--param n=200 ...] [--denoiser dncnn] [--mos mos.csv] [--out certs.json]
    iqa-certify list

``certify`` certifies every image of a folder (sorted by name), prints one line per image and a
summary (Cert.R or Cert.RD, abstentions, SROCC with MOS when ``--mos`` is given: a CSV whose
first column is the file name and second the MOS, with a header row), and writes everything to
``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import iqa_core
from iqa_core import Certificate, ComponentNotFoundError
from iqa_core.errors import UserError, run_cli

if TYPE_CHECKING:  # torch and the certifiers are imported by the handlers, so that ``--help`` starts fast
    from torch import Tensor


def load_folder(folder: Path, limit: int | None = None) -> tuple[list[tuple[str, Tensor]], list[tuple[str, str]]]:
    """``(loaded, failed)``: ``(file name, (1, 3, H, W) image)`` per readable file (iqa-core's loader:
    16-bit, palette, alpha, EXIF, CMYK), ``(file name, error)`` per file that could not be decoded."""
    from iqa_core.images import load_folder as read_folder

    loaded, failed = read_folder(folder, limit)
    return [(path.name, image[None]) for path, image in loaded], [(path.name, error) for path, error in failed]


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _params(items: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"--param expects NAME=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = _value(value.strip())
    return out


def build_certifier(name: str, preset: str | None, params: dict[str, Any]) -> Any:
    """From the registry; this package's own certifiers also work before the entry points are installed."""
    from . import CERTIFIERS

    try:
        return iqa_core.create("certifier", name, preset=preset, **params)
    except ComponentNotFoundError:
        key = iqa_core.registry.normalise_name(name)
        if key not in CERTIFIERS:
            raise
        cls = CERTIFIERS[key]
        chosen = preset or cls.default_preset
        if chosen not in cls.presets:
            raise UserError(
                f"certifier {key!r} has no preset {chosen!r}; its presets: {', '.join(cls.presets)}"
            ) from None
        return cls(**{**cls.presets[chosen], **params})


def read_mos(path: Path) -> dict[str, float]:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    return {row[0]: float(row[1]) for row in rows[1:] if len(row) >= 2}


def _jsonable(cert: Certificate) -> dict[str, Any]:
    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return str(v)
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        return v

    return {k: clean(v) for k, v in dataclasses.asdict(cert).items()}


def certify_command(args: argparse.Namespace) -> int:
    import torch

    from .summary import summarize

    params = _params(args.param)
    if args.denoiser is not None:
        params["purifier" if iqa_core.registry.normalise_name(args.certifier) == "densepure" else "denoiser"] = (
            args.denoiser
        )
    if args.device is not None:
        params["device"] = args.device
    certifier = build_certifier(args.certifier, args.preset, params)
    metric = iqa_core.create("metric", args.metric, **_params(args.metric_param))
    images, failed = load_folder(Path(args.images), args.limit)
    for name, error in failed:
        print(f"{name}: failed: {error}")
    generator = torch.Generator().manual_seed(args.seed)
    names, certs = [], []
    for name, image in images:
        try:
            (cert,) = certifier.certify(metric, image, generator=generator)
        except Exception as error:  # noqa: BLE001 - one bad image must not stop the folder
            failed.append((name, f"{type(error).__name__}: {error}"))
            print(f"{name}: failed: {type(error).__name__}: {error}")
            continue
        names.append(name)
        certs.append(cert)
        if cert.delta is not None:
            text = f"score {cert.score:.4g} in [{cert.lower:.4g}, {cert.upper:.4g}]"
            text += f", relative delta {cert.relative_delta:.4g}"
        elif cert.abstained:
            text = "abstained"
        else:
            text = f"class {cert.prediction} (score {cert.score:.4g}), radius {cert.radius:.4f}"
        print(f"{name}: {text} ({cert.seconds:.2f} s)")
    if not certs:
        raise UserError(f"--images {args.images}: no image could be certified ({len(failed)} failed)")
    mos = None
    if args.mos is not None:
        table = read_mos(Path(args.mos))
        missing = [n for n in names if n not in table]
        if missing:
            raise UserError(f"--mos {args.mos}: no MOS for {', '.join(missing[:5])}")
        mos = [table[n] for n in names]
    summary = summarize(certs, mos, higher_is_better=bool(metric.higher_is_better))
    print(json.dumps(dataclasses.asdict(summary)))
    if args.out is not None:
        payload = {
            "certifier": args.certifier,
            "metric": args.metric,
            "summary": dataclasses.asdict(summary),
            "images": {n: _jsonable(c) for n, c in zip(names, certs, strict=True)},
            "failed": dict(failed),
        }
        Path(args.out).write_text(json.dumps(payload, indent=2))
    return 0


def list_command(args: argparse.Namespace) -> int:
    from . import CERTIFIERS

    names = sorted(set(iqa_core.available("certifier")) | set(CERTIFIERS))
    for name in names:
        cls = CERTIFIERS.get(name)
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls is not None else ""
        print(f"{name:<10} {doc}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="iqa-certify", description="Certify NR-IQA metrics with randomized/median smoothing."
    )
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("certify", help="certify a metric on a folder of images")
    c.add_argument("--certifier", required=True, help="registry name: rs, drs, ddrs, densepure, ms, dms")
    c.add_argument("--metric", required=True, help="registry name of the metric")
    c.add_argument("--images", required=True, help="folder of images")
    c.add_argument("--preset", default=None, help="certifier preset (default: the certifier's default)")
    c.add_argument("--param", action="append", default=[], help="certifier parameter NAME=VALUE (JSON values)")
    c.add_argument("--metric-param", action="append", default=[], help="metric parameter NAME=VALUE")
    c.add_argument("--denoiser", default=None, help="registry name of the denoiser (DRS, DDRS, DensePure, DMS)")
    c.add_argument("--device", default=None, help="compute device (default: the metric's)")
    c.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo noise (default 0)")
    c.add_argument("--limit", type=int, default=None, help="certify only the first LIMIT images")
    c.add_argument("--mos", default=None, help="CSV: file name, MOS (with a header row)")
    c.add_argument("--out", default=None, help="write certificates and summary as JSON")
    c.set_defaults(handler=certify_command)
    listing = sub.add_parser("list", help="list the installed certifiers")
    listing.set_defaults(handler=list_command)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors print one line (exit 2), ``--debug`` shows the traceback."""
    return run_cli(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
