"""``iqa-bench`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from iqa_core import registry


def _cmd_list(args: argparse.Namespace) -> int:
    kinds = [args.kind] if args.kind else list(registry.KINDS)
    for kind in kinds:
        names = registry.available(kind)
        print(f"{kind}s ({len(names)}):")
        for name in names:
            line = f"  {name}"
            if args.presets:
                try:
                    table = registry.presets(kind, name)
                    default = registry.default_preset(kind, name)
                except Exception as error:  # noqa: BLE001 - a broken plugin must not hide the others
                    line += f"  [cannot load: {error}]"
                else:
                    if table:
                        line += "  presets: " + ", ".join(f"{p}*" if p == default else p for p in table)
            print(line)
    return 0


def _cmd_quickstart(args: argparse.Namespace) -> int:
    from .quickstart import format_table, run_quickstart

    result = run_quickstart(
        attack_preset=args.attack_preset,
        defence_preset=args.defence_preset,
        eot_samples=args.eot_samples,
        device=args.device,
        batch_size=args.batch_size,
        limit=args.limit,
        seed=args.seed,
        progress=not args.no_progress,
        log=lambda msg: print(msg, file=sys.stderr),
    )
    print(format_table(result))
    print(f"\ndone in {result.seconds['total']:.1f} s", file=sys.stderr)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(result.to_dict(), handle, indent=2)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iqa-bench", description="Benchmark of NR-IQA defences.")
    sub = parser.add_subparsers(dest="command", required=True)

    p_list = sub.add_parser("list", help="list installed metrics, attacks, defences, denoisers, certifiers")
    p_list.add_argument("kind", nargs="?", choices=registry.KINDS)
    p_list.add_argument("--presets", action="store_true", help="also show presets (imports the plugins)")
    p_list.set_defaults(run=_cmd_list)

    p_quick = sub.add_parser("quickstart", help="offline end-to-end demo: demo metric, I-FGSM, JPEG")
    p_quick.add_argument("--attack-preset", default="strong", help="I-FGSM preset (weak, medium, strong)")
    p_quick.add_argument("--defence-preset", default=None, help="JPEG preset (q90 ... q10; default q50)")
    p_quick.add_argument("--eot-samples", type=int, default=1, help="EOT draws for the adaptive attack")
    p_quick.add_argument("--device", default="auto")
    p_quick.add_argument("--batch-size", type=int, default=16)
    p_quick.add_argument("--limit", type=int, default=None, help="use only the first N demo images")
    p_quick.add_argument("--seed", type=int, default=0)
    p_quick.add_argument("--json", default=None, help="also write the table as JSON to this file")
    p_quick.add_argument("--no-progress", action="store_true")
    p_quick.set_defaults(run=_cmd_quickstart)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
