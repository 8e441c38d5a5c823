"""Measured metric bounds (benchmark A.3.2), cached per metric.

The procedure itself belongs to iqa-metrics (``iqa-metrics bounds NAME --images DIR``: upper =
max score over high-quality images; lower = min over their JPEG-q10 versions and uniform-noise
images). iqa-bench does not import iqa-metrics: it runs that command and caches its JSON report
under ``$IQA_HOME/bounds`` (else ``~/.cache/iqa/bounds``), one file per metric. A run with
``bounds: measured`` normalises scores with the cached bounds instead of the catalogue's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


class BoundsNotMeasuredError(LookupError):
    """No cached measurement for a metric."""


def bounds_cache_dir() -> Path:
    home = os.environ.get("IQA_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".cache" / "iqa") / "bounds"


def cached_bounds(metric: str) -> dict[str, Any]:
    """The cached report of ``metric`` (keys ``lower``, ``upper``, ``higher_is_better``, ...)."""
    path = bounds_cache_dir() / f"{metric}.json"
    if not path.is_file():
        raise BoundsNotMeasuredError(
            f"bounds of {metric!r} were never measured here: run `iqa-bench bounds {metric} --images DIR` "
            "(DIR: high-quality images, the paper uses DIV2K's validation set)"
        )
    return dict(json.loads(path.read_text()))


def _command() -> list[str]:
    beside = Path(sys.executable).parent / "iqa-metrics"
    exe = str(beside) if beside.exists() else shutil.which("iqa-metrics")
    if exe is None:
        raise RuntimeError("measuring bounds needs iqa-metrics: pip install iqa-metrics")
    return [exe]


def measure(
    metric: str, images: str | Path, *, refresh: bool = False, extra: list[str] | None = None
) -> dict[str, Any]:
    """Measure (or return the cached) bounds of ``metric`` on the images of the folder ``images``."""
    path = bounds_cache_dir() / f"{metric}.json"
    if path.is_file() and not refresh:
        return cached_bounds(metric)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bounds.json"
        cmd = [*_command(), "bounds", metric, "--images", str(images), "--output", str(out), *(extra or [])]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603 - argv list, no shell
        if proc.returncode != 0 or not out.is_file():
            raise RuntimeError(f"`{' '.join(cmd)}` failed: {proc.stderr.strip()[-2000:]}")
        report = json.loads(out.read_text())
    tmp_path = path.with_suffix(".tmp")
    tmp_path.write_text(json.dumps(report, indent=2))
    tmp_path.replace(path)
    return dict(report)
