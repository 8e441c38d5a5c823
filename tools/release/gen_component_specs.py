"""Write each package's ``components.json``: its components' presets, default preset and summary.

    python tools/release/gen_component_specs.py [PACKAGE ...] [--check]

``iqa_core.registry.spec`` reads these files so that listing components (``iqa-bench list
--presets``) imports no plugin and no torch. The content is computed by
``iqa_core.registry.spec_document`` from the classes of the environment it runs in (every
package installed, editable); each package's tests assert the shipped file equals it, so it
cannot drift. Packages without registry entry points get no file. ``--check`` writes nothing and
exits 1 when a file differs from what would be generated.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from workspace import ROOT, members


def render(distribution: str) -> str:
    from iqa_core.registry import spec_document

    return json.dumps(spec_document(distribution), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", nargs="*", metavar="PACKAGE", help="workspace packages (default: all)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file is out of date")
    args = parser.parse_args(argv)
    table = members(ROOT)
    chosen = [table[name] for name in args.packages] if args.packages else list(table.values())
    stale = []
    for member in chosen:
        if not any(group.startswith("iqa.") for group in member.entry_points):
            continue
        target: Path = member.path / "src" / member.module / "components.json"
        text = render(member.name)
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current == text:
            continue
        if args.check:
            stale.append(str(target.relative_to(ROOT)))
        else:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(ROOT)}")
    if stale:
        print("out of date (run tools/release/gen_component_specs.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
