"""Bump one workspace package's version.

    python tools/release/bump.py iqa-purify minor|patch|major|X.Y.Z [--note TEXT ...] [--date YYYY-MM-DD]
                                 [--dry-run] [--root DIR]

* sets ``version`` in ``packages/<pkg>/pyproject.toml`` and ``__version__`` in
  ``src/<module>/__init__.py`` (where the file sets one);
* adds a dated section ``## X.Y.Z (YYYY-MM-DD)`` at the top of the package's ``CHANGELOG.md``:
  the ``--note`` lines as bullets, or the body of an ``## Unreleased`` section, which it renames
  (one of the two is required: a release says what changed);
* reports every sibling pin (dependencies, extras, dependency groups) that no longer admits the
  new version, and exits 3 when there is one (the bump itself is written; widen those pins).

``uv.lock`` records workspace versions: run ``uv lock`` afterwards, or ``uv sync --locked`` (and so
every nox session) refuses the stale lock. Pre-1.0 packages follow the workspace's convention:
``minor`` is the compatibility-breaking step that sibling pins (``>=0.1,<0.2``) guard against.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import re
import sys
from pathlib import Path

from packaging.version import InvalidVersion, Version
from workspace import ROOT, VERSION_LINE, Member, members, resolve_member, sibling_pins

PARTS = ("major", "minor", "patch")
PROJECT_VERSION = re.compile(r'^(?P<head>version\s*=\s*)(?P<q>["\'])(?P<version>[^"\']+)(?P=q)', re.MULTILINE)
UNRELEASED = re.compile(r"^##[ \t]+\[?unreleased\]?[ \t]*$", re.IGNORECASE | re.MULTILINE)


def next_version(current: str, how: str) -> str:
    """``major`` / ``minor`` / ``patch`` of ``current`` (pre/post/dev parts dropped) or an explicit version."""
    v = Version(current)
    if how == "major":
        return f"{v.major + 1}.0.0"
    if how == "minor":
        return f"{v.major}.{v.minor + 1}.0"
    if how == "patch":
        return f"{v.major}.{v.minor}.{v.micro + (0 if v.is_prerelease else 1)}"
    try:
        new = Version(how)
    except InvalidVersion as error:
        raise SystemExit(f"{how!r} is neither major, minor, patch nor a PEP 440 version") from error
    if new <= v:
        raise SystemExit(f"new version {how} is not above the current {current}")
    return str(new)


def set_project_version(text: str, new: str) -> str:
    """Replace ``version = ...`` inside the ``[project]`` table only."""
    start = re.search(r"^\[project\]\s*$", text, re.MULTILINE)
    if start is None:
        raise SystemExit("pyproject.toml has no [project] table")
    end_match = re.search(r"^\[", text[start.end() :], re.MULTILINE)
    end = start.end() + end_match.start() if end_match else len(text)
    body, count = PROJECT_VERSION.subn(lambda m: f"{m['head']}{m['q']}{new}{m['q']}", text[start.end() : end], 1)
    if count != 1:
        raise SystemExit("no static `version = ...` in [project]; this tool bumps static versions only")
    return text[: start.end()] + body + text[end:]


def changelog_with_release(text: str, version: str, date: str, notes: list[str]) -> str:
    """Insert the dated section (from ``notes`` or the ``## Unreleased`` body) above older releases."""
    heading = f"## {version} ({date})"
    unreleased = UNRELEASED.search(text)
    if notes:
        if unreleased is not None:
            raise SystemExit("CHANGELOG.md has an '## Unreleased' section: release it (no --note) or merge it first")
        body = "\n".join(f"- {note.strip()}" for note in notes)
        section = f"{heading}\n\n{body}\n\n"
        first = re.search(r"^## ", text, re.MULTILINE)
        if first is None:
            return text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
        return text[: first.start()] + section + text[first.start() :]
    if unreleased is None:
        raise SystemExit("say what changed: pass --note TEXT (repeatable) or add an '## Unreleased' section")
    nxt = re.search(r"^## ", text[unreleased.end() :], re.MULTILINE)
    body_end = unreleased.end() + nxt.start() if nxt else len(text)
    if not text[unreleased.end() : body_end].strip():
        raise SystemExit("the '## Unreleased' section of CHANGELOG.md is empty; describe the release or pass --note")
    return text[: unreleased.start()] + heading + text[unreleased.end() :]


def stale_pins(table: dict[str, Member], package: str, version: str) -> list[str]:
    return [
        f"{pin} does not admit {package} {version} ({table[pin.owner].pyproject})"
        for pin in sibling_pins(table)
        if pin.target == package and not pin.admits(version)
    ]


def bump(
    root: Path, package: str, how: str, notes: list[str], date: str, dry_run: bool = False
) -> tuple[str, str, list[str]]:
    """Write the bump; returns (old version, new version, sibling pins that exclude the new one)."""
    member = resolve_member(package, root)
    new = next_version(member.version, how)
    pyproject = set_project_version(member.pyproject.read_text(encoding="utf-8"), new)
    changelog_text = member.changelog.read_text(encoding="utf-8") if member.changelog.is_file() else "# Changelog\n"
    changelog = changelog_with_release(changelog_text, new, date, notes)
    init = None
    if member.init_version() is not None:
        init = VERSION_LINE.sub(f'__version__ = "{new}"', member.init_file.read_text(encoding="utf-8"), 1)
    if not dry_run:
        member.pyproject.write_text(pyproject, encoding="utf-8")
        member.changelog.write_text(changelog, encoding="utf-8")
        if init is not None:
            member.init_file.write_text(init, encoding="utf-8")
    table = members(root)
    if dry_run:
        table[member.name] = dataclasses.replace(member, version=new)
    return member.version, new, stale_pins(table, member.name, new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package", help="workspace package, e.g. iqa-purify")
    parser.add_argument("how", help="major, minor, patch or an explicit version X.Y.Z")
    parser.add_argument("--note", action="append", default=[], help="a CHANGELOG bullet (repeatable)")
    parser.add_argument("--date", default=dt.date.today().isoformat(), help="release date (default: today)")
    parser.add_argument("--dry-run", action="store_true", help="print what would change, write nothing")
    parser.add_argument("--root", type=Path, default=ROOT, help="workspace root (default: this checkout)")
    args = parser.parse_args(argv)
    old, new, stale = bump(args.root, args.package, args.how, args.note, args.date, args.dry_run)
    member = resolve_member(args.package, args.root)
    verb = "would bump" if args.dry_run else "bumped"
    print(f"{verb} {member.name} {old} -> {new} (pyproject.toml, CHANGELOG.md", end="")
    print(", __init__.__version__)" if member.init_version() is not None else ")")
    if not args.dry_run:
        print("then run `uv lock` so that uv.lock records the new version (nox syncs with --locked)")
    if stale:
        print(f"{len(stale)} sibling pin(s) no longer admit {member.name} {new}:", file=sys.stderr)
        for line in stale:
            print(f"  {line}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
