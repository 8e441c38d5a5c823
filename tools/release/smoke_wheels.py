"""Build every workspace wheel without workspace sources and smoke-test each one alone.

    python tools/release/smoke_wheels.py [--dist dist] [--work DIR] [--packages a,b] [--keep]

1. ``uv build --wheel --no-sources`` for each package into ``--dist`` (what PyPI users get: sibling
   requirements are the declared ranges, never the workspace's editable paths).
2. For each package, a fresh venv with only its wheel and the ``iqa-core`` wheel (third-party
   dependencies at the versions of ``uv.lock``, read with ``uv export --frozen``): import it, compare
   ``__version__`` with the wheel, load every entry point it declares, check that the registry lists
   them, that no other sibling is importable (``tools/check_isolation.py``), and run each of its
   console scripts with ``--help``.
3. ``iqa-bench[all]`` resolved from ``--dist`` alone (the sibling ranges are satisfiable together)
   and ``iqa-bench list`` run in it.
4. A downstream project that pins only ``iqa-purify`` installs from ``--dist`` and purifies a random
   image with the ``jpeg`` defence.

Installs try ``uv pip install --offline`` first (a warm uv cache suffices) and fall back to the
package index when the cache lacks a file's metadata. Exits 1 naming the failed scenarios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from commands import CommandError, uv
from commands import lock_constraints as lock_constraints_of
from commands import run as run_command
from packaging.version import Version
from workspace import ROOT, Member, members

CORE = "iqa-core"
PYTHON = os.environ.get("IQA_SMOKE_PYTHON", f"{sys.version_info.major}.{sys.version_info.minor}")
OFFLINE_HINT = "network was disabled"


ScenarioError = CommandError


def run(cmd: Sequence[str | Path], *, cwd: Path | None = None, timeout: float = 600) -> str:
    return run_command(cmd, cwd=cwd, timeout=timeout)


def build_wheels(out: Path, root: Path = ROOT, packages: Sequence[str] | None = None) -> dict[str, Path]:
    """Wheels of the named members (all by default) built with ``--no-sources``; name -> wheel path."""
    table = members(root)
    out.mkdir(parents=True, exist_ok=True)
    wheels = {}
    for name in packages or list(table):
        member = table[name]
        run([uv(), "build", "--wheel", "--no-sources", "--quiet", "--out-dir", out, member.path], cwd=root)
        wheel = out / f"{member.module}-{member.version}-py3-none-any.whl"
        if not wheel.is_file():
            raise ScenarioError(f"uv build did not produce {wheel}")
        wheels[name] = wheel
    return wheels


def lock_constraints(dest: Path, root: Path = ROOT) -> Path:
    return lock_constraints_of(dest, root)


@dataclass
class Venv:
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def script(self, name: str) -> Path:
        return self.path / "bin" / name

    @classmethod
    def create(cls, path: Path) -> Venv:
        run([uv(), "venv", "--quiet", "--python", PYTHON, path])
        return cls(path)

    def install(self, *requirements: str | Path, constraints: Path, find_links: Path | None = None) -> str:
        """``uv pip install`` offline first; with the index when the cache lacks some metadata."""
        cmd: list[str | Path] = [uv(), "pip", "install", "--python", self.python, "-c", constraints]
        if find_links is not None:
            cmd += ["--find-links", find_links]
        cmd += [str(r) for r in requirements]
        try:
            return run([*cmd[:3], "--offline", *cmd[3:]])
        except ScenarioError as error:
            if OFFLINE_HINT not in str(error):
                raise
            return run(cmd)

    def python_run(self, code: str, *, cwd: Path | None = None) -> str:
        return run([self.python, "-c", textwrap.dedent(code)], cwd=cwd)


def check_alone(venv: Venv, member: Member, root: Path = ROOT) -> list[str]:
    """Import, version, entry points, registry, isolation and ``--help`` of each console script."""
    done = []
    groups = {group: sorted(points) for group, points in member.entry_points.items() if group.startswith("iqa.")}
    venv.python_run(
        f"""
        import importlib.metadata as md
        import {member.module} as pkg
        import iqa_core
        assert getattr(pkg, "__version__", {member.version!r}) == {member.version!r}, pkg.__version__
        assert md.version({member.name!r}) == {member.version!r}
        kinds = {{group: kind for kind, group in iqa_core.registry.GROUPS.items()}}
        for group, names in {groups!r}.items():
            points = {{ep.name: ep for ep in md.entry_points(group=group) if ep.dist.name == {member.name!r}}}
            assert sorted(points) == names, (group, sorted(points), names)
            for ep in points.values():
                ep.load()
            listed = set(iqa_core.available(kinds[group]))
            missing = [n for n in names if iqa_core.registry.normalise_name(n) not in listed]
            assert not missing, (group, missing)
        """
    )
    done.append(f"import {member.module} {member.version}")
    if groups:
        done.append("entry points " + ", ".join(f"{g} ({len(n)})" for g, n in groups.items()))
    run([venv.python, root / "tools" / "check_isolation.py", member.name])
    done.append("isolated")
    for script in member.scripts:
        run([venv.script(script), "--help"])
        done.append(f"{script} --help")
    return done


def compatible_range(version: str) -> str:
    """``>=X.Y,<X.Y+1`` before 1.0, ``>=X.Y,<X+1`` after: the workspace's pin convention."""
    v = Version(version)
    upper = f"0.{v.minor + 1}" if v.major == 0 else f"{v.major + 1}"
    return f">={v.major}.{v.minor},<{upper}"


