"""docs/performance.md is rendered from the measured figures it cites and is up to date with them."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _sections():
    path = ROOT / "tools" / "benchmarks" / "perf_sections.py"
    spec = importlib.util.spec_from_file_location("perf_sections", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["perf_sections"] = module
    spec.loader.exec_module(module)
    return module


def test_the_committed_page_is_the_rendering_of_the_committed_figures(tmp_path):
    """Re-render from docs/*.json into a scratch folder: the page must be byte-identical (run
    `python tools/benchmarks/perf.py --render-only` after writing new figures)."""
    for path in [DOCS / "performance.json", *DOCS.glob("perf-*.json")]:
        shutil.copy(path, tmp_path / path.name)
    sys.path.insert(0, str(ROOT / "tools" / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location("perf_page", ROOT / "tools" / "benchmarks" / "perf.py")
        assert spec and spec.loader
        perf = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(perf)
        perf.write(json.loads((tmp_path / "performance.json").read_text()), tmp_path)
    finally:
        sys.path.remove(str(ROOT / "tools" / "benchmarks"))
    assert (tmp_path / "performance.md").read_text() == (DOCS / "performance.md").read_text(), (
        "docs/performance.md is stale: run `python tools/benchmarks/perf.py --render-only`"
    )


def test_cli_timings_and_the_cost_model_are_on_the_page():
    page = (DOCS / "performance.md").read_text()
    cli = json.loads((DOCS / "perf-cli.json").read_text())
    for row in cli["commands"]:
        assert f"| `{row['command']}` | {row['best_s']:.2f} |" in page
    model = json.loads((DOCS / "perf-cost-model.json").read_text())
    assert f"{100 * model['relative_error']:+.1f} % (tolerance 20 %)" in page


def test_an_absent_figure_names_the_command_that_measures_it(tmp_path):
    lines = _sections().render_sections(tmp_path)
    text = "\n".join(lines)
    assert "`perf-precision.json`: not measured yet; run `python tools/perf/precision.py`." in text
    assert text.count("not measured yet") == len(_sections().SECTIONS)
