"""The import-linter contracts of pyproject.toml must catch a violation, or they check nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["iqa_core", "iqa_metrics", "iqa_attacks", "iqa_purify", "iqa_certify", "iqa_train", "iqa_bench"]


def _config_with_contracts(target: Path) -> None:
    """Copy the real contracts into a config file of their own (TOML, as import-linter reads it)."""
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    lines = ["[tool.importlinter]", f"root_packages = {settings['root_packages']!r}".replace("'", '"'), ""]
    for contract in settings["contracts"]:
        lines.append("[[tool.importlinter.contracts]]")
        for key, value in contract.items():
            rendered = repr(value).replace("'", '"')
            lines.append(f"{key} = {rendered}")
        lines.append("")
    target.write_text("\n".join(lines))


def _fake_workspace(tmp_path: Path, imports: dict[str, str]) -> Path:
    for package in PACKAGES:
        folder = tmp_path / "src" / package
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text(imports.get(package, ""))
    _config_with_contracts(tmp_path / "contracts.toml")
    return tmp_path


def _lint(workspace: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert exe, "import-linter is part of the dev group"
    env = {**os.environ, "PYTHONPATH": str(workspace / "src")}
    return subprocess.run(
        [exe, "--config", str(workspace / "contracts.toml"), "--no-cache"],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_clean_fake_workspace_passes(tmp_path):
    result = _lint(_fake_workspace(tmp_path, {"iqa_bench": "import iqa_core\n", "iqa_metrics": "import iqa_core\n"}))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "importer, imported, contract",
    [
        ("iqa_core", "iqa_metrics", "core-imports-nothing-of-ours"),
        ("iqa_attacks", "iqa_metrics", "leaves-independent"),
        ("iqa_purify", "iqa_bench", "layers"),
        ("iqa_bench", "iqa_purify", "bench-through-registry"),
    ],
)
def test_each_violation_breaks_its_contract(tmp_path, importer, imported, contract):
    names = {
        c["id"]: c["name"]
        for c in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    }
    result = _lint(_fake_workspace(tmp_path, {importer: f"import {imported}\n"}))
    assert result.returncode != 0
    report = " ".join(result.stdout.split())
    assert f"{names[contract]} BROKEN" in report, result.stdout
