"""Command lines start without torch: ``--help`` of every console script and ``iqa-bench list [--presets]``
import neither torch nor any plugin module; every package imports without torch and still exposes
every public name; every option of every command line has help text; hints name only commands
of the package that prints them (or say what to install).

Behavioural checks (``sys.modules`` of a fresh interpreter), not timings: ``nox -s perf`` times
the same commands (``tools/benchmarks/cli_startup.py`` -> ``docs/perf-cli.json``).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECTS = sorted((ROOT / "packages").glob("*/pyproject.toml"))
PROJECTS = {p.parent.name: tomllib.loads(p.read_text())["project"] for p in PYPROJECTS}
SCRIPTS = {name: target for project in PROJECTS.values() for name, target in project.get("scripts", {}).items()}
PACKAGES = sorted(name.replace("-", "_") for name in PROJECTS)
PLUGIN_PACKAGES = ("iqa_metrics", "iqa_attacks", "iqa_purify", "iqa_certify", "iqa_train")

PROBE = """
import json, sys, importlib
module = importlib.import_module(sys.argv[1])
try:
    module.main(sys.argv[2:])
except SystemExit:
    pass
loaded = sorted(sys.modules)
print(json.dumps({
    "torch": [m for m in loaded if m == "torch" or m.startswith("torch.")][:5],
    "plugins": [m for m in loaded if m.split(".")[0] in PLUGINS],
}))
""".replace("PLUGINS", repr(PLUGIN_PACKAGES))


def _probe(module: str, *args: str) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, module, *args], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_package_has_its_console_scripts_here() -> None:
    assert {"iqa-bench", "iqa-metrics", "iqa-attacks", "iqa-purify", "iqa-certify", "iqa-train"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_help_imports_no_torch(script: str) -> None:
    module = SCRIPTS[script].split(":")[0]
    loaded = _probe(module, "--help")
    assert loaded["torch"] == [], f"`{script} --help` imported torch"


@pytest.mark.parametrize("args", [("list",), ("list", "--presets"), ("list", "attack", "--presets")])
def test_bench_list_imports_no_torch_and_no_plugin(args: tuple[str, ...]) -> None:
    loaded = _probe("iqa_bench.cli", *args)
    assert loaded["torch"] == [], f"`iqa-bench {' '.join(args)}` imported torch"
    assert loaded["plugins"] == [], f"`iqa-bench {' '.join(args)}` imported plugin modules"


def test_bench_list_presets_shows_the_shipped_presets() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "iqa_bench.cli", "list", "attack", "--presets"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.strip().startswith("ifgsm "))
    from iqa_attacks.ifgsm import IFGSM

    shown = line.split("presets:")[1].strip().split(", ")
    assert shown == [f"{p}*" if p == IFGSM.default_preset else p for p in IFGSM.presets]


@pytest.mark.parametrize("package", PACKAGES)
def test_package_import_is_torch_free_and_every_public_name_resolves(package: str) -> None:
    code = f"""
import sys, {package} as pkg
assert "torch" not in sys.modules, "import {package} imported torch"
names = getattr(pkg, "__all__", [])
missing = [n for n in names if not hasattr(pkg, n)]
assert not missing, missing
namespace = {{}}
exec("from {package} import *", namespace)
assert set(names) <= set(namespace), set(names) - set(namespace)
assert set(names) <= set(dir(pkg))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def test_a_lazy_function_is_not_replaced_by_its_submodule() -> None:
    code = """
import importlib, types, iqa_core, iqa_attacks
importlib.import_module("iqa_core.defended")
importlib.import_module("iqa_attacks.calibrate")
assert not isinstance(iqa_core.defended, types.ModuleType)
assert not isinstance(iqa_attacks.calibrate, types.ModuleType)
from iqa_core import defended
assert callable(defended) and defended.__module__ == "iqa_core.defended"
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def _walk(parser: argparse.ArgumentParser, path: str) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            helped = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if not (helped.get(name) or "").strip():
                    missing.append(f"{path} {name} (sub-command)")
                missing += _walk(sub, f"{path} {name}")
            continue
        if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_every_option_has_help_text(script: str) -> None:
    module = importlib.import_module(SCRIPTS[script].split(":")[0])
    parser = module.build_parser()
    assert _walk(parser, script) == []


COMMAND = re.compile(r"`(iqa-[a-z]+)\b")


def _messages(call: ast.Call) -> str:
    """The text of a call's string arguments (one message built from several parts)."""
    parts = []
    for node in ast.walk(call):
        if isinstance(node, ast.JoinedStr):
            parts.append("".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            parts.append(node.value)
    return "".join(parts)


@pytest.mark.parametrize("folder", sorted(PROJECTS))
def test_hints_name_only_the_package_own_commands(folder: str) -> None:
    """A message of package P that tells the user to run `iqa-X ...` of another package X also says
    how to install X (`pip install iqa-X`): X may not be installed beside P."""
    own = set(PROJECTS[folder].get("scripts", {}))
    bad = []
    for path in sorted((ROOT / "packages" / folder / "src").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            text = _messages(node)
            for command in set(COMMAND.findall(text)) - own:
                if f"pip install {command}" not in text and f"pip install '{command}" not in text:
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: `{command}` in {text[:120]!r}")
    assert sorted(set(bad)) == []
