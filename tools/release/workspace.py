"""What the release tools know of the workspace: its members, their versions and sibling pins.

Read-only helpers shared by ``check_versions.py``, ``bump.py``, ``changed_packages.py`` and
``smoke_wheels.py``. ``root`` is the workspace root (the folder holding ``packages/``), so every
tool also works on a copy of the tree (the tests use one).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[2]

VERSION_LINE = re.compile(r'^__version__\s*=\s*["\'](?P<version>[^"\']+)["\']', re.MULTILINE)


@dataclass(frozen=True)
class Pin:
    """One requirement of a member on a sibling: where it is declared and what it admits."""

    owner: str  # the member that declares it
    where: str  # "dependencies", "optional-dependencies.all", "dependency-groups.test"
    requirement: Requirement

    @property
    def target(self) -> str:
        return canonicalize_name(self.requirement.name)

    def admits(self, version: str) -> bool:
        return self.requirement.specifier.contains(Version(version), prereleases=True)

    def __str__(self) -> str:
        return f"{self.owner} [{self.where}] {self.requirement}"


@dataclass(frozen=True)
class Member:
    """A workspace package: distribution name, folder, version, import name and its requirements."""

    name: str
    path: Path
    version: str
    module: str
    scripts: dict[str, str] = field(default_factory=dict)
    entry_points: dict[str, dict[str, str]] = field(default_factory=dict)
    requirements: tuple[tuple[str, str], ...] = ()  # (where, requirement string)

    @property
    def pyproject(self) -> Path:
        return self.path / "pyproject.toml"

    @property
    def init_file(self) -> Path:
        return self.path / "src" / self.module / "__init__.py"

    @property
    def changelog(self) -> Path:
        return self.path / "CHANGELOG.md"

    def init_version(self) -> str | None:
        """``__version__`` in ``src/<module>/__init__.py``, or None when the file does not set one."""
        if not self.init_file.is_file():
            return None
        match = VERSION_LINE.search(self.init_file.read_text(encoding="utf-8"))
        return match.group("version") if match else None


def _requirements(project: dict, groups: dict) -> list[tuple[str, str]]:
    found = [("dependencies", r) for r in project.get("dependencies", [])]
    for extra, reqs in project.get("optional-dependencies", {}).items():
        found += [(f"optional-dependencies.{extra}", r) for r in reqs]
    for group, reqs in groups.items():
        found += [(f"dependency-groups.{group}", r) for r in reqs if isinstance(r, str)]
    return found


def load_member(path: Path) -> Member:
    data = tomllib.loads((path / "pyproject.toml").read_text(encoding="utf-8"))
    project = data.get("project", {})
    if "name" not in project or "version" not in project:
        raise SystemExit(f"{path / 'pyproject.toml'}: [project] needs a static name and version")
    name = canonicalize_name(project["name"])
    try:
        Version(project["version"])
    except InvalidVersion as error:
        raise SystemExit(f"{path / 'pyproject.toml'}: version {project['version']!r} is not PEP 440") from error
    return Member(
        name=name,
        path=path,
        version=project["version"],
        module=name.replace("-", "_"),
        scripts=dict(project.get("scripts", {})),
        entry_points={group: dict(points) for group, points in project.get("entry-points", {}).items()},
        requirements=tuple(_requirements(project, data.get("dependency-groups", {}))),
    )


def members(root: Path = ROOT) -> dict[str, Member]:
    """Every ``packages/*/pyproject.toml`` of the workspace, by distribution name."""
    found = {}
    for pyproject in sorted((root / "packages").glob("*/pyproject.toml")):
        member = load_member(pyproject.parent)
        found[member.name] = member
    if not found:
        raise SystemExit(f"no workspace packages under {root / 'packages'}")
    return found


def resolve_member(name: str, root: Path = ROOT) -> Member:
    table = members(root)
    key = canonicalize_name(name)
    if key not in table:
        raise SystemExit(f"unknown workspace package {name!r}; members: {', '.join(table)}")
    return table[key]


def sibling_pins(table: dict[str, Member]) -> list[Pin]:
    """Every requirement of a member on another member (a malformed one raises with its place)."""
    pins = []
    for member in table.values():
        for where, text in member.requirements:
            try:
                requirement = Requirement(text)
            except InvalidRequirement as error:
                place = f"{member.pyproject}: [{where}] {text!r}"
                raise SystemExit(f"{place} is not a valid requirement: {error}") from error
            if canonicalize_name(requirement.name) in table:
                pins.append(Pin(member.name, where, requirement))
    return pins
