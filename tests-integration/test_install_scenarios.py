"""Install scenarios: every package as a wheel, alone in a fresh venv, as a PyPI user gets it.

The same scenarios as ``tools/release/smoke_wheels.py`` (the ``nox -s build`` session): wheels
built with ``uv build --no-sources`` into a temp ``dist/``; each package installed with only the
iqa-core wheel beside it (third-party dependencies at the uv.lock versions), imported, its entry
points loaded and listed by the registry, no other sibling importable, its console scripts run
with ``--help``; ``iqa-bench[all]`` resolved from ``dist/`` alone; a downstream project that pins
only ``iqa-purify`` purifying a random image with ``jpeg``. One venv per scenario (about 5 s each
from a warm uv cache, most of it importing torch).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools" / "release"))

from smoke_wheels import (  # noqa: E402
    build_wheels,
    lock_constraints,
    scenario_alone,
    scenario_bench_all,
    scenario_downstream,
)
from workspace import members  # noqa: E402

pytestmark = pytest.mark.slow

PACKAGES = sorted(members())


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    return build_wheels(out)


@pytest.fixture(scope="module")
def constraints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return lock_constraints(tmp_path_factory.mktemp("lock") / "constraints.txt")


def test_wheels_carry_no_workspace_sources(dist: dict[str, Path]) -> None:
    import zipfile

    for name, wheel in dist.items():
        with zipfile.ZipFile(wheel) as archive:
            metadata = archive.read(f"{wheel.name.split('-')[0]}-{members()[name].version}.dist-info/METADATA").decode()
        requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist: iqa-")]
        assert all("file:" not in line and "@" not in line for line in requires), requires
        if name != "iqa-core":
            assert any(line.startswith("Requires-Dist: iqa-core") for line in requires), (name, requires)


def test_wheels_ship_the_component_specs(dist: dict[str, Path]) -> None:
    """``components.json`` (presets listed without importing the plugin) is in every wheel with components."""
    import zipfile

    for name, wheel in dist.items():
        member = members()[name]
        if not any(group.startswith("iqa.") for group in member.entry_points):
            continue
        with zipfile.ZipFile(wheel) as archive:
            assert f"{member.module}/components.json" in archive.namelist(), wheel.name


@pytest.mark.parametrize("package", PACKAGES)
def test_package_alone(package: str, dist: dict[str, Path], constraints: Path, tmp_path: Path) -> None:
    done = scenario_alone(package, dist, tmp_path, constraints)
    assert done[0].startswith(f"import {package.replace('-', '_')} ")
    assert "isolated" in done
    for script in members()[package].scripts:
        assert f"{script} --help" in done


def test_bench_all_resolves_from_dist(dist: dict[str, Path], constraints: Path, tmp_path: Path) -> None:
    folder = next(iter(dist.values())).parent
    done = scenario_bench_all(folder, tmp_path, constraints)
    for name, member in members().items():
        assert f"{name}=={member.version}" in done[0]


def test_downstream_project_pins_only_iqa_purify(dist: dict[str, Path], constraints: Path, tmp_path: Path) -> None:
    folder = next(iter(dist.values())).parent
    purified, installed = scenario_downstream(folder, tmp_path, constraints)
    assert purified.startswith("purified (2, 3, 48, 64) with jpeg")
    assert installed.endswith("['iqa-core', 'iqa-purify']")
