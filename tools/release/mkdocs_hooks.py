"""mkdocs hooks (``hooks:`` in mkdocs.yml): pages that stay in step with the code.

Directives, each alone on a line of a docs page:

* ``<!-- include: packages/iqa-purify/README.md -->`` — a Markdown file's text, its first ``# ``
  heading dropped (the page keeps its own title); any
  other file (``.py``, ``.toml``, ``.yaml``) verbatim in a fenced code block;
* ``<!-- api: iqa_purify -->`` — a table of the module's public names (``__all__``) with the first
  line of each docstring;
* ``<!-- components: iqa-purify -->`` — the registry entries that distribution provides, with
  presets (the rows of docs/components.md for that package);
* ``<!-- performance -->`` — the figures of docs/performance.md when ``nox -s perf`` has written
  it, or a sentence saying they have not been measured in this checkout.

Runs in the docs environment, where every package is installed (``nox -s docs``); nothing here
touches the network.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

DIRECTIVE = re.compile(r"^<!--\s*(?P<kind>include|api|components|performance)\s*:?\s*(?P<arg>[^\s>]*)\s*-->\s*$", re.M)


def _include(arg: str) -> str:
    path = (ROOT / arg).resolve()
    if ROOT not in path.parents or not path.is_file():
        raise FileNotFoundError(f"docs include {arg!r}: no such file under {ROOT}")
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".md":
        language = {".py": "python", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml"}.get(path.suffix, "text")
        return f"`{arg}`:\n\n```{language}\n{text.rstrip()}\n```"
    lines = text.splitlines()
    out, dropped, fenced = [], False, False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and not dropped and line.startswith("# "):
            dropped = True
            continue
        out.append(line)
    return "\n".join(out).strip("\n")


def _first_line(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _api(arg: str) -> str:
    module = importlib.import_module(arg)
    names = [n for n in getattr(module, "__all__", []) if not n.startswith("_")]
    rows = ["| name | what |", "|---|---|"]
    for name in names:
        obj = getattr(module, name)
        kind = "module" if inspect.ismodule(obj) else "class" if inspect.isclass(obj) else ""
        kind = kind or ("function" if callable(obj) else type(obj).__name__)
        summary = _first_line(obj).replace("|", "\\|")
        rows.append(f"| `{arg}.{name}` ({kind}) | {summary} |")
    return "\n".join(rows)


def _components(arg: str) -> str:
    if str(HERE) not in sys.path:  # mkdocs loads hooks by path: make the sibling tools importable
        sys.path.insert(0, str(HERE))
    from gen_component_docs import TITLES, _cell, _presets

    from iqa_core import registry

    parts = []
    for kind in registry.KINDS:
        rows = []
        for name in registry.available(kind):
            info = registry.describe(kind, name)
            if info.source.split("==")[0] != arg:
                continue
            presets = _cell(_presets(info.presets, info.default_preset))
            rows.append(f"| `{info.name}` | `{info.target}` | {_cell(info.summary)} | {presets} |")
        if rows:
            header = ["| name | class | summary | presets (default in bold) |", "|---|---|---|---|"]
            parts.append("\n".join([f"**{TITLES[kind]}**: {len(rows)}", "", *header, *rows]))
    return "\n\n".join(parts) if parts else f"{arg} registers no components in this version."


def _performance(config: Any) -> str:
    path = Path(config["docs_dir"]) / "performance.md"
    if not path.is_file():
        return (
            "No figures have been recorded in this checkout yet: `uv run --locked nox -s perf` measures them "
            "and writes `docs/performance.md` and `docs/performance.json`."
        )
    text = _include(str(path.relative_to(ROOT)))
    return "The figures below are [docs/performance.md](performance.md), as last written by `nox -s perf`.\n\n" + text


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    def expand(match: re.Match[str]) -> str:
        kind, arg = match["kind"], match["arg"]
        if kind == "include":
            return _include(arg)
        if kind == "api":
            return _api(arg)
        if kind == "components":
            return _components(arg)
        return _performance(config)

    return DIRECTIVE.sub(expand, markdown)
