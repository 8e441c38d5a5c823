"""``iqa-bench verify ENTRY``: re-run a random sample of a submission's cells and compare.

Exit status: 0 when every sampled cell agrees within the tolerance and no error was found
(leaderboard, dataset manifest, weights); 1 otherwise; 2 when the file is rejected unread
(malformed or hostile: see :mod:`iqa_bench.submission.verify`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..submission.limits import DEFAULT_ATOL, DEFAULT_RTOL, DEFAULT_SAMPLE, MAX_BYTES

    parser.description = (
        "Check a submission written by `iqa-bench submit`: reject a malformed or hostile file, rebuild its "
        "leaderboard from its cells, compare its provenance with this machine's and re-run a random sample of "
        "its cells. Values must match exactly when the entry and this check both run on a CPU; otherwise "
        f"within --rtol (default {DEFAULT_RTOL:g}) and --atol (default {DEFAULT_ATOL:g})."
    )
    parser.add_argument("entry", help="the submission JSON")
    parser.add_argument(
        "--sample", type=int, default=DEFAULT_SAMPLE, metavar="N", help=f"cells to re-run (default {DEFAULT_SAMPLE})"
    )
    parser.add_argument(
        "--seed", type=int, default=None, metavar="S", help="seed of the draw (default: random, printed to repeat it)"
    )
    parser.add_argument(
        "--rtol", type=float, default=None, help=f"relative tolerance (default: exact on CPU, else {DEFAULT_RTOL:g})"
    )
    parser.add_argument(
        "--atol", type=float, default=None, help=f"absolute tolerance (default: exact on CPU, else {DEFAULT_ATOL:g})"
    )
    parser.add_argument(
        "--data-root", default=None, metavar="DIR", help="folder holding the datasets the entry names (not the demo)"
    )
    parser.add_argument("--device", default="cpu", help="device to re-run on: cpu (default), cuda, auto")
    parser.add_argument(
        "--max-bytes", type=int, default=MAX_BYTES, help=f"largest file read (default {MAX_BYTES} bytes)"
    )
    parser.add_argument("--json", default=None, metavar="FILE", help="also write the report as JSON")
    parser.add_argument(
        "--board", default=None, metavar="FOLDER", help="also render the submission's leaderboard page into FOLDER"
    )


def main(args: argparse.Namespace) -> int:
    from iqa_core.errors import UserError

    from ..submission.verify import check_envelope, format_report, read_envelope, verify_submission, write_board

    for name in ("rtol", "atol"):
        value = getattr(args, name)
        if value is not None and not value >= 0:
            raise UserError(f"--{name} must be >= 0, got {value}")
    envelope = check_envelope(read_envelope(args.entry, max_bytes=args.max_bytes), where=f"submission {args.entry!r}")
    report = verify_submission(
        envelope,
        sample=args.sample,
        seed=args.seed,
        rtol=args.rtol,
        atol=args.atol,
        data_root=Path(args.data_root) if args.data_root else None,
        device=args.device,
        say=lambda message: print(message, file=sys.stderr),
    )
    print(format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    if args.board:
        for path in write_board(envelope, report, Path(args.board)):
            print(path)
    return 0 if report.ok else 1
