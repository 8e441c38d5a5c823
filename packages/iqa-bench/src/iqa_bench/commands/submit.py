"""``iqa-bench submit RUN [--out ENTRY.json]``: a finished run as a submission with its provenance.

RUN is the run's YAML config, or its store (file or folder) together with ``--config``: the
store records the config's fingerprint, not the config itself.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from iqa_core.errors import UserError

if TYPE_CHECKING:
    from ..config import BenchConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Write a finished run as one submission file: its portable config, provenance (package versions, "
        "weight hashes, dataset manifest, device, date), every cell with its rows, the leaderboard entries and "
        "a content sha256. `iqa-bench verify FILE` re-runs a sample of the cells."
    )
    parser.add_argument("run", help="the run's YAML config, or its result store (file or folder) with --config")
    parser.add_argument("--config", default=None, help="the run's YAML config, when RUN names the store")
    parser.add_argument(
        "--out",
        default=None,
        metavar="ENTRY.json",
        help="where to write it (default: submission.json beside the store)",
    )
    parser.add_argument(
        "--data-root",
        default=None,
        metavar="DIR",
        help="folder holding the dataset folders; they are recorded relative to it (default: each folder's parent)",
    )


def _config(run: str, config_path: str | None) -> BenchConfig:
    from ..config import load_config

    path = Path(run)
    if path.suffix in (".yaml", ".yml"):
        if config_path is not None:
            raise UserError("RUN is already a config; drop --config, or pass the store as RUN")
        return load_config(path)
    if config_path is None:
        raise UserError(
            f"{run}: a result store records its config's fingerprint, not the config: pass --config CONFIG "
            "(or pass the config as RUN)"
        )
    config = load_config(config_path)
    store = path / "results.sqlite" if path.is_dir() else path
    if not store.is_file():
        raise UserError(f"no result store at {store}; pass the store file, its folder or the run's config")
    if not config.store_path.is_file() or not store.samefile(config.store_path):
        raise UserError(
            f"{config_path} writes to the store {config.store_path}, not {store}: pass the run's own config"
        )
    return config


def main(args: argparse.Namespace) -> int:
    from ..submission import build_submission, write_submission

    config = _config(args.run, args.config)
    envelope = build_submission(
        config,
        data_root=Path(args.data_root) if args.data_root else None,
        say=lambda message: print(message, file=sys.stderr),
    )
    out = Path(args.out) if args.out else config.store_path.parent / "submission.json"
    write_submission(envelope, out)
    print(
        f"{out}: {len(envelope['cells'])} cells, {len(envelope['leaderboard'])} leaderboard entries, "
        f"content sha256 {envelope['content_sha256']}"
    )
    return 0
