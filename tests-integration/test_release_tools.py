"""tools/release: check_versions, bump and changed_packages on temp copies of the package tree."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools" / "release"
sys.path.insert(0, str(TOOLS))

import bump  # noqa: E402
import changed_packages  # noqa: E402
import check_versions  # noqa: E402
from workspace import members  # noqa: E402


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of every package's pyproject, CHANGELOG and __init__ (all the tools read)."""
    for member in members(ROOT).values():
        dest = tmp_path / "packages" / member.path.name
        for source in (member.pyproject, member.changelog, member.init_file):
            if source.is_file():
                target = dest / source.relative_to(member.path)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    return tmp_path


def _tool(name: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOLS / name), *map(str, args)], capture_output=True, text=True, timeout=60
    )


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new))


# check_versions ---------------------------------------------------------------------------------


def test_the_workspace_pins_are_satisfiable() -> None:
    result = _tool("check_versions.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: ")


def _pin(path: Path, name: str) -> str:
    """The quoted requirement of sibling ``name`` in a pyproject (e.g. ``"iqa-core>=0.2,<0.3"``)."""
    return re.search(rf'"{name}>=[^"]*"', path.read_text())[0]  # type: ignore[index]


def test_a_pin_that_excludes_the_sibling_fails_clearly(tree: Path) -> None:
    pyproject = tree / "packages/iqa-purify/pyproject.toml"
    current = _pin(pyproject, "iqa-core")
    _replace(pyproject, current, '"iqa-core>=0.9,<0.10"')
    result = _tool("check_versions.py", "--root", tree)
    core = members(tree)["iqa-core"].version
    assert result.returncode == 1
    assert "1 version problem(s)" in result.stderr
    assert (
        f"iqa-purify: [dependencies] requires iqa-core<0.10,>=0.9 but the workspace has iqa-core {core}"
        in result.stderr
    )
    major, minor = (int(part) for part in core.split(".")[:2])
    assert (
        "widen the pin in" in result.stderr
        and f'(e.g. "iqa-core>={major}.{minor},<{major}.{minor + 1}")' in result.stderr
    )


def test_extras_and_groups_are_checked_too(tree: Path) -> None:
    pyproject = tree / "packages/iqa-bench/pyproject.toml"
    _replace(pyproject, _pin(pyproject, "iqa-purify"), '"iqa-purify>=0.0,<0.1"')
    found = check_versions.problems(members(tree))
    assert len(found) == 1 and found[0].startswith("iqa-bench: [optional-dependencies.all] requires iqa-purify")


def test_a_stale_dunder_version_is_reported(tree: Path) -> None:
    version = members(tree)["iqa-attacks"].version
    _replace(
        tree / "packages/iqa-attacks/src/iqa_attacks/__init__.py", f'__version__ = "{version}"', '__version__ = "0.0.9"'
    )
    (problem,) = check_versions.problems(members(tree))
    assert "iqa-attacks: __version__ = '0.0.9'" in problem and f"'{version}'" in problem


# bump -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "how", "expected"),
    [
        ("0.2.0", "patch", "0.2.1"),
        ("0.2.3", "minor", "0.3.0"),
        ("0.2.3", "major", "1.0.0"),
        ("1.4.0rc1", "patch", "1.4.0"),
        ("0.2.0", "0.2.5", "0.2.5"),
    ],
)
def test_next_version(current: str, how: str, expected: str) -> None:
    assert bump.next_version(current, how) == expected


@pytest.mark.parametrize("how", ["0.1.0", "0.2.0", "sideways"])
def test_next_version_rejects_nonsense(how: str) -> None:
    with pytest.raises(SystemExit):
        bump.next_version("0.2.0", how)


def test_bump_writes_pyproject_init_and_a_dated_changelog(tree: Path) -> None:
    pkg = tree / "packages/iqa-purify"
    old = members(tree)["iqa-purify"].version
    result = _tool(
        "bump.py", "iqa-purify", "minor", "--note", "New `median` preset.", "--note", "Faster DiffPure.",
        "--date", "2025-03-04", "--root", tree,
    )  # fmt: skip
    new = bump.next_version(old, "minor")
    pin = _pin(tree / "packages/iqa-bench/pyproject.toml", "iqa-purify").strip('"').removeprefix("iqa-purify")
    specifier = ",".join(sorted(pin.split(",")))  # packaging's order: "<0.4,>=0.3"
    assert result.returncode == 3, result.stderr  # iqa-bench[all] pins iqa-purify below the next minor
    assert f"bumped iqa-purify {old} -> {new}" in result.stdout and "uv lock" in result.stdout
    assert (
        f"iqa-bench [optional-dependencies.all] iqa-purify{specifier} does not admit iqa-purify {new}" in result.stderr
    )
    assert re.search(rf'^version = "{re.escape(new)}"$', (pkg / "pyproject.toml").read_text(), re.MULTILINE)
    assert f'__version__ = "{new}"' in (pkg / "src/iqa_purify/__init__.py").read_text()
    changelog = (pkg / "CHANGELOG.md").read_text()
    assert changelog.startswith(
        f"# Changelog\n\n## {new} (2025-03-04)\n\n- New `median` preset.\n- Faster DiffPure.\n\n## {old}"
    )
    # the other packages are untouched, and check_versions now reports the stale extra
    (problem,) = check_versions.problems(members(tree))
    assert problem.startswith(f"iqa-bench: [optional-dependencies.all] requires iqa-purify{specifier}")


