"""Prepare the wheels a lent GPU machine needs to run ``tools/gpu_check.sh`` (run here, with network to PyPI).

The GPU machine has Python 3.12 with torch and a fixed set of packages (``device_packages.txt``) and
no network. This script

1. builds the project's seven wheels (pure Python) into ``.gpu/wheels``;
2. finds which third-party distributions the GPU checks import that the machine lacks: it imports
   the modules the checks use in this environment and maps every loaded top-level module to its
   distribution, minus ``device_packages.txt``;
3. downloads those (the versions installed here, which are the lock's) as cp312 manylinux wheels.

Usage: ``python tools/gpu/prepare.py`` (then call the device tool with ``carry: [".gpu"]``).
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / ".gpu" / "wheels"
#: What the GPU checks import (tests-integration/test_gpu.py, the estimate profile, the report).
CHECK_IMPORTS = (
    "iqa_core",
    "iqa_metrics",
    "iqa_metrics.offline",
    "iqa_attacks",
    "iqa_purify",
    "iqa_purify.diffpure",
    "iqa_certify",
    "iqa_train",
    "iqa_bench",
    "iqa_bench.runner",
    "iqa_bench.report",
    "pyiqa",
    "kornia",
    "diffusers",
    "jsonschema",
)
PLATFORMS = [f"manylinux_2_{n}_x86_64" for n in (17, 24, 27, 28, 31, 34, 35)] + ["manylinux2014_x86_64", "any"]
LIMIT_MB = 60


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def missing_distributions() -> dict[str, str]:
    """Distributions (name -> version) the checks import that the GPU machine does not have."""
    for module in CHECK_IMPORTS:
        importlib.import_module(module)
    on_device = {_norm(line) for line in (ROOT / "tools/gpu/device_packages.txt").read_text().split() if line}
    by_module = md.packages_distributions()
    needed: dict[str, str] = {}
    for top in {name.split(".")[0] for name in list(sys.modules)}:
        for dist in by_module.get(top, []):
            key = _norm(dist)
            if key.startswith("iqa-") or key in on_device:
                continue
            needed[dist] = md.version(dist)
    return dict(sorted(needed.items()))


def build_project_wheels() -> None:
    for package in sorted((ROOT / "packages").glob("*/pyproject.toml")):
        subprocess.run(["uv", "build", "--wheel", "-q", "-o", str(OUT), str(package.parent)], check=True)


def download(dists: dict[str, str]) -> None:
    for name, version in dists.items():
        base = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(OUT)]
        target = ["--python-version", "3.12", "--implementation", "cp"]
        for platform in PLATFORMS:
            target += ["--platform", platform]
        result = subprocess.run([*base, *target, f"{name}=={version}"], check=False)
        if result.returncode != 0:
            print(f"could not download {name}=={version} for cp312; the GPU run will lack it", file=sys.stderr)


def main() -> int:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    exclude = ROOT / ".git" / "info" / "exclude"
    if exclude.is_file() and "/.gpu/" not in exclude.read_text():
        with exclude.open("a") as handle:
            handle.write("/.gpu/\n")
    dists = missing_distributions()
    print("third-party wheels to carry:", ", ".join(f"{k}=={v}" for k, v in dists.items()))
    build_project_wheels()
    download(dists)
    size = sum(p.stat().st_size for p in OUT.iterdir()) / 2**20
    print(f"{len(list(OUT.iterdir()))} wheels, {size:.1f} MiB in {OUT}")
    if size > LIMIT_MB:
        print(f"over {LIMIT_MB} MiB: the device tool carries at most 64 MiB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
