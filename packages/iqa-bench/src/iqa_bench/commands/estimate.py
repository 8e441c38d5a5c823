"""``iqa-bench estimate CONFIG``: the size of a config's grid and the amount of work in it."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="the run's YAML config")


def counts(config_path: str) -> dict[str, object]:
    """Units, attacked images and result rows of the grid (counted on the CPU, whatever the config's device)."""
    from ..config import load_config
    from ..planning import estimate
    from ..runner import Runner

    config = load_config(config_path)
    runner = Runner(replace(config, device="cpu"), store=None, progress=False)  # type: ignore[arg-type]
    units = runner.load()
    return estimate(config, units, runner.items)


def main(args: argparse.Namespace) -> int:
    print(json.dumps(counts(args.config), indent=2))
    return 0
