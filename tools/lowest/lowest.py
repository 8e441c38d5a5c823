"""Each package at the lowest versions its ranges allow, then its own tests (`nox -s lowest`).

    python tools/lowest/lowest.py [--packages a,b] [--third-party lock|lowest-direct]
                                  [--work DIR] [--keep] [-- PYTEST ARGS]

For each package P (all by default):

1. Sibling floors. For every requirement of P on a workspace sibling S (``dependencies`` and the
   extras that name siblings), the lowest version the range admits is looked up in S's history:
   the first commit of ``packages/S/pyproject.toml`` whose version is admitted (for ``>=0.2,<0.3``
   the commit that made S 0.2.0). That tree is taken out with ``git archive`` and built with
   ``uv build --wheel --no-sources`` (cached under ``--work``/wheels by commit).
2. A fresh venv (``uv venv``) gets P from the current source, every sibling at its floor wheel,
   P's ``test`` dependency group and, for the third-party packages:
   - ``lock`` (default): the versions of ``uv.lock`` (``uv export``), so torch comes from the uv
     cache and only the sibling floors differ from ``nox -s tests``;
   - ``lowest-direct``: P's own third-party requirements passed as direct requirements with
     ``uv pip install --resolution lowest-direct`` (their floors; what they pull in at its newest).
3. The installed versions are checked (each sibling is at its floor, P is the working tree's
   version), then P's test suite runs in that venv (``pytest packages/P/tests``; extra arguments
   after ``--`` go to pytest, e.g. ``-- -m 'not slow'`` or ``-k ssim``).

Prints one line per package (floors, seconds, passed/failed) and exits 1 when any failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "release"))
from commands import CommandError, uv
from commands import lock_constraints as lock_constraints_of
from commands import run as run_command
from workspace import ROOT, Member, members

PYTHON = os.environ.get("IQA_LOWEST_PYTHON", f"{sys.version_info.major}.{sys.version_info.minor}")
# third-party packages left out of the lock constraints when an override changes torch
TORCH_FAMILY = ("torch", "torchvision", "triton", "nvidia-", "cuda-")


StepError = CommandError


def run(cmd: Sequence[str | Path], *, cwd: Path | None = None, timeout: float = 3600) -> str:
    return run_command(cmd, cwd=cwd, timeout=timeout)


def git(*args: str, root: Path = ROOT) -> str:
    return run(["git", *args], cwd=root)


# --- sibling floors -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Floor:
    """The lowest release of sibling ``name`` that ``requirement`` admits, and where it was made."""

    name: str
    requirement: Requirement
    where: str  # "dependencies" or "optional-dependencies.<extra>"
    version: str
    commit: str

    def __str__(self) -> str:
        return f"{self.name}=={self.version} (floor of {self.requirement}, {self.commit[:7]})"


def sibling_requirements(member: Member, table: dict[str, Member]) -> list[tuple[str, Requirement]]:
    """P's requirements on siblings in what users install (dependencies and extras), not dev groups."""
    found = []
    for where, text in member.requirements:
        if where.startswith("dependency-groups."):
            continue
        requirement = Requirement(text)
        if canonicalize_name(requirement.name) in table:
            found.append((where, requirement))
    return found


def third_party_requirements(member: Member, table: dict[str, Member], extras: Sequence[str]) -> list[str]:
    """P's own third-party requirements: dependencies, the given extras and the ``test`` group."""
    wanted = {"dependencies", "dependency-groups.test", *(f"optional-dependencies.{e}" for e in extras)}
    found = []
    for where, text in member.requirements:
        if where in wanted and canonicalize_name(Requirement(text).name) not in table:
            found.append(text)
    return found


def released_versions(member: Member, root: Path = ROOT) -> list[tuple[str, str]]:
    """(version, first commit carrying it) along the history of the member's pyproject, oldest first."""
    relative = member.pyproject.relative_to(root).as_posix()
    commits = git("log", "--reverse", "--format=%H", "--", relative, root=root).split()
    seen: dict[str, str] = {}
    for commit in commits:
        try:
            text = git("show", f"{commit}:{relative}", root=root)
            version = tomllib.loads(text)["project"]["version"]
            Version(version)
        except (StepError, KeyError, tomllib.TOMLDecodeError, InvalidVersion):
            continue  # deleted or unparsable at that commit
        seen.setdefault(version, commit)
    return list(seen.items())


def floor_of(where: str, requirement: Requirement, member: Member, root: Path = ROOT) -> Floor:
    """The lowest version in the sibling's history that the requirement admits."""
    admitted = [
        (Version(v), v, c) for v, c in released_versions(member, root) if requirement.specifier.contains(Version(v))
    ]
    if not admitted:
        raise SystemExit(
            f"no version of {member.name} in the git history satisfies {requirement}: "
            f"fix the range or the history ({member.pyproject})"
        )
    _, version, commit = min(admitted)
    return Floor(member.name, requirement, where, version, commit)


def floor_wheel(floor: Floor, member: Member, cache: Path, root: Path = ROOT) -> Path:
    """``uv build --wheel --no-sources`` of the sibling's tree at the floor commit (cached by commit)."""
    out = cache / f"{floor.name}-{floor.version}-{floor.commit[:12]}"
    wheels = sorted(out.glob("*.whl"))
    if wheels:
        return wheels[0]
    relative = member.path.relative_to(root).as_posix()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", floor.commit, relative], cwd=root, capture_output=True, check=True
    ).stdout
    with tempfile.TemporaryDirectory(prefix="iqa-lowest-src-") as tmp:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        run([uv(), "build", "--wheel", "--no-sources", "--quiet", "--out-dir", out, Path(tmp) / relative])
    wheels = sorted(out.glob("*.whl"))
    if not wheels:
        raise StepError(f"uv build produced no wheel for {floor}")
    return wheels[0]


