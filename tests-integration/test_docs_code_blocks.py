"""Every Python code block of README.md, docs/ and the package READMEs runs (doctest-style), so none can rot.

The blocks of one file run in order in one namespace, in a temporary working directory, offline.
A block that cannot run here (it needs real weights, a dataset or a cluster) is preceded by
``<!-- not-run: reason -->``; it must still compile, and the reason is shown in the docs source.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(
    [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("docs/packages/*.md"), *ROOT.glob("packages/*/README.md")]
)
BLOCK = re.compile(r"(?P<marker><!-- not-run: (?P<reason>[^>]*?) -->\s*\n)?```python\n(?P<code>.*?)```", re.S)


def _blocks(path: Path) -> list[tuple[str, str | None]]:
    return [(m["code"], m["reason"]) for m in BLOCK.finditer(path.read_text(encoding="utf-8"))]


def _setup(path: Path) -> None:
    """What a block's reader has done before: the plugin guide's example plugin is installed."""
    if path.name == "plugins.md":
        from iqa_core import registry

        sys.path.insert(0, str(ROOT / "tests-integration" / "plugin_example" / "src"))
        from iqa_plugin_example.attack import RFGSM
        from iqa_plugin_example.defence import BoxBlur
        from iqa_plugin_example.metric import Sharpness

        registry.register("metric", "example-sharpness", Sharpness, replace=True)
        registry.register("attack", "example-rfgsm", RFGSM, replace=True)
        registry.register("defence", "example-box-blur", BoxBlur, replace=True)


def test_the_docs_have_python_blocks():
    assert sum(len(_blocks(p)) for p in FILES) >= 8


@pytest.mark.parametrize("path", [p for p in FILES if _blocks(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run(path, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("IQA_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("IQA_HOME", str(tmp_path / "iqa-home"))  # weight and bounds caches the blocks may fill
    monkeypatch.chdir(tmp_path)
    _setup(path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for index, (code, reason) in enumerate(_blocks(path)):
        compiled = compile(code, f"{path.relative_to(ROOT)} block {index + 1}", "exec")
        if reason is not None:
            assert reason.strip(), f"{path}: a not-run block must say why"
            continue
        exec(compiled, namespace)
    os.chdir(ROOT)
