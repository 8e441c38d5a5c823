"""Check that the workspace's sibling version ranges are satisfiable.

    python tools/release/check_versions.py [--root DIR]

For every requirement of a workspace package on another one (``dependencies``, every
``optional-dependencies`` extra, every ``dependency-groups`` group) the version in the sibling's
``pyproject.toml`` must be admitted: a pin that excludes it means the released wheels cannot be
installed together (``pip install iqa-bench[all]`` would fail or pull an older sibling). It also
checks that ``__version__`` in ``src/<module>/__init__.py``, where set, equals the pyproject version.
Exits 1 with one line per problem, 0 with a summary otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from packaging.version import Version
from workspace import ROOT, Member, members, sibling_pins


def problems(table: dict[str, Member]) -> list[str]:
    found = []
    for pin in sibling_pins(table):
        sibling = table[pin.target]
        if not pin.admits(sibling.version):
            found.append(
                f"{pin.owner}: [{pin.where}] requires {pin.requirement} but the workspace has "
                f"{sibling.name} {sibling.version} ({sibling.pyproject}); widen the pin in "
                f"{table[pin.owner].pyproject} (e.g. {_suggestion(sibling.name, sibling.version)}) "
                f"or bump {pin.owner} with it"
            )
    for member in table.values():
        declared = member.init_version()
        if declared is not None and declared != member.version:
            found.append(
                f"{member.name}: __version__ = {declared!r} in {member.init_file} but pyproject.toml says "
                f"{member.version!r}; `python tools/release/bump.py {member.name} {member.version}` sets both"
            )
    return found


def _suggestion(name: str, version: str) -> str:
    v = Version(version)
    upper = f"{v.major + 1}.0" if v.major >= 1 else f"0.{v.minor + 1}"
    return f'"{name}>={v.major}.{v.minor},<{upper}"'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="workspace root (default: this checkout)")
    args = parser.parse_args(argv)
    table = members(args.root)
    found = problems(table)
    if found:
        print(f"{len(found)} version problem(s):", file=sys.stderr)
        for line in found:
            print(f"  {line}", file=sys.stderr)
        return 1
    pins = sibling_pins(table)
    versions = ", ".join(f"{m.name} {m.version}" for m in table.values())
    print(f"ok: {len(pins)} sibling pins admit the workspace versions ({versions})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