DOWNSTREAM_MODULE = '''\
"""A downstream application: purify user images with one defence of iqa-purify."""

import torch
import iqa_core


def purify(images: torch.Tensor, quality: int = 50) -> torch.Tensor:
    jpeg = iqa_core.create("defence", "jpeg", quality=quality)
    return jpeg(images)


def main() -> None:
    images = torch.rand(2, 3, 48, 64, generator=torch.Generator().manual_seed(0))
    out = purify(images)
    assert out.shape == images.shape and out.dtype == torch.float32
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    assert not torch.equal(out, images)
    print(f"purified {tuple(out.shape)} with jpeg: mean abs change {float((out - images).abs().mean()):.4f}")
'''


def write_downstream_project(where: Path, purify_version: str) -> Path:
    """A project whose only requirement is ``iqa-purify`` in the workspace's compatible range."""
    project = where / "downstream-app"
    (project / "src" / "downstream_app").mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [project]
            name = "downstream-app"
            version = "1.0.0"
            requires-python = ">=3.11"
            dependencies = ["iqa-purify{compatible_range(purify_version)}"]

            [build-system]
            requires = ["hatchling>=1.25"]
            build-backend = "hatchling.build"

            [tool.hatch.build.targets.wheel]
            packages = ["src/downstream_app"]
            """
        )
    )
    (project / "src" / "downstream_app" / "__init__.py").write_text(DOWNSTREAM_MODULE)
    return project


def scenario_alone(name: str, wheels: dict[str, Path], work: Path, constraints: Path, root: Path = ROOT) -> list[str]:
    member = members(root)[name]
    venv = Venv.create(work / f"venv-{name}")
    extra = [] if name == CORE else [wheels[CORE]]
    venv.install(wheels[name], *extra, constraints=constraints)
    return check_alone(venv, member, root)


def scenario_bench_all(dist: Path, work: Path, constraints: Path, root: Path = ROOT) -> list[str]:
    bench = members(root)["iqa-bench"]
    venv = Venv.create(work / "venv-bench-all")
    venv.install(f"iqa-bench[all]=={bench.version}", constraints=constraints, find_links=dist)
    listing = run([venv.script("iqa-bench"), "list"])
    for kind in ("metrics", "attacks", "defences", "denoisers", "certifiers"):
        if f"{kind} (0)" in listing:
            raise ScenarioError(f"iqa-bench[all] from {dist} lists no {kind}:\n{listing}")
    versions = venv.python_run(
        f"import importlib.metadata as md; print(*(f'{{d}}=={{md.version(d)}}' for d in {sorted(members(root))!r}))"
    )
    return [f"iqa-bench[all] from dist: {versions.strip()}", "iqa-bench list"]


def scenario_downstream(dist: Path, work: Path, constraints: Path, root: Path = ROOT) -> list[str]:
    purify = members(root)["iqa-purify"]
    project = write_downstream_project(work, purify.version)
    venv = Venv.create(work / "venv-downstream")
    venv.install(project, constraints=constraints, find_links=dist)
    out = venv.python_run("from downstream_app import main; main()")
    installed = venv.python_run(
        "import importlib.metadata as md\n"
        "print(sorted(d.metadata['Name'] for d in md.distributions() if d.metadata['Name'].startswith('iqa')))"
    )
    return [out.strip(), f"iqa distributions: {installed.strip()}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="where the wheels go (default: dist/)")
    parser.add_argument("--work", type=Path, default=None, help="folder for the venvs (default: a temp dir)")
    parser.add_argument("--packages", default=None, help="comma-separated members to smoke-test (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the venvs")
    args = parser.parse_args(argv)
    table = members()
    chosen = args.packages.split(",") if args.packages else list(table)
    unknown = [p for p in chosen if p not in table]
    if unknown:
        raise SystemExit(f"unknown workspace packages {unknown}; members: {', '.join(table)}")
    work = args.work or Path(tempfile.mkdtemp(prefix="iqa-smoke-"))
    work.mkdir(parents=True, exist_ok=True)
    failed = []
    try:
        start = time.perf_counter()
        if args.dist.is_dir():
            for old in args.dist.glob("iqa_*.whl"):
                old.unlink()
        wheels = build_wheels(args.dist, packages=list(table))
        print(f"built {len(wheels)} wheels into {args.dist} in {time.perf_counter() - start:.1f} s")
        constraints = lock_constraints(work / "constraints.txt")
        scenarios = [(f"{p} alone", lambda p=p: scenario_alone(p, wheels, work, constraints)) for p in chosen]
        scenarios += [
            ("iqa-bench[all] from dist", lambda: scenario_bench_all(args.dist, work, constraints)),
            ("downstream project pinning iqa-purify", lambda: scenario_downstream(args.dist, work, constraints)),
        ]
        for title, scenario in scenarios:
            t0 = time.perf_counter()
            try:
                done = scenario()
            except ScenarioError as error:
                failed.append(title)
                print(f"FAIL {title}:\n{textwrap.indent(str(error), '    ')}", file=sys.stderr)
            else:
                print(f"ok   {title} ({time.perf_counter() - t0:.1f} s): " + "; ".join(done))
        passed = len(scenarios) - len(failed)
        print(f"{passed} of {len(scenarios)} scenarios passed in {time.perf_counter() - start:.1f} s")
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
