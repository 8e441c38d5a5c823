"""``iqa-purify`` command line: ``download`` prefetches the defences' weights (for offline machines).

``iqa-purify download NAME...``
    Fetch the checkpoint into the weights cache, checked against its published sha256
    (``--from FILE`` checks and copies a local copy instead). Without NAME, lists the weights,
    whether each is cached and where it comes from. Weights without a direct, checksummed
    download (share pages) are passed to the defence as ``weights=PATH``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from iqa_core.errors import run_cli
from iqa_core.weights import add_download_command

if TYPE_CHECKING:
    from iqa_core.weights import WeightSpec


def weight_specs() -> dict[str, WeightSpec]:
    """Every checkpoint a defence or denoiser of this package loads, by name (imports the defences)."""
    from .disco import DISCO_PGD
    from .fcn import FCN_WEIGHTS
    from .guided_diffusion import GUIDED_256_UNCOND
    from .mprnet import MPRNET_DENOISING
    from .realesrgan import GENERAL_WDN_X4V3, GENERAL_X4V3

    specs = (GENERAL_X4V3, GENERAL_WDN_X4V3, MPRNET_DENOISING, DISCO_PGD, FCN_WEIGHTS, GUIDED_256_UNCOND)
    return {spec.name: spec for spec in specs}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iqa-purify", description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    add_download_command(sub, weight_specs, prog="iqa-purify")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors print one line (exit 2), ``--debug`` shows the traceback."""
    return run_cli(build_parser(), argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