def test_bump_patch_keeps_sibling_pins_valid(tree: Path) -> None:
    current = members(tree)["iqa-purify"].version
    old, new, stale = bump.bump(tree, "iqa-purify", "patch", ["Fix."], "2025-01-01")
    assert (old, new, stale) == (current, bump.next_version(current, "patch"), [])
    assert check_versions.problems(members(tree)) == []


def test_bump_releases_an_unreleased_section(tree: Path) -> None:
    changelog = tree / "packages/iqa-certify/CHANGELOG.md"
    _replace(changelog, "# Changelog\n\n", "# Changelog\n\n## Unreleased\n\n- Certify on tiles.\n\n")
    current = members(tree)["iqa-certify"].version
    new = bump.next_version(current, "patch")
    bump.bump(tree, "iqa-certify", "patch", [], "2025-05-06")
    assert changelog.read_text().startswith(
        f"# Changelog\n\n## {new} (2025-05-06)\n\n- Certify on tiles.\n\n## {current}"
    )


def test_bump_without_notes_or_unreleased_section_refuses(tree: Path) -> None:
    before = (tree / "packages/iqa-core/pyproject.toml").read_text()
    with pytest.raises(SystemExit, match="pass --note"):
        bump.bump(tree, "iqa-core", "patch", [], "2025-01-01")
    assert (tree / "packages/iqa-core/pyproject.toml").read_text() == before


def test_bump_of_a_package_without_dunder_version(tree: Path) -> None:
    init = tree / "packages/iqa-train/src/iqa_train/__init__.py"
    init.write_text('"""A package that keeps its version in pyproject.toml only."""\n')
    init_before = init.read_text()
    target = bump.next_version(members(tree)["iqa-train"].version, "patch")
    bump.bump(tree, "iqa-train", target, ["Adversarial fine-tuning."], "2025-01-01")
    assert init.read_text() == init_before
    assert members(tree)["iqa-train"].version == target


def test_bump_dry_run_writes_nothing_and_reports_stale_pins(tree: Path) -> None:
    before = {p: p.read_text() for p in tree.rglob("*") if p.is_file()}
    result = _tool("bump.py", "iqa-core", "minor", "--note", "x", "--dry-run", "--root", tree)
    assert result.returncode == 3
    old = members(tree)["iqa-core"].version
    new = bump.next_version(old, "minor")
    pin = _pin(tree / "packages/iqa-purify/pyproject.toml", "iqa-core").strip('"').removeprefix("iqa-core")
    specifier = ",".join(sorted(pin.split(",")))
    assert f"would bump iqa-core {old} -> {new}" in result.stdout
    assert result.stderr.count(f"does not admit iqa-core {new}") == 6  # every sibling pins iqa-core
    assert f"iqa-purify [dependencies] iqa-core{specifier} does not admit iqa-core {new}" in result.stderr
    assert {p: p.read_text() for p in tree.rglob("*") if p.is_file()} == before


def test_bump_unknown_package() -> None:
    result = _tool("bump.py", "iqa-nothing", "patch", "--note", "x", "--dry-run")
    assert result.returncode != 0 and "unknown workspace package 'iqa-nothing'" in result.stderr


def test_only_the_project_table_version_changes() -> None:
    text = '[project]\nname = "x"\nversion = "1.0.0"\n\n[tool.other]\nversion = "9"\n'
    assert bump.set_project_version(text, "1.0.1") == text.replace('"1.0.0"', '"1.0.1"')


# changed_packages -------------------------------------------------------------------------------


def test_paths_map_to_packages() -> None:
    table = members(ROOT)
    paths = ["packages/iqa-purify/src/iqa_purify/jpeg.py", "docs/index.md", "packages/iqa-core/README.md"]
    assert changed_packages.packages_for(paths, table, ROOT) == {"iqa-purify", "iqa-core"}
    assert changed_packages.packages_for(["docs/index.md"], table, ROOT) == set()
    assert changed_packages.packages_for(["uv.lock"], table, ROOT) == set(table)


def test_dependents_of_core_are_everyone() -> None:
    table = members(ROOT)
    assert changed_packages.with_dependents({"iqa-core"}, table) == set(table)
    assert changed_packages.with_dependents({"iqa-purify"}, table) == {"iqa-purify"}


def test_changed_since_a_ref_in_a_git_repository(tree: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
            cwd=tree, check=True, capture_output=True,
        )  # fmt: skip

    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "base")
    git("tag", "base")
    _replace(tree / "packages/iqa-certify/CHANGELOG.md", "# Changelog", "# Changelog of iqa-certify")
    result = _tool("changed_packages.py", "base", "--head", "", "--root", tree)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["iqa-certify"]
    git("commit", "-q", "-am", "certify")
    result = _tool("changed_packages.py", "base", "--json", "--root", tree)
    assert result.stdout.strip() == '["iqa-certify"]'
    assert _tool("changed_packages.py", "HEAD", "--root", tree).stdout.strip() == ""
    bad = _tool("changed_packages.py", "no-such-ref", "--root", tree)
    assert bad.returncode != 0 and "git diff against 'no-such-ref' failed" in bad.stderr
