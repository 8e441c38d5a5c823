"""Check that a package was installed alone: no workspace sibling but iqa-core is importable.

    python tools/check_isolation.py iqa-attacks

Exits 1 (and names the offenders) when a sibling distribution is installed or its import
package can be found; run inside the package's own test environment by `nox -s tests`.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALWAYS_ALLOWED = {"iqa-core"}


def workspace_packages(root: Path = ROOT) -> dict[str, str]:
    """Distribution name -> import name of every workspace member."""
    found = {}
    for pyproject in sorted((root / "packages").glob("*/pyproject.toml")):
        name = tomllib.loads(pyproject.read_text())["project"]["name"]
        found[name] = name.replace("-", "_")
    return found


def offenders(package: str, root: Path = ROOT) -> list[str]:
    members = workspace_packages(root)
    if package not in members:
        raise SystemExit(f"unknown workspace package {package!r}; members: {', '.join(members)}")
    problems = []
    for dist, module in members.items():
        if dist == package or dist in ALWAYS_ALLOWED:
            continue
        try:
            md.distribution(dist)
        except md.PackageNotFoundError:
            pass
        else:
            problems.append(f"{dist} is installed")
        if importlib.util.find_spec(module) is not None:
            problems.append(f"{module} is importable")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    problems = offenders(argv[0])
    if problems:
        print(f"{argv[0]} is not installed alone: " + "; ".join(problems), file=sys.stderr)
        return 1
    print(f"{argv[0]}: isolated (no sibling but iqa-core importable)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
