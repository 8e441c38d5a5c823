"""docs/plugins.md shows the worked plugin's files inline (readable on GitHub); they must be the files.

The plugin package itself is built, installed and checked by test_plugin_example.py; its code
blocks on the page also run in test_docs_code_blocks.py.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"
SHOWN = re.compile(r"^`(?P<path>tests-integration/plugin_example/[^`]+)`:\n\n```\w+\n(?P<code>.*?)```", re.S | re.M)


def test_the_guide_shows_every_file_of_the_example_plugin_as_it_is():
    text = GUIDE.read_text(encoding="utf-8")
    shown = {m["path"]: m["code"] for m in SHOWN.finditer(text)}
    expected = {
        "tests-integration/plugin_example/pyproject.toml",
        "tests-integration/plugin_example/src/iqa_plugin_example/metric.py",
        "tests-integration/plugin_example/src/iqa_plugin_example/attack.py",
        "tests-integration/plugin_example/src/iqa_plugin_example/defence.py",
    }
    assert set(shown) == expected
    for path, code in shown.items():
        assert code == (ROOT / path).read_text(encoding="utf-8").rstrip("\n") + "\n", (
            f"docs/plugins.md shows an outdated copy of {path}: paste the file into its block again"
        )


def test_the_guide_needs_no_build_step_to_read():
    text = GUIDE.read_text(encoding="utf-8")
    assert not re.search(r"<!--\s*(include|api|components|performance)\b", text), (
        "docs/plugins.md must read as plain Markdown (on GitHub too): no mkdocs hook directives"
    )
    for section in ("## Weights", "## Bounds", "### Check the direction of a metric"):
        assert section in text
