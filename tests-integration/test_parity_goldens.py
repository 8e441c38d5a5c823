"""The parity goldens: each names its reference (repo, 40-hex commit) and generator, all stay small,
and docs/parity.md lists every one of them with its reference."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDENS = sorted(ROOT.glob("packages/*/tests/goldens/*.json"))
DOC = (ROOT / "docs" / "parity.md").read_text()


def test_there_are_goldens_for_every_package_with_reference_code():
    packages = {path.parts[-4] for path in GOLDENS}
    assert {"iqa-metrics", "iqa-attacks", "iqa-purify", "iqa-certify", "iqa-train", "iqa-bench"} <= packages


def test_each_golden_names_its_reference_and_generator():
    for path in GOLDENS:
        data = json.loads(path.read_text())
        reference = data["reference"]
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", reference["repo"]), path
        assert re.fullmatch(r"[0-9a-f]{40}", reference["commit"]), path
        assert (ROOT / data["generator"]).is_file(), f"{path}: generator {data['generator']} is missing"
        assert data["cases"], f"{path}: no cases"


def test_goldens_stay_small():
    total = sum(path.stat().st_size for path in GOLDENS)
    assert total < 5 * 1024 * 1024, f"goldens take {total / 2**20:.2f} MiB (limit 5 MiB)"


def test_docs_list_every_golden_with_its_reference():
    for path in GOLDENS:
        data = json.loads(path.read_text())
        origin = f"{data['reference']['repo']}@{data['reference']['commit'][:12]}"
        assert origin in DOC, f"docs/parity.md does not cite {origin} ({path.name})"
        assert path.name in DOC, f"docs/parity.md does not list the golden {path.name}"