# --- environments ---------------------------------------------------------------------------------


def lock_constraints(dest: Path, root: Path = ROOT) -> Path:
    return lock_constraints_of(dest, root)


def installed_versions(python: Path, names: Sequence[str]) -> dict[str, str]:
    code = (
        "import importlib.metadata as md, sys\n"
        "for n in sys.argv[1:]:\n"
        "    try: print(n, md.version(n))\n"
        "    except md.PackageNotFoundError: print(n, '-')\n"
    )
    out = run([python, "-c", code, *names])
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


@dataclass
class Outcome:
    package: str
    floors: list[Floor]
    seconds_install: float
    seconds_tests: float
    passed: bool
    detail: str
    third_party: dict[str, str]


def check_package(
    name: str,
    table: dict[str, Member],
    work: Path,
    third_party: str,
    pytest_args: Sequence[str],
    root: Path = ROOT,
) -> Outcome:
    member = table[name]
    siblings = sibling_requirements(member, table)
    floors = [floor_of(where, req, table[canonicalize_name(req.name)], root) for where, req in siblings]
    extras = sorted({f.where.split(".", 1)[1] for f in floors if f.where.startswith("optional-dependencies.")})
    wheels = [floor_wheel(f, table[f.name], work / "wheels", root) for f in floors]

    venv = work / f"venv-{name}-{third_party}"
    if venv.exists():
        shutil.rmtree(venv)
    start = time.perf_counter()
    run([uv(), "venv", "--quiet", "--python", PYTHON, venv])
    python = venv / "bin" / "python"
    target = f"{name}[{','.join(extras)}] @ {member.path.as_uri()}" if extras else f"{name} @ {member.path.as_uri()}"
    # the floors as exact pins too, so no other version of a sibling can be chosen for a transitive need
    pins = work / f"floors-{name}.txt"
    pins.write_text("".join(f"{f.name}=={f.version}\n" for f in floors))
    own = third_party_requirements(member, table, extras)
    cmd: list[str | Path] = [uv(), "pip", "install", "--python", python, "--no-sources", "--compile-bytecode"]
    cmd += ["-c", pins, target, *wheels, *own]
    if third_party == "lock":
        cmd += ["-c", lock_constraints(work / "lock-constraints.txt", root)]
    else:
        cmd += ["--resolution", "lowest-direct"]
    try:
        run(cmd)
    except StepError as error:
        return Outcome(name, floors, time.perf_counter() - start, 0.0, False, f"install failed: {error}", {})
    seconds_install = time.perf_counter() - start

    tracked = sorted({*table, *(canonicalize_name(Requirement(r).name) for r in own)})
    versions = installed_versions(python, tracked)
    wrong = [f"{f.name} {versions.get(f.name)} (floor {f.version})" for f in floors if versions[f.name] != f.version]
    if versions.get(name) != member.version:
        wrong.append(f"{name} {versions.get(name)} (working tree {member.version})")
    if wrong:
        return Outcome(name, floors, seconds_install, 0.0, False, "wrong versions installed: " + "; ".join(wrong), {})
    third = {k: v for k, v in versions.items() if k not in table and v != "-"}

    start = time.perf_counter()
    tests = member.path / "tests"
    # run from a scratch folder so the working tree's src/ folders are never importable by accident
    cmd = [python, "-m", "pytest", tests, "-q", "-p", "no:cacheprovider", "-c", root / "pyproject.toml"]
    cmd += ["--rootdir", root, *pytest_args]
    try:
        out = run(cmd, cwd=work)
        passed, detail = True, out.strip().splitlines()[-1] if out.strip() else ""
    except StepError as error:
        passed, detail = False, str(error)
    return Outcome(name, floors, seconds_install, time.perf_counter() - start, passed, detail, third)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, pytest_args = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", help="comma-separated workspace packages (default: all)")
    parser.add_argument("--third-party", choices=["lock", "lowest-direct"], default="lock")
    parser.add_argument("--work", type=Path, default=ROOT / ".nox" / "_lowest", help="wheels and venvs")
    parser.add_argument("--keep", action="store_true", help="keep the venvs (wheels are always kept)")
    args = parser.parse_args(argv)

    table = members(ROOT)
    names = [canonicalize_name(n) for n in args.packages.split(",")] if args.packages else list(table)
    unknown = [n for n in names if n not in table]
    if unknown:
        raise SystemExit(f"unknown packages {unknown}; workspace members: {', '.join(table)}")
    args.work.mkdir(parents=True, exist_ok=True)
    failed = []
    for name in names:
        outcome = check_package(name, table, args.work.resolve(), args.third_party, pytest_args)
        floors = ", ".join(f"{f.name}=={f.version}@{f.commit[:7]}" for f in outcome.floors) or "no siblings"
        status = "passed" if outcome.passed else "FAILED"
        print(
            f"{name} [{args.third_party}] with {floors}: {status} "
            f"(install {outcome.seconds_install:.0f} s, tests {outcome.seconds_tests:.0f} s)",
            flush=True,
        )
        if args.third_party == "lowest-direct" and outcome.third_party:
            print("  third-party: " + ", ".join(f"{k}=={v}" for k, v in outcome.third_party.items()), flush=True)
        print("  " + outcome.detail.strip().replace("\n", "\n  ")[-6000:], flush=True)
        if not outcome.passed:
            failed.append(name)
        if not args.keep:
            shutil.rmtree(args.work / f"venv-{name}-{args.third_party}", ignore_errors=True)
    if failed:
        print(f"FAILED at their floors: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
