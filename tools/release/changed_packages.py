"""List the workspace packages changed since a git ref (for CI: test and release only those).

    python tools/release/changed_packages.py REF [--head HEAD] [--dependents] [--json] [--root DIR]

A package is changed when a file under ``packages/<pkg>/`` differs between the merge base of
``REF`` and ``--head`` (``git diff --name-only REF...HEAD``; ``--head ''`` compares with the
working tree instead). A change to a workspace-wide file (``pyproject.toml``, ``uv.lock``,
``noxfile.py``, ``.ci/``) changes every package. ``--dependents`` adds the packages that depend on
a changed one (a change in iqa-core then lists every package). Prints one name per line (or a
JSON list); nothing when no package changed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from workspace import ROOT, Member, members, sibling_pins

WORKSPACE_WIDE = ("pyproject.toml", "uv.lock", "noxfile.py", ".ci/")


def changed_files(root: Path, ref: str, head: str = "HEAD") -> list[str]:
    spec = [f"{ref}...{head}"] if head else [ref]
    result = subprocess.run(
        ["git", "diff", "--name-only", *spec, "--"], cwd=root, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"git diff against {ref!r} failed: {result.stderr.strip()}")
    return [line for line in result.stdout.splitlines() if line]


def packages_for(paths: Iterable[str], table: dict[str, Member], root: Path) -> set[str]:
    by_folder = {member.path.resolve().relative_to(root.resolve()).as_posix(): name for name, member in table.items()}
    changed: set[str] = set()
    for raw in paths:
        path = PurePosixPath(raw).as_posix()
        if any(path == wide or (wide.endswith("/") and path.startswith(wide)) for wide in WORKSPACE_WIDE):
            return set(table)
        for folder, name in by_folder.items():
            if path.startswith(folder + "/"):
                changed.add(name)
    return changed


def with_dependents(changed: set[str], table: dict[str, Member]) -> set[str]:
    """Add, transitively, every package whose runtime dependencies name a changed one."""
    users: dict[str, set[str]] = {}
    for pin in sibling_pins(table):
        if pin.where == "dependencies":
            users.setdefault(pin.target, set()).add(pin.owner)
    result, todo = set(changed), list(changed)
    while todo:
        for user in users.get(todo.pop(), ()):
            if user not in result:
                result.add(user)
                todo.append(user)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ref", help="git ref to compare with, e.g. origin/main or a release tag")
    parser.add_argument("--head", default="HEAD", help="the other side (default HEAD; '' = working tree)")
    parser.add_argument("--dependents", action="store_true", help="also list packages depending on changed ones")
    parser.add_argument("--json", action="store_true", help="print a JSON list")
    parser.add_argument("--root", type=Path, default=ROOT, help="workspace root (default: this checkout)")
    args = parser.parse_args(argv)
    table = members(args.root)
    changed = packages_for(changed_files(args.root, args.ref, args.head), table, args.root)
    if args.dependents:
        changed = with_dependents(changed, table)
    names = sorted(changed)
    print(json.dumps(names) if args.json else "\n".join(names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
